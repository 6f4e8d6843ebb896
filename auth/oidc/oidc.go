// Package oidc adds sign-in with identity providers to a Mizan app: any
// OpenID Provider by its issuer URL ([NewOIDC]: Google, Microsoft, Okta,
// Keycloak, a company IdP...) and plain OAuth2 providers through the
// [Provider] interface, with GitHub built in ([NewGitHub]).
//
// [Mount] serves, under the app's prefix (default /api/mizan/):
//
//	GET auth/oidc/                      the providers, for a UI's buttons
//	GET auth/oidc/<provider>/start/     ?return=/path&handoff=RANDOM: redirects to the provider
//	GET auth/oidc/<provider>/callback/  where the provider sends the browser back
//
// The flow is the authorization-code flow with PKCE (S256), a state and a
// nonce, all three kept in a short-lived sealed HttpOnly cookie between the
// start and the callback. The callback verifies the provider's answer (for
// OIDC: the ID token's signature, algorithm, issuer, audience, expiry and
// nonce), hands the [Identity] to the app's hook ([Options.OnSignIn]), and
// signs the user in: in token mode it redirects to the return path with
// "#mizan_refresh=<refresh token>&mizan_handoff=<the start's handoff>",
// which the browser spends at once at auth/refresh/ (createAuth's
// signInWithRefresh) if the handoff is the random value it sent to start/
// and kept (sessionStorage): a link with another site's fragment (a
// refresh token of the attacker's own account, to sign the victim in as
// the attacker: login CSRF) is then refused by the page; in cookie mode it
// sets the session cookie.
package oidc

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/auth"
)

// Identity is a user as an identity provider vouches for them.
type Identity struct {
	// Provider is the name of the provider ([Provider.Name]).
	Provider string
	// Subject is the provider's stable identifier of the user (the ID
	// token's "sub"; GitHub's numeric user id). Unique per provider only.
	Subject string
	// Email is the user's email address, "" when the provider gave none.
	Email string
	// EmailVerified reports whether the provider has verified Email. An
	// unverified address proves nothing: anyone may type any address into
	// an account at some providers.
	EmailVerified bool
	// Name is the user's display name, if any.
	Name string
	// Username is the provider's username (preferred_username; GitHub's
	// login), if any.
	Username string
	// Claims are the ID token's claims (OIDC), or the API's user object
	// (GitHub), for the hooks that need more.
	Claims map[string]any
}

// AuthRequest is what [Provider.AuthCodeURL] puts in the URL the browser
// is sent to.
type AuthRequest struct {
	// State is the opaque value the provider sends back to the callback.
	State string
	// Nonce is the value the ID token must carry (OIDC).
	Nonce string
	// Verifier is the PKCE code verifier; the URL carries its S256
	// challenge.
	Verifier string
	// RedirectURL is the callback URL.
	RedirectURL string
}

// Exchange is what [Provider.Exchange] needs to turn the callback's code
// into an identity.
type Exchange struct {
	// Code is the callback's authorization code.
	Code string
	// Nonce is the nonce the ID token must carry (OIDC).
	Nonce string
	// Verifier is the PKCE code verifier of the sign-in.
	Verifier string
	// RedirectURL is the callback URL, as in the AuthRequest.
	RedirectURL string
}

// Provider is an identity provider. Implementations are safe for
// concurrent use.
type Provider interface {
	// Name is the provider's name in the URLs (auth/oidc/<name>/...): one
	// or more ASCII letters, digits, '_' and '-'.
	Name() string
	// DisplayName is the name shown to users ("Google").
	DisplayName() string
	// AuthCodeURL returns the provider's authorization URL for r.
	AuthCodeURL(ctx context.Context, r AuthRequest) (string, error)
	// Exchange redeems the code and returns the identity it proves,
	// verified. A code, token or answer the provider or the checks refuse
	// is a [*RejectedError]; a provider that cannot be reached, an error
	// wrapping [ErrUnavailable].
	Exchange(ctx context.Context, e Exchange) (Identity, error)
}

// ErrUnavailable: the identity provider cannot be reached (discovery, the
// token endpoint or the API failed). The callback answers 503.
var ErrUnavailable = errors.New("oidc: identity provider unavailable")

// RejectedError is a sign-in refused by the provider or by the checks of
// its answer: a code refused at the token endpoint (spent, expired), an ID
// token whose signature, algorithm, issuer, audience, expiry or nonce does
// not verify. The callback answers 401 with Reason.
type RejectedError struct {
	// Reason is the message for the user: a fixed text, never the
	// provider's or the request's.
	Reason string
	// Err is the cause, never sent to the client; for tests and the
	// app's own logging.
	Err error
}

// Error is the reason, with the cause.
func (e *RejectedError) Error() string {
	if e.Err == nil {
		return "oidc: " + e.Reason
	}
	return "oidc: " + e.Reason + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *RejectedError) Unwrap() error { return e.Err }

// rejected returns a *RejectedError.
func rejected(reason string, err error) error { return &RejectedError{Reason: reason, Err: err} }

// Mode is how the callback signs the user in.
type Mode int

const (
	// TokenMode (the default) issues a JWT pair and redirects to the return
	// path with "#mizan_refresh=<refresh token>" in the fragment, which no
	// server sees; the page spends it at once at auth/refresh/.
	TokenMode Mode = iota
	// CookieMode starts a cookie session (auth.Service.StartCookieSession)
	// and redirects to the return path.
	CookieMode
)

// SignInFunc maps an identity to the app's user: it finds, links or
// creates the account and returns it, or refuses with a nil user (401
// "no account") or an error. A *mizan.Error is answered as it is (use
// mizan.NewError(mizan.CodeUnauthorized, "...") for a refusal with a
// message); any other error is a 500, logged.
type SignInFunc func(ctx context.Context, id Identity) (*auth.User, error)

// Options configures [Mount].
type Options struct {
	// Providers are the identity providers, each under its name; names
	// must differ. None is allowed: GET auth/oidc/ then lists none, so a
	// UI may always ask (a 404 would show as an error in the browser's
	// console) and shows no button.
	Providers []Provider
	// OnSignIn maps an identity to the app's user. Nil means
	// [DefaultSignIn].
	OnSignIn SignInFunc
	// Mode is TokenMode (default) or CookieMode.
	Mode Mode
	// BaseURL is the app's origin as browsers reach it
	// ("https://app.example.com"), for the callback URLs registered with
	// the providers. "" means the origin of each request: its Host, with
	// https when the request came over TLS. Set it behind a reverse proxy.
	BaseURL string
	// StateTTL is how long a sign-in may take between its start and its
	// callback (the state cookie's lifetime). Zero means 10 minutes.
	StateTTL time.Duration
	// SecureCookies marks the state cookie Secure. It is also Secure when
	// BaseURL is https or the request came over TLS.
	SecureCookies bool
	// Now returns the current time. Nil means time.Now. For tests.
	Now func() time.Time
}

// DefaultSignIn is the hook of a nil [Options.OnSignIn]: it refuses an
// identity without a verified email address (401), and else signs in the
// user whose ID is the lower-cased email address, so that one person
// signing in through two providers is one account. It grants no rights
// (Staff, Superuser).
func DefaultSignIn(_ context.Context, id Identity) (*auth.User, error) {
	if id.Email == "" {
		return nil, mizan.NewError(mizan.CodeUnauthorized, "the identity provider gave no email address: sign-in refused")
	}
	if !id.EmailVerified {
		return nil, mizan.NewError(mizan.CodeUnauthorized, "the identity provider has not verified this email address: verify it there, then sign in again")
	}
	return &auth.User{ID: strings.ToLower(id.Email)}, nil
}

// validProviderName matches the names a provider may have.
var validProviderName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// validErrorCode matches the OAuth2 error codes repeated to the user from a
// callback's error parameter.
var validErrorCode = regexp.MustCompile(`^[a-z_]{1,64}$`)

// Mount adds the providers' endpoints to app, under auth/oidc/ (see the
// package documentation). Call it before app.Build; the app must have
// sign-in on (Config.Auth).
func Mount(app *mizan.App, opts Options) error {
	if app == nil {
		return errors.New("oidc: Mount: nil app")
	}
	if opts.Mode != TokenMode && opts.Mode != CookieMode {
		return fmt.Errorf("oidc: Mount: unknown mode %d", opts.Mode)
	}
	if opts.BaseURL != "" {
		u, err := url.Parse(opts.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return fmt.Errorf("oidc: Mount: BaseURL %q must be an origin such as https://app.example.com", opts.BaseURL)
		}
		opts.BaseURL = strings.TrimSuffix(opts.BaseURL, "/")
	}
	h := &handler{app: app, opts: opts, prefix: app.Config().Prefix, providers: map[string]Provider{}}
	for _, p := range opts.Providers {
		if p == nil {
			return errors.New("oidc: Mount: nil provider")
		}
		name := p.Name()
		if !validProviderName.MatchString(name) {
			return fmt.Errorf("oidc: Mount: provider name %q must be 1 to 64 ASCII letters, digits, '_' and '-'", name)
		}
		if _, dup := h.providers[name]; dup {
			return fmt.Errorf("oidc: Mount: two providers named %q", name)
		}
		h.providers[name] = p
		h.order = append(h.order, name)
	}
	if h.opts.OnSignIn == nil {
		h.opts.OnSignIn = DefaultSignIn
	}
	if h.opts.StateTTL <= 0 {
		h.opts.StateTTL = 10 * time.Minute
	}
	if h.opts.Now == nil {
		h.opts.Now = time.Now
	}
	if err := app.HandleAuth("oidc", h); err != nil {
		return fmt.Errorf("oidc: Mount: %w", err)
	}
	return nil
}

// handler serves auth/oidc/.
type handler struct {
	app       *mizan.App
	opts      Options
	prefix    string
	providers map[string]Provider
	order     []string
}

// ServeHTTP routes auth/oidc/, auth/oidc/<provider>/start/ and
// auth/oidc/<provider>/callback/.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		h.app.WriteError(w, r, mizan.NewError(mizan.CodeMethodNotAllowed, "method "+r.Method+" is not allowed here; use GET"))
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, h.prefix+"auth/oidc/")
	if !ok {
		h.app.WriteError(w, r, mizan.NewError(mizan.CodeNotFound, "no such sign-in endpoint"))
		return
	}
	if rest == "" {
		h.serveList(w, r)
		return
	}
	name, action, _ := strings.Cut(rest, "/")
	p, ok := h.providers[name]
	if !ok {
		h.app.WriteError(w, r, mizan.NewError(mizan.CodeNotFound, "no identity provider by that name"))
		return
	}
	switch action {
	case "start/":
		h.serveStart(w, r, p)
	case "callback/":
		h.serveCallback(w, r, p)
	default:
		h.app.WriteError(w, r, mizan.NewError(mizan.CodeNotFound, "no such sign-in endpoint: use start/ or callback/"))
	}
}

// providerInfo is one provider in the answer of GET auth/oidc/.
type providerInfo struct {
	Name        string `json:"name"`
	DisplayName string `json:"display_name"`
	Start       string `json:"start"`
}

// serveList answers GET auth/oidc/ with the providers.
func (h *handler) serveList(w http.ResponseWriter, r *http.Request) {
	list := make([]providerInfo, 0, len(h.order))
	for _, name := range h.order {
		list = append(list, providerInfo{Name: name, DisplayName: h.providers[name].DisplayName(), Start: h.prefix + "auth/oidc/" + name + "/start/"})
	}
	writeJSON(w, struct {
		Providers []providerInfo `json:"providers"`
	}{list})
}

// cookieName is the state cookie of provider.
func cookieName(provider string) string { return "mizan_oidc_" + provider }

// callbackPath is the path of provider's callback.
func (h *handler) callbackPath(provider string) string {
	return h.prefix + "auth/oidc/" + provider + "/callback/"
}

// redirectURL is the callback URL of provider for r.
func (h *handler) redirectURL(r *http.Request, provider string) string {
	origin := h.opts.BaseURL
	if origin == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		origin = scheme + "://" + r.Host
	}
	return origin + h.callbackPath(provider)
}

// secure reports whether the state cookie is Secure for r.
func (h *handler) secure(r *http.Request) bool {
	return h.opts.SecureCookies || r.TLS != nil || strings.HasPrefix(h.opts.BaseURL, "https://")
}

// sealer returns the state cookies' sealer, keyed by the app's auth
// service (resolved at the first request: the service exists once the app
// is built).
func (h *handler) sealer() (*sealer, *auth.Service, error) {
	svc := h.app.Auth()
	if svc == nil {
		return nil, nil, errors.New("oidc: the app has no auth service")
	}
	s, err := newSealer(svc.DeriveKey("oidc-state"))
	if err != nil {
		return nil, nil, err
	}
	return s, svc, nil
}

// serveStart answers GET auth/oidc/<provider>/start/?return=/path: it sets
// the state cookie and redirects to the provider.
func (h *handler) serveStart(w http.ResponseWriter, r *http.Request, p Provider) {
	ret, err := checkReturn(r.URL.Query().Get("return"))
	if err != nil {
		h.app.WriteError(w, r, mizan.NewError(mizan.CodeBadRequest, err.Error()+" (return)"))
		return
	}
	handoff := r.URL.Query().Get("handoff")
	if handoff != "" && !validHandoff.MatchString(handoff) {
		h.app.WriteError(w, r, mizan.NewError(mizan.CodeBadRequest, "the handoff parameter must be 16 to 128 base64url characters"))
		return
	}
	seal, _, err := h.sealer()
	if err != nil {
		h.app.WriteError(w, r, err)
		return
	}
	var st flowState
	st.Handoff = handoff
	for _, f := range []*string{&st.State, &st.Nonce} {
		if *f, err = randomString(24); err != nil {
			h.app.WriteError(w, r, err)
			return
		}
	}
	if st.Verifier, err = randomString(32); err != nil { // 43 characters, as RFC 7636 asks
		h.app.WriteError(w, r, err)
		return
	}
	st.Provider, st.Return = p.Name(), ret
	st.Expires = h.opts.Now().Add(h.opts.StateTTL).Unix()
	target, err := p.AuthCodeURL(r.Context(), AuthRequest{State: st.State, Nonce: st.Nonce, Verifier: st.Verifier, RedirectURL: h.redirectURL(r, p.Name())})
	if err != nil {
		h.app.WriteError(w, r, h.providerError(err))
		return
	}
	name := cookieName(p.Name())
	value, err := seal.seal(name, st)
	if err != nil {
		h.app.WriteError(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: h.callbackPath(p.Name()),
		MaxAge: int(h.opts.StateTTL / time.Second), HttpOnly: true, Secure: h.secure(r), SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, target, http.StatusFound)
}

// serveCallback answers GET auth/oidc/<provider>/callback/: it checks the
// state, redeems the code, hands the identity to the hook and signs the
// user in.
func (h *handler) serveCallback(w http.ResponseWriter, r *http.Request, p Provider) {
	ctx := r.Context()
	seal, svc, err := h.sealer()
	if err != nil {
		h.app.WriteError(w, r, err)
		return
	}
	name := cookieName(p.Name())
	// The state cookie serves once, whatever happens next.
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: h.callbackPath(p.Name()), MaxAge: -1,
		HttpOnly: true, Secure: h.secure(r), SameSite: http.SameSiteLaxMode})
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		msg := "the identity provider refused the sign-in"
		if validErrorCode.MatchString(e) {
			msg += " (" + e + ")"
		}
		h.app.WriteError(w, r, mizan.NewError(mizan.CodeUnauthorized, msg))
		return
	}
	c, err := r.Cookie(name)
	if err != nil {
		h.app.WriteError(w, r, mizan.NewError(mizan.CodeBadRequest, "no sign-in in progress: the state cookie is missing or expired; start the sign-in again"))
		return
	}
	st, err := seal.open(name, c.Value, p.Name(), h.opts.Now())
	if err != nil {
		h.app.WriteError(w, r, mizan.NewError(mizan.CodeBadRequest, "the state cookie is invalid or expired; start the sign-in again").WithCause(err))
		return
	}
	state := q.Get("state")
	if subtle.ConstantTimeCompare([]byte(state), []byte(st.State)) != 1 {
		h.app.WriteError(w, r, mizan.NewError(mizan.CodeUnauthorized, "the state parameter does not match this browser's sign-in: start the sign-in again"))
		return
	}
	// Limits count from here: a callback with this browser's own sealed
	// state is an attempt to redeem a code. What fails before (no cookie,
	// an error parameter, a wrong state) cannot be guessing, and counting
	// it would let any page lock its visitors' address out with a few
	// cross-site image requests.
	attempt := auth.Attempt{Scope: "oidc", Addr: auth.ClientAddress(r)}
	if err := svc.Throttle(ctx, attempt); err != nil {
		h.app.WriteError(w, r, err)
		return
	}
	counted := true // the reservation stays a failure unless given back
	defer func() {
		if !counted {
			svc.Succeeded(ctx, attempt)
		}
	}()
	fail := func(err error) {
		// A provider that cannot be reached is no attempt of the caller's.
		var me *mizan.Error
		if errors.Is(err, ErrUnavailable) || errors.As(err, &me) && me.Status() >= 500 {
			counted = false
		}
		h.app.WriteError(w, r, err)
	}
	code := q.Get("code")
	if code == "" || len(code) > 4096 {
		fail(mizan.NewError(mizan.CodeBadRequest, "the callback has no valid code parameter"))
		return
	}
	id, err := p.Exchange(ctx, Exchange{Code: code, Nonce: st.Nonce, Verifier: st.Verifier, RedirectURL: h.redirectURL(r, p.Name())})
	if err != nil {
		fail(h.providerError(err))
		return
	}
	id.Provider = p.Name()
	u, err := h.opts.OnSignIn(ctx, id)
	if err == nil && (u == nil || u.ID == "") {
		err = mizan.NewError(mizan.CodeUnauthorized, "no account for this identity: sign-in refused")
	}
	if err != nil {
		fail(err)
		return
	}
	counted = false
	switch h.opts.Mode {
	case CookieMode:
		cookie, err := svc.StartCookieSession(ctx, *u)
		if err != nil {
			h.app.WriteError(w, r, err)
			return
		}
		http.SetCookie(w, cookie)
		http.Redirect(w, r, st.Return, http.StatusSeeOther)
	default:
		pair, err := svc.Issue(ctx, *u)
		if err != nil {
			h.app.WriteError(w, r, err)
			return
		}
		frag := "#mizan_refresh=" + url.QueryEscape(pair.Refresh)
		if st.Handoff != "" {
			frag += "&mizan_handoff=" + st.Handoff
		}
		http.Redirect(w, r, st.Return+frag, http.StatusSeeOther)
	}
}

// providerError turns an error of a provider into the protocol's error:
// 401 with the reason of a *RejectedError, 503 for ErrUnavailable, else
// the error itself (a 500, logged).
func (h *handler) providerError(err error) error {
	var rej *RejectedError
	switch {
	case errors.As(err, &rej):
		return mizan.NewError(mizan.CodeUnauthorized, "sign-in refused: "+rej.Reason).WithCause(err)
	case errors.Is(err, ErrUnavailable):
		return mizan.NewError(mizan.CodeUnavailable, "the identity provider cannot be reached; try again later").WithCause(err)
	}
	return err
}
