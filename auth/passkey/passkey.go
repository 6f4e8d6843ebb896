// Package passkey signs users in with passkeys (WebAuthn discoverable
// credentials, through github.com/go-webauthn/webauthn): a second way into
// the same account as the password of auth/token/, ending in the same
// session and JWT pair (or cookie session).
//
// [Mount] adds four endpoints under the app's prefix, every one POST with
// a JSON body (Content-Type: application/json) and answering JSON, errors
// in the protocol's envelope:
//
//	auth/passkey/register/begin/   {} → {"ceremony", "publicKey"}          a signed-in caller only
//	auth/passkey/register/finish/  {"ceremony", "credential"} → {"id"}     the same caller
//	auth/passkey/login/begin/      {} → {"ceremony", "publicKey"}          anyone
//	auth/passkey/login/finish/     {"ceremony", "credential"} → {"access", "refresh"}
//	                               (or, with Options.CookieSession, the session cookie and {"ok": true})
//
// "publicKey" is the PublicKeyCredentialCreationOptions (register) or
// PublicKeyCredentialRequestOptions (login) in their JSON form (binary
// members in base64url), for navigator.credentials.create or get;
// "credential" is the PublicKeyCredential the browser answered, in its
// JSON form (PublicKeyCredential.toJSON()). "ceremony" is an opaque token
// that carries the ceremony's state from begin to finish, sealed with a
// key derived from the JWT key, so any server process of the app can
// finish a ceremony another began; it expires after
// [Options.CeremonyTTL] (5 minutes by default) and is finished at most
// once ([Store.Spend]).
//
// The sign-in is discoverable: login/begin names no user, and the
// authenticator answers with the user handle the passkey was created
// with; the endpoint finds the passkey by its credential id, checks the
// handle, the signature, the origin and the RP ID, the sign counter, and
// signs in the app user the passkey belongs to, with the rights
// [Options.Lookup] gives. Failed finishes are rate limited as sign-ins are
// (auth.Service.Throttle, scope "passkey"). See docs/auth.md, "Passkeys".
package passkey

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/auth"
	mzprotocol "github.com/mizan-afi/mizan/protocol"
)

// Defaults of [Options].
const (
	// DefaultCeremonyTTL is how long a begun ceremony may be finished.
	DefaultCeremonyTTL = 5 * time.Minute
	// MaxBodyBytes bounds the request bodies of the endpoints.
	MaxBodyBytes = 64 << 10
)

// Scope is the auth.Attempt scope of the passkey endpoints' rate limits.
const Scope = "passkey"

// Options configures [Mount].
type Options struct {
	// RPID is the relying party id: the domain the passkeys belong to
	// ("example.com", "localhost"; never an IP address), the host of every
	// origin or a parent domain of it. Required.
	RPID string
	// RPDisplayName is the name the browser shows for the app. Default:
	// RPID.
	RPDisplayName string
	// RPOrigins are the origins ("https://app.example.com") the browser
	// may run the ceremonies at. Required unless Origin is set.
	RPOrigins []string
	// Origin, when set, gives the origin of each begin request instead of
	// RPOrigins (a development server on any port of localhost): the
	// ceremony is bound to it, and its host must be RPID or under it. It
	// must not trust what an attacker could choose where RPID is a real
	// domain.
	Origin func(r *http.Request) (string, error)
	// Store keeps the passkeys and the finished ceremonies, shared by every
	// server process ([NewMemoryStore] for one process). Required.
	Store Store
	// Lookup returns the app user userID (the same auth.User its password
	// sign-in gives, with its rights) when their passkey signs in; a nil
	// user refuses the sign-in (a deleted or disabled account). Required.
	Lookup func(ctx context.Context, userID string) (*auth.User, error)
	// Names returns the name (an account name such as "ada") and the
	// display name ("Ada Lovelace") the authenticator shows for the user
	// userID's new passkey. Nil means the user id for both.
	Names func(ctx context.Context, userID string) (name, displayName string, err error)
	// UserHandle returns the WebAuthn user handle (1 to 64 opaque bytes)
	// of a user's first passkey; later passkeys reuse the handle of the
	// user's existing ones. Nil means HMAC-SHA256 of the user id under a
	// key derived from the JWT key: stable, and revealing nothing of the
	// user id.
	UserHandle func(ctx context.Context, userID string) ([]byte, error)
	// CookieSession makes login/finish sign in with a cookie session
	// (auth.Service.StartCookieSession) and answer {"ok": true} instead
	// of a JWT pair.
	CookieSession bool
	// UserVerification is what the ceremonies ask of the authenticator.
	// Default protocol.VerificationRequired: a passkey replaces a
	// password, so the authenticator must check its user (PIN,
	// biometrics), not only their presence.
	UserVerification protocol.UserVerificationRequirement
	// CeremonyTTL is how long a begun ceremony may be finished. Zero means
	// [DefaultCeremonyTTL].
	CeremonyTTL time.Duration
	// Logger logs why a ceremony was refused, at debug level (the caller
	// gets a short message only). Nil means slog.Default().
	Logger *slog.Logger
	// Now returns the current time. Nil means time.Now. For tests.
	Now func() time.Time
}

// Mount adds the passkey endpoints (auth/passkey/...) to app, which must
// have sign-in on (mizan.Config.Auth). Call it before app.Build.
func Mount(app *mizan.App, o Options) error {
	h, err := newHandler(app, o)
	if err != nil {
		return err
	}
	if err := app.HandleAuth("passkey", h); err != nil {
		return fmt.Errorf("passkey: %w", err)
	}
	return nil
}

// handler serves the endpoints.
type handler struct {
	app    *mizan.App
	o      Options
	prefix string // the path of auth/passkey/
	cop    *http.CrossOriginProtection
	fixed  *webauthn.WebAuthn // for Options.RPOrigins; nil with Options.Origin

	mu     sync.Mutex
	svc    *auth.Service
	sealer *sealer
	handle []byte // the key of the default user handles
}

// newHandler checks o and returns the handler of app.
func newHandler(app *mizan.App, o Options) (*handler, error) {
	switch {
	case app == nil:
		return nil, errors.New("passkey: nil app")
	case o.RPID == "":
		return nil, errors.New("passkey: Options.RPID is required")
	case o.Store == nil:
		return nil, errors.New("passkey: Options.Store is required")
	case o.Lookup == nil:
		return nil, errors.New("passkey: Options.Lookup is required")
	case len(o.RPOrigins) == 0 && o.Origin == nil:
		return nil, errors.New("passkey: Options.RPOrigins (or Options.Origin) is required")
	case o.CeremonyTTL < 0:
		return nil, errors.New("passkey: Options.CeremonyTTL must not be negative")
	}
	if o.RPDisplayName == "" {
		o.RPDisplayName = o.RPID
	}
	if o.UserVerification == "" {
		o.UserVerification = protocol.VerificationRequired
	}
	if o.CeremonyTTL == 0 {
		o.CeremonyTTL = DefaultCeremonyTTL
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	cfg := app.Config()
	h := &handler{app: app, o: o, prefix: cfg.Prefix + "auth/passkey/", cop: http.NewCrossOriginProtection()}
	for _, origin := range cfg.TrustedOrigins {
		if err := h.cop.AddTrustedOrigin(origin); err != nil {
			return nil, fmt.Errorf("passkey: trusted origin %q: %w", origin, err)
		}
	}
	for _, origin := range o.RPOrigins {
		if err := h.checkOrigin(origin); err != nil {
			return nil, fmt.Errorf("passkey: Options.RPOrigins: %w", err)
		}
	}
	if len(o.RPOrigins) > 0 && o.Origin == nil {
		var err error
		if h.fixed, err = h.webAuthn(o.RPOrigins); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// checkOrigin refuses an origin whose host is not the RP ID or under it
// (the browser would refuse every ceremony there).
func (h *handler) checkOrigin(origin string) error {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return fmt.Errorf("%q is not an origin such as https://app.example.com", origin)
	}
	host := strings.ToLower(u.Hostname())
	rp := strings.ToLower(h.o.RPID)
	if host != rp && !strings.HasSuffix(host, "."+rp) {
		return fmt.Errorf("the host of %q is neither the RP ID %q nor under it", origin, h.o.RPID)
	}
	return nil
}

// webAuthn returns go-webauthn's relying party for origins.
func (h *handler) webAuthn(origins []string) (*webauthn.WebAuthn, error) {
	ttl := h.o.CeremonyTTL
	required := true
	wa, err := webauthn.New(&webauthn.Config{
		RPID:          h.o.RPID,
		RPDisplayName: h.o.RPDisplayName,
		RPOrigins:     origins,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			RequireResidentKey: &required,
			UserVerification:   h.o.UserVerification,
		},
		AttestationPreference: protocol.PreferNoAttestation,
		// The browser's timeouts; the token's expiry is the server's.
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: ttl, TimeoutUVD: ttl},
			Registration: webauthn.TimeoutConfig{Timeout: ttl, TimeoutUVD: ttl},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("passkey: %w", err)
	}
	return wa, nil
}

// service returns the app's auth service and the ceremony sealer, made
// on the first request (the app is built by then).
func (h *handler) service() (*auth.Service, *sealer, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.svc != nil {
		return h.svc, h.sealer, nil
	}
	svc := h.app.Auth()
	if svc == nil {
		return nil, nil, errors.New("passkey: the app has no sign-in service (mizan.Config.Auth)")
	}
	s, err := newSealer(svc.DeriveKey("passkey-ceremony"))
	if err != nil {
		return nil, nil, err
	}
	h.svc, h.sealer, h.handle = svc, s, svc.DeriveKey("passkey-user-handle")
	return svc, s, nil
}

// ServeHTTP serves the endpoints under auth/passkey/.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var serve func(http.ResponseWriter, *http.Request, *auth.Service, *sealer, []byte)
	switch strings.TrimPrefix(r.URL.Path, h.prefix) {
	case "register/begin/":
		serve = h.registerBegin
	case "register/finish/":
		serve = h.registerFinish
	case "login/begin/":
		serve = h.loginBegin
	case "login/finish/":
		serve = h.loginFinish
	default:
		h.app.WriteError(w, r, mizan.NewError(mizan.CodeNotFound, "no such passkey endpoint: use register/begin/, register/finish/, login/begin/ or login/finish/ under auth/passkey/"))
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.app.WriteError(w, r, mizan.NewError(mizan.CodeMethodNotAllowed, "method "+r.Method+" is not allowed here; use POST"))
		return
	}
	if err := h.cop.Check(r); err != nil {
		h.app.WriteError(w, r, mizan.NewError(mizan.CodeForbidden, "cross-origin request refused"))
		return
	}
	if !isJSON(r.Header.Get("Content-Type")) {
		h.app.WriteError(w, r, mizan.NewError(mizan.CodeBadRequest, "this endpoint accepts only Content-Type: application/json"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.app.WriteError(w, r, mizan.NewError(mizan.CodePayloadTooLarge, fmt.Sprintf("the body is larger than %d bytes", MaxBodyBytes)))
			return
		}
		h.app.WriteError(w, r, mizan.NewError(mizan.CodeBadRequest, "could not read the request body").WithCause(err))
		return
	}
	svc, s, err := h.service()
	if err != nil {
		h.app.WriteError(w, r, err)
		return
	}
	serve(w, r, svc, s, body)
}

// isJSON reports whether a Content-Type declares JSON.
func isJSON(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "application/json")
}

// beginBody checks the body of a begin request: none, or the empty JSON
// object.
func beginBody(body []byte) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	var in struct{}
	if err := mzprotocol.UnmarshalStrict(body, &in); err != nil {
		return mizan.NewError(mizan.CodeBadRequest, "the body of a begin request is the empty JSON object {} (or none)").WithCause(err)
	}
	return nil
}

// finishRequest is the body of a finish request.
type finishRequest struct {
	Ceremony   string          `json:"ceremony"`
	Credential json.RawMessage `json:"credential"`
}

// finishBody decodes the body of a finish request, strictly as the
// protocol's bodies are (exact member names, none unknown or repeated, no
// trailing data).
func finishBody(body []byte) (*finishRequest, error) {
	var in finishRequest
	if err := mzprotocol.UnmarshalStrict(body, &in); err != nil {
		return nil, mizan.NewError(mizan.CodeBadRequest, `the body must be the JSON object {"ceremony": "...", "credential": {...}}`).WithCause(err)
	}
	fields := map[string]string{}
	if in.Ceremony == "" {
		fields["ceremony"] = "required"
	}
	if len(in.Credential) == 0 || bytes.Equal(in.Credential, []byte("null")) {
		fields["credential"] = "required"
	}
	if len(fields) > 0 {
		return nil, mizan.NewError(mizan.CodeInvalidArgs, "missing members").WithFields(fields)
	}
	return &in, nil
}

// beginResponse is the answer of a begin request.
type beginResponse struct {
	Ceremony  string `json:"ceremony"`
	PublicKey any    `json:"publicKey"`
}

// writeJSON answers 200 with v.
func (h *handler) writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		h.app.WriteError(w, r, fmt.Errorf("passkey: encoding the response: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// refuse answers a refused finish, logging why at debug level. The
// attempt reserved for it stays a failure (see reserve).
func (h *handler) refuse(w http.ResponseWriter, r *http.Request, err error) {
	var me *mizan.Error
	if errors.As(err, &me) && me.Status() >= 400 && me.Status() < 500 {
		h.o.Logger.DebugContext(r.Context(), "passkey: ceremony refused", "path", r.URL.Path, "code", me.Code(), "reason", reason(me.Unwrap()))
	}
	h.app.WriteError(w, r, err)
}

// statusWriter records the status of an answer.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// reserve reserves attempt (Throttle) before a finish, answering the 429
// itself when it is refused (ok false). It returns w wrapped: when the
// finish answers a 4xx (the caller's credential, ceremony or body was
// refused), the reservation stays a failure; a success, or a failure of
// the server (a store that is down is no attempt of the caller's), gives it
// back. Call done when the answer is written.
func (h *handler) reserve(w http.ResponseWriter, r *http.Request, svc *auth.Service, attempt auth.Attempt) (_ http.ResponseWriter, done func(), ok bool) {
	if err := svc.Throttle(r.Context(), attempt); err != nil {
		h.app.WriteError(w, r, err)
		return w, nil, false
	}
	sw := &statusWriter{ResponseWriter: w}
	return sw, func() {
		if sw.status < 400 || sw.status >= 500 {
			svc.Succeeded(r.Context(), attempt)
		}
	}, true
}

// reason is the text of why go-webauthn refused, bounded (it may quote
// what the client sent).
func reason(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.DevInfo != "" {
		s += ": " + pe.DevInfo
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// caller returns the signed-in caller of a registration: by an access
// token, or by the session cookie with the CSRF header repeating the CSRF
// cookie (as call/ checks it), so that no other site can add a passkey
// to a signed-in browser's account.
func (h *handler) caller(r *http.Request, svc *auth.Service) (*auth.Principal, error) {
	p, err := svc.Authenticate(r)
	if err != nil {
		return nil, err // an auth error: WriteError answers 401 (or 503)
	}
	if p == nil {
		return nil, mizan.NewError(mizan.CodeUnauthorized, "sign in first: adding a passkey needs Authorization: Bearer <access token>")
	}
	if err := h.app.CheckCSRF(r, &mizan.Identity{ID: p.ID, Bearer: p.Bearer}); err != nil {
		return nil, err
	}
	return p, nil
}

// relyingParty returns go-webauthn's relying party for a begin request,
// and the origin the ceremony is bound to ("" with Options.RPOrigins).
func (h *handler) relyingParty(r *http.Request) (*webauthn.WebAuthn, string, error) {
	if h.fixed != nil {
		return h.fixed, "", nil
	}
	origin, err := h.o.Origin(r)
	if err != nil {
		return nil, "", fmt.Errorf("passkey: the origin of the request: %w", err)
	}
	if err := h.checkOrigin(origin); err != nil {
		return nil, "", mizan.NewError(mizan.CodeBadRequest, "passkeys are not available at this address").WithCause(err)
	}
	wa, err := h.webAuthn([]string{origin})
	if err != nil {
		return nil, "", err
	}
	return wa, origin, nil
}

// finishParty returns go-webauthn's relying party for the finish of a
// ceremony begun at session.Origin.
func (h *handler) finishParty(session *webauthn.SessionData) (*webauthn.WebAuthn, error) {
	if h.fixed != nil {
		return h.fixed, nil
	}
	if session.Origin == "" {
		return nil, errors.New("passkey: a ceremony without its origin")
	}
	return h.webAuthn([]string{session.Origin})
}

// openCeremony opens the ceremony token of a finish request and spends
// it.
func (h *handler) openCeremony(ctx context.Context, s *sealer, kind, token string) (*ceremony, error) {
	c, err := s.open(kind, token, h.o.Now())
	switch {
	case errors.Is(err, errExpiredCeremony):
		return nil, mizan.NewError(mizan.CodeBadRequest, "the ceremony has expired: begin again").WithCause(err)
	case err != nil:
		return nil, mizan.NewError(mizan.CodeBadRequest, "invalid ceremony token: begin again").WithCause(err)
	}
	switch err := h.o.Store.Spend(ctx, c.Session.Challenge, time.Unix(c.Expires, 0)); {
	case errors.Is(err, ErrSpent):
		return nil, mizan.NewError(mizan.CodeBadRequest, "this ceremony was already used: begin again").WithCause(err)
	case err != nil:
		return nil, fmt.Errorf("passkey: spending the ceremony: %w", err)
	}
	return c, nil
}

// userHandle returns the user handle of userID's new passkey: the one of
// their passkeys, or a new one.
func (h *handler) userHandle(ctx context.Context, userID string, existing []Credential) ([]byte, error) {
	for _, c := range existing {
		if len(c.UserHandle) > 0 {
			return c.UserHandle, nil
		}
	}
	if h.o.UserHandle != nil {
		id, err := h.o.UserHandle(ctx, userID)
		if err != nil {
			return nil, fmt.Errorf("passkey: the user handle of user %q: %w", userID, err)
		}
		if len(id) == 0 || len(id) > 64 {
			return nil, fmt.Errorf("passkey: the user handle of user %q has %d bytes; 1 to 64 are allowed", userID, len(id))
		}
		return id, nil
	}
	m := hmac.New(sha256.New, h.handle)
	m.Write([]byte(userID))
	return m.Sum(nil), nil
}

// registerBegin serves register/begin/.
func (h *handler) registerBegin(w http.ResponseWriter, r *http.Request, svc *auth.Service, s *sealer, body []byte) {
	p, err := h.caller(r, svc)
	if err != nil {
		h.app.WriteError(w, r, err)
		return
	}
	if err := beginBody(body); err != nil {
		h.app.WriteError(w, r, err)
		return
	}
	ctx := r.Context()
	name, display := p.ID, p.ID
	if h.o.Names != nil {
		if name, display, err = h.o.Names(ctx, p.ID); err != nil {
			h.app.WriteError(w, r, fmt.Errorf("passkey: the names of user %q: %w", p.ID, err))
			return
		}
	}
	existing, err := h.o.Store.ByUser(ctx, p.ID)
	if err != nil {
		h.app.WriteError(w, r, fmt.Errorf("passkey: the passkeys of user %q: %w", p.ID, err))
		return
	}
	handle, err := h.userHandle(ctx, p.ID, existing)
	if err != nil {
		h.app.WriteError(w, r, err)
		return
	}
	wa, origin, err := h.relyingParty(r)
	if err != nil {
		h.app.WriteError(w, r, err)
		return
	}
	u := &user{handle: handle, name: name, display: display}
	var records webauthn.Credentials
	for _, c := range existing {
		records = append(records, c.Record)
	}
	// An authenticator that already holds one of the user's passkeys is
	// not asked to make another.
	opts := []webauthn.RegistrationOption{webauthn.WithExclusions(records.CredentialDescriptors())}
	if origin != "" {
		opts = append(opts, webauthn.WithRegistrationOrigin(origin))
	}
	creation, session, err := wa.BeginRegistration(u, opts...)
	if err != nil {
		h.app.WriteError(w, r, fmt.Errorf("passkey: beginning a registration: %w", err))
		return
	}
	token, err := s.seal(kindRegister, ceremony{User: p.ID, Expires: h.o.Now().Add(h.o.CeremonyTTL).Unix(), Session: *session})
	if err != nil {
		h.app.WriteError(w, r, err)
		return
	}
	h.writeJSON(w, r, beginResponse{Ceremony: token, PublicKey: creation.Response})
}

// registerFinish serves register/finish/.
func (h *handler) registerFinish(w http.ResponseWriter, r *http.Request, svc *auth.Service, s *sealer, body []byte) {
	p, err := h.caller(r, svc)
	if err != nil {
		h.app.WriteError(w, r, err)
		return
	}
	ctx := r.Context()
	w, done, ok := h.reserve(w, r, svc, auth.Attempt{Scope: Scope, User: p.ID, Addr: auth.ClientAddress(r)})
	if !ok {
		return
	}
	defer done()
	in, err := finishBody(body)
	if err != nil {
		h.refuse(w, r, err)
		return
	}
	c, err := h.openCeremony(ctx, s, kindRegister, in.Ceremony)
	if err != nil {
		h.refuse(w, r, err)
		return
	}
	if c.User != p.ID {
		h.refuse(w, r, mizan.NewError(mizan.CodeForbidden, "this registration was begun by another user"))
		return
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(in.Credential)
	if err != nil {
		h.refuse(w, r, mizan.NewError(mizan.CodeBadRequest, "the credential is not a PublicKeyCredential of navigator.credentials.create in its JSON form").WithCause(err))
		return
	}
	wa, err := h.finishParty(&c.Session)
	if err != nil {
		h.app.WriteError(w, r, err)
		return
	}
	cred, err := wa.CreateCredential(&user{handle: c.Session.UserID}, c.Session, parsed)
	if err != nil {
		h.refuse(w, r, mizan.NewError(mizan.CodeBadRequest, "passkey registration refused: the credential does not verify").WithCause(err))
		return
	}
	now := h.o.Now()
	switch err := h.o.Store.Add(ctx, Credential{UserID: p.ID, UserHandle: c.Session.UserID, Record: *cred, Created: now}); {
	case errors.Is(err, ErrDuplicate):
		h.refuse(w, r, mizan.NewError(mizan.CodeConflict, "this passkey is already registered").WithCause(err))
		return
	case err != nil:
		h.app.WriteError(w, r, fmt.Errorf("passkey: storing a passkey: %w", err))
		return
	}
	h.writeJSON(w, r, struct {
		ID string `json:"id"`
	}{base64.RawURLEncoding.EncodeToString(cred.ID)})
}

// loginBegin serves login/begin/.
func (h *handler) loginBegin(w http.ResponseWriter, r *http.Request, _ *auth.Service, s *sealer, body []byte) {
	if err := beginBody(body); err != nil {
		h.app.WriteError(w, r, err)
		return
	}
	wa, origin, err := h.relyingParty(r)
	if err != nil {
		h.app.WriteError(w, r, err)
		return
	}
	var opts []webauthn.LoginOption
	if origin != "" {
		opts = append(opts, webauthn.WithLoginOrigin(origin))
	}
	assertion, session, err := wa.BeginDiscoverableLogin(opts...)
	if err != nil {
		h.app.WriteError(w, r, fmt.Errorf("passkey: beginning a sign-in: %w", err))
		return
	}
	token, err := s.seal(kindLogin, ceremony{Expires: h.o.Now().Add(h.o.CeremonyTTL).Unix(), Session: *session})
	if err != nil {
		h.app.WriteError(w, r, err)
		return
	}
	h.writeJSON(w, r, beginResponse{Ceremony: token, PublicKey: assertion.Response})
}

// errRefused is the answer to every assertion that does not verify.
var errRefused = mizan.NewError(mizan.CodeUnauthorized, "passkey sign-in refused")

// loginFinish serves login/finish/.
func (h *handler) loginFinish(w http.ResponseWriter, r *http.Request, svc *auth.Service, s *sealer, body []byte) {
	ctx := r.Context()
	w, done, ok := h.reserve(w, r, svc, auth.Attempt{Scope: Scope, Addr: auth.ClientAddress(r)})
	if !ok {
		return
	}
	defer done()
	in, err := finishBody(body)
	if err != nil {
		h.refuse(w, r, err)
		return
	}
	c, err := h.openCeremony(ctx, s, kindLogin, in.Ceremony)
	if err != nil {
		h.refuse(w, r, err)
		return
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(in.Credential)
	if err != nil {
		h.refuse(w, r, mizan.NewError(mizan.CodeBadRequest, "the credential is not a PublicKeyCredential of navigator.credentials.get in its JSON form").WithCause(err))
		return
	}
	stored, err := h.o.Store.ByID(ctx, parsed.RawID)
	switch {
	case errors.Is(err, ErrNotFound):
		h.refuse(w, r, errRefused.WithCause(fmt.Errorf("unknown passkey: %w", err)))
		return
	case err != nil:
		h.app.WriteError(w, r, fmt.Errorf("passkey: finding a passkey: %w", err))
		return
	}
	if len(parsed.Response.UserHandle) == 0 || !bytes.Equal(parsed.Response.UserHandle, stored.UserHandle) {
		h.refuse(w, r, errRefused.WithCause(errors.New("the user handle is not the passkey's")))
		return
	}
	if stored.Record.Authenticator.CloneWarning {
		h.refuse(w, r, mizan.NewError(mizan.CodeUnauthorized,
			"this passkey is blocked: its sign counter once went backwards, as a cloned authenticator's does; sign in another way and add a new passkey"))
		return
	}
	wa, err := h.finishParty(&c.Session)
	if err != nil {
		h.app.WriteError(w, r, err)
		return
	}
	owner := &user{handle: stored.UserHandle, creds: []webauthn.Credential{stored.Record}}
	_, cred, err := wa.ValidatePasskeyLogin(func(_, _ []byte) (webauthn.User, error) { return owner, nil }, c.Session, parsed)
	if err != nil {
		h.refuse(w, r, errRefused.WithCause(err))
		return
	}
	now := h.o.Now()
	if cred.Authenticator.CloneWarning {
		// The counter did not grow: a copy of the key signed since (or this
		// is a replay). The passkey is blocked from now on.
		stored.Record.Authenticator.CloneWarning = true
		if err := h.o.Store.Update(ctx, *stored); err != nil {
			h.app.WriteError(w, r, fmt.Errorf("passkey: flagging a cloned passkey: %w", err))
			return
		}
		h.o.Logger.WarnContext(ctx, "passkey: sign counter went backwards; passkey blocked", "user", stored.UserID,
			"stored", stored.Record.Authenticator.SignCount, "got", parsed.Response.AuthenticatorData.Counter)
		h.refuse(w, r, mizan.NewError(mizan.CodeUnauthorized,
			"passkey sign-in refused: its sign counter went backwards, as a cloned authenticator's does; the passkey is blocked"))
		return
	}
	u, err := h.o.Lookup(ctx, stored.UserID)
	switch {
	case err != nil:
		h.app.WriteError(w, r, fmt.Errorf("passkey: looking up user %q: %w", stored.UserID, err))
		return
	case u == nil || u.ID == "":
		h.refuse(w, r, mizan.NewError(mizan.CodeUnauthorized, "the account of this passkey cannot sign in"))
		return
	case u.ID != stored.UserID:
		h.app.WriteError(w, r, fmt.Errorf("passkey: Lookup(%q) returned user %q", stored.UserID, u.ID))
		return
	}
	stored.Record, stored.LastUsed = *cred, now
	if err := h.o.Store.Update(ctx, *stored); err != nil {
		h.app.WriteError(w, r, fmt.Errorf("passkey: updating a passkey: %w", err))
		return
	}
	if h.o.CookieSession {
		cookie, err := svc.StartCookieSession(ctx, *u)
		if err != nil {
			h.app.WriteError(w, r, err)
			return
		}
		http.SetCookie(w, cookie)
		h.writeJSON(w, r, struct {
			OK bool `json:"ok"`
		}{true})
		return
	}
	pair, err := svc.Issue(ctx, *u)
	if err != nil {
		h.app.WriteError(w, r, err)
		return
	}
	h.writeJSON(w, r, pair)
}

// user is a user as go-webauthn sees one.
type user struct {
	handle        []byte
	name, display string
	creds         []webauthn.Credential
}

// WebAuthnID returns the user handle.
func (u *user) WebAuthnID() []byte { return u.handle }

// WebAuthnName returns the account name.
func (u *user) WebAuthnName() string { return u.name }

// WebAuthnDisplayName returns the display name.
func (u *user) WebAuthnDisplayName() string { return u.display }

// WebAuthnCredentials returns the passkeys a ceremony may use.
func (u *user) WebAuthnCredentials() []webauthn.Credential { return u.creds }
