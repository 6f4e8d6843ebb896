package conformance_test

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"hash"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// The auth attacks of the outside run (docs/spec.md §8, §13.6): forged
// JWTs, tokens of one type presented as another, racing refreshes and
// cross-site requests.

// b64 is the base64 of JWS segments.
var b64 = base64.RawURLEncoding

// jwtClaims returns the claims of a compact JWS, unverified.
func jwtClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", tok)
	}
	raw, err := b64.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("claims of %q: %v", tok, err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatalf("claims of %q: %v", tok, err)
	}
	return c
}

// segment encodes v as a JWS segment.
func segment(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b64.EncodeToString(b)
}

// forgeHMAC signs header and claims with key under the HMAC of header's
// alg (HS256, HS384, HS512; any other alg is signed with HS256).
func forgeHMAC(t *testing.T, header map[string]any, claims map[string]any, key []byte) string {
	t.Helper()
	input := segment(t, header) + "." + segment(t, claims)
	h := sha256.New
	switch header["alg"] {
	case "HS384":
		h = sha512.New384
	case "HS512":
		h = sha512.New
	}
	return input + "." + b64.EncodeToString(mac(h, key, input))
}

func mac(h func() hash.Hash, key []byte, input string) []byte {
	m := hmac.New(h, key)
	m.Write([]byte(input))
	return m.Sum(nil)
}

// with returns a copy of claims with the given members replaced.
func withClaims(claims map[string]any, kv ...any) map[string]any {
	c := make(map[string]any, len(claims))
	for k, v := range claims {
		c[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		c[kv[i].(string)] = kv[i+1]
	}
	return c
}

// wantTokenRefused fails t unless tok, as a bearer token, is refused with
// 401 by call/, ctx/, auth/mwt/ and auth/logout/ at base.
func wantTokenRefused(t *testing.T, base, tok string) {
	t.Helper()
	for _, req := range []struct{ method, path, body string }{
		{http.MethodPost, "call/", `{"fn":"secret"}`},
		{http.MethodPost, "call/", `{"fn":"admin_action"}`},
		{http.MethodGet, "ctx/global/", ""},
		{http.MethodGet, "auth/mwt/", ""},
		{http.MethodPost, "auth/logout/", ""},
	} {
		r := doAt(t, base, req.method, prefix+req.path, req.body, with(jsonBody, bearer(tok)...)...)
		if r.status != http.StatusUnauthorized {
			t.Errorf("%s %s: %d %s, want 401", req.method, req.path, r.status, short(string(r.body)))
			continue
		}
		wantError(t, r, http.StatusUnauthorized, "unauthorized")
	}
}

// TestAttackForgedJWTs: alg none, other algorithms, a wrong key and edited
// claims, on the fixture's HS256 service, are all 401.
func TestAttackForgedJWTs(t *testing.T) {
	tk := wantTokens(t, login(t, "grace", "grace-pw"))
	wantResult(t, call(t, "secret", nil, bearer(tk.Access)...), `{"secret": 42}`, `[]`, "")
	parts := strings.Split(tk.Access, ".")
	claims := jwtClaims(t, tk.Access)
	staff := withClaims(claims, "staff", true, "super", true)
	ada := withClaims(claims, "sub", "1", "staff", true)
	wrong := randomBytes(t, 32)
	hs := map[string]any{"alg": "HS256", "typ": "JWT"}
	none := func(alg string, c map[string]any, sig string) string {
		return segment(t, map[string]any{"alg": alg, "typ": "JWT"}) + "." + segment(t, c) + "." + sig
	}
	cases := map[string]string{
		"alg none":                      none("none", claims, ""),
		"alg none, no trailing dot":     strings.TrimSuffix(none("none", claims, ""), "."),
		"alg None":                      none("None", claims, ""),
		"alg NONE staff":                none("NONE", staff, ""),
		"alg none, the real signature":  none("none", claims, parts[2]),
		"alg empty":                     none("", claims, ""),
		"alg missing":                   segment(t, map[string]any{"typ": "JWT"}) + "." + parts[1] + ".",
		"HS256, a wrong key":            forgeHMAC(t, hs, claims, wrong),
		"HS256, an empty key":           forgeHMAC(t, hs, claims, nil),
		"HS256, a wrong key, ada":       forgeHMAC(t, hs, ada, wrong),
		"HS384, a wrong key":            forgeHMAC(t, map[string]any{"alg": "HS384", "typ": "JWT"}, claims, wrong),
		"HS512, a wrong key":            forgeHMAC(t, map[string]any{"alg": "HS512", "typ": "JWT"}, claims, wrong),
		"RS256 header, HS256 signature": forgeHMAC(t, map[string]any{"alg": "RS256", "typ": "JWT"}, claims, wrong),
		"EdDSA header, no signature":    none("EdDSA", claims, ""),
		"typ MWT, a wrong key":          forgeHMAC(t, map[string]any{"alg": "HS256", "typ": "MWT"}, claims, wrong),
		"kid and jku, an empty key": forgeHMAC(t, map[string]any{"alg": "HS256", "typ": "JWT",
			"kid": "../../../../dev/null", "jku": "https://evil.example/jwks.json"}, claims, nil),
		"claims edited to staff":       parts[0] + "." + segment(t, staff) + "." + parts[2],
		"claims edited to ada":         parts[0] + "." + segment(t, ada) + "." + parts[2],
		"claims edited, never expires": parts[0] + "." + segment(t, withClaims(claims, "exp", 1<<53)) + "." + parts[2],
		"header edited":                segment(t, map[string]any{"alg": "HS256", "typ": "JWT", "x": 1}) + "." + parts[1] + "." + parts[2],
		"signature dropped":            parts[0] + "." + parts[1] + ".",
		"signature of padding":         tk.Access + "==",
		"two segments":                 parts[0] + "." + parts[1],
		"four segments":                tk.Access + "." + parts[2],
		"empty segments":               "..",
		"not base64":                   "!!!.@@@.###",
		"std base64 with padding":      base64.StdEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + base64.StdEncoding.EncodeToString([]byte(`{"sub":"1"}`)) + ".",
		"header not an object":         b64.EncodeToString([]byte(`["HS256"]`)) + "." + parts[1] + "." + parts[2],
		"claims not an object":         forgeHMAC(t, hs, nil, wrong),
		"empty":                        "",
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) { wantTokenRefused(t, server.url, tok) })
	}
	// None of it ended grace's session.
	wantResult(t, call(t, "secret", nil, bearer(tk.Access)...), `{"secret": 42}`, `[]`, "")
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAttackKeyConfusion: on an RS256 service, an HS256 token signed with
// the public key (as PEM text, or DER) is refused before its signature is
// checked, as is alg none and a token signed by another key.
func TestAttackKeyConfusion(t *testing.T) {
	needProcess(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	p, err := startFixtureEnv(server.bin, []string{
		"JWT_ALGORITHM=RS256", "JWT_PRIVATE_KEY=" + string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"MIZAN_CACHE_REDIS_URL=", "MIZAN_PUBSUB_REDIS_URL=", "MIZAN_CACHE_SECRET=",
	}, "-addr", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.stop(); err != nil {
			t.Errorf("fixture at %s: %v\nstderr:\n%s", p.url, err, p.stderr.String())
		}
	})
	r := doAt(t, p.url, http.MethodPost, prefix+"auth/token/", `{"username":"grace","password":"grace-pw"}`, jsonBody...)
	tk := wantTokens(t, r)
	if h, _ := b64.DecodeString(strings.Split(tk.Access, ".")[0]); !bytes.Contains(h, []byte(`"RS256"`)) {
		t.Fatalf("the RS256 fixture issued a token with header %s", h)
	}
	genuine := doAt(t, p.url, http.MethodPost, prefix+"call/", `{"fn":"secret"}`, with(jsonBody, bearer(tk.Access)...)...)
	wantResult(t, genuine, `{"secret": 42}`, `[]`, "")

	claims := jwtClaims(t, tk.Access)
	staff := withClaims(claims, "sub", "1", "staff", true)
	pkix, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pkixPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})
	pkcs1PEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&key.PublicKey)})
	hs := map[string]any{"alg": "HS256", "typ": "JWT"}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signRS := func(k *rsa.PrivateKey, c map[string]any) string {
		input := segment(t, map[string]any{"alg": "RS256", "typ": "JWT"}) + "." + segment(t, c)
		sum := sha256.Sum256([]byte(input))
		sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		return input + "." + b64.EncodeToString(sig)
	}
	edInput := segment(t, map[string]any{"alg": "EdDSA", "typ": "JWT"}) + "." + segment(t, claims)
	cases := map[string]string{
		"HS256 keyed with the PKIX PEM":           forgeHMAC(t, hs, claims, pkixPEM),
		"HS256 keyed with the PKIX PEM, staff":    forgeHMAC(t, hs, staff, pkixPEM),
		"HS256 keyed with the PEM, no newline":    forgeHMAC(t, hs, claims, bytes.TrimSpace(pkixPEM)),
		"HS256 keyed with the PKCS#1 PEM":         forgeHMAC(t, hs, claims, pkcs1PEM),
		"HS256 keyed with the DER":                forgeHMAC(t, hs, claims, pkix),
		"HS512 keyed with the PKIX PEM":           forgeHMAC(t, map[string]any{"alg": "HS512", "typ": "JWT"}, claims, pkixPEM),
		"alg none":                                segment(t, map[string]any{"alg": "none", "typ": "JWT"}) + "." + segment(t, claims) + ".",
		"RS256 signed by another key":             signRS(other, claims),
		"RS256 signed by another key, staff":      signRS(other, staff),
		"EdDSA signed by another key":             edInput + "." + b64.EncodeToString(ed25519.Sign(edKey, []byte(edInput))),
		"the real signature under another header": segment(t, hs) + "." + strings.Split(tk.Access, ".")[1] + "." + strings.Split(tk.Access, ".")[2],
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) { wantTokenRefused(t, p.url, tok) })
	}
}

// mwtOf gets an MWT with the access token tok.
func mwtOf(t *testing.T, base, tok string) string {
	t.Helper()
	r := doAt(t, base, http.MethodGet, prefix+"auth/mwt/", "", bearer(tok)...)
	var m struct {
		Token string `json:"token"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &m) != nil || m.Token == "" {
		t.Fatalf("auth/mwt/: %d %s", r.status, r.body)
	}
	return m.Token
}

// TestAttackTokenSwaps: a token is accepted only where its type is
// expected: a refresh token or an MWT is no access token, an access token
// or an MWT is no refresh token, and an MWT is no credential at the origin
// at all.
func TestAttackTokenSwaps(t *testing.T) {
	tk := wantTokens(t, login(t, "lin", "lin-pw"))
	mwt := mwtOf(t, server.url, tk.Access)
	t.Run("refresh as access", func(t *testing.T) { wantTokenRefused(t, server.url, tk.Refresh) })
	t.Run("MWT as access", func(t *testing.T) { wantTokenRefused(t, server.url, mwt) })
	t.Run("MWT at the origin", func(t *testing.T) {
		// X-Mizan-Token is the edge's: the origin ignores it, so the
		// caller is anonymous.
		wantError(t, call(t, "secret", nil, "X-Mizan-Token", mwt), http.StatusUnauthorized, "unauthorized")
		r := do(t, http.MethodGet, prefix+"ctx/global/", "", "X-Mizan-Token", mwt)
		wantJSON(t, "current_user with an MWT", r.body, `{"current_user": null}`)
	})
	for name, tok := range map[string]string{"access as refresh": tk.Access, "MWT as refresh": mwt} {
		t.Run(name, func(t *testing.T) {
			wantError(t, refresh(t, tok), http.StatusUnauthorized, "unauthorized")
		})
	}
	t.Run("over WebSocket", func(t *testing.T) {
		for name, tok := range map[string]string{"refresh": tk.Refresh, "MWT": mwt} {
			// On the upgrade: the HTTP envelope, no upgrade.
			r := rawHTTP(t, server.url, wsUpgrade(server.url, "Authorization: Bearer "+tok))
			wantRefusal(t, r, http.StatusUnauthorized, "unauthorized")
			// As the auth message: refused, and the connection stays
			// anonymous.
			w := wsDial(t, server.url)
			id := w.send(map[string]any{"type": "auth", "token": tok})
			wantWSError(t, name+" as the auth message", w.next(), id, "unauthorized")
			id = w.send(map[string]any{"type": "call", "fn": "update_my_name", "args": map[string]any{"name": "Lin"}})
			wantWSError(t, "update_my_name after a refused "+name+" auth", w.next(), id, "unauthorized")
		}
	})
}

// tryDo is doAt for goroutines other than the test's: it returns errors.
func tryDo(base, method, path, body string, headers ...string) (response, error) {
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		return response{}, err
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: raw}, err
}

// TestAttackParallelRefreshes: 20 refreshes of one refresh token at once:
// exactly one rotates it, the other 19 are reuse (401), and reuse revokes
// the session, the winner's new tokens included (§13.6).
func TestAttackParallelRefreshes(t *testing.T) {
	const n = 20
	tk := wantTokens(t, login(t, "grace", "grace-pw"))
	body, _ := json.Marshal(map[string]string{"refresh": tk.Refresh})
	results := make([]response, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errs[i] = tryDo(server.url, http.MethodPost, prefix+"auth/refresh/", string(body), jsonBody...)
		}()
	}
	close(start)
	wg.Wait()
	var won []tokens
	for i, r := range results {
		if errs[i] != nil {
			t.Fatalf("refresh %d: %v", i, errs[i])
		}
		if r.status == http.StatusOK {
			won = append(won, wantTokens(t, r))
			continue
		}
		wantError(t, r, http.StatusUnauthorized, "unauthorized")
	}
	if len(won) != 1 {
		t.Fatalf("%d of %d parallel refreshes succeeded, want exactly 1", len(won), n)
	}
	// The session is revoked: every token of it is refused.
	for name, tok := range map[string]string{"the first access token": tk.Access, "the winner's access token": won[0].Access} {
		t.Run(name, func(t *testing.T) {
			wantError(t, call(t, "secret", nil, bearer(tok)...), http.StatusUnauthorized, "unauthorized")
		})
	}
	wantError(t, refresh(t, won[0].Refresh), http.StatusUnauthorized, "unauthorized")
	wantError(t, refresh(t, tk.Refresh), http.StatusUnauthorized, "unauthorized")
}

// TestAttackCrossSite: cross-site state-changing requests are 403
// forbidden on every endpoint that changes state, whatever credentials
// they carry, and change nothing; a forged session cookie is no
// credential. (The CSRF token check of a real cookie session cannot be
// reached: the fixture has no cookie sign-in over HTTP. The root tests
// check it.)
func TestAttackCrossSite(t *testing.T) {
	tk := wantTokens(t, login(t, "ada", "ada-pw"))
	sid, _ := jwtClaims(t, tk.Access)["sid"].(string)
	csrf := strings.Repeat("ab", 32)
	crossSite := map[string][]string{
		"foreign Origin":            {"Origin", "https://evil.example"},
		"Origin null":               {"Origin", "null"},
		"Origin of a lookalike":     {"Origin", "http://" + hostOf(server.url) + ".evil.example"},
		"Sec-Fetch-Site cross-site": {"Sec-Fetch-Site", "cross-site"},
		"Sec-Fetch-Site same-site":  {"Sec-Fetch-Site", "same-site"},
	}
	credentials := map[string][]string{
		"anonymous":       nil,
		"test header":     {"X-Test-User", "1", "X-Test-Staff", "1"},
		"bearer":          bearer(tk.Access),
		"forged cookie":   {"Cookie", "mizan_session=" + sid + "; csrftoken=" + csrf, "X-CSRFToken", csrf},
		"mismatched csrf": {"Cookie", "mizan_session=" + sid + "; csrftoken=" + csrf, "X-CSRFToken", strings.Repeat("0", 64)},
	}
	for cname, cross := range crossSite {
		for kname, cred := range credentials {
			t.Run(cname+" "+kname, func(t *testing.T) {
				h := with(with(jsonBody, cross...), cred...)
				for _, req := range []struct{ path, body string }{
					{"call/", `{"fn":"update_profile","args":{"user_id":1,"name":"Mallory"}}`},
					{"call/", `{"fn":"admin_action"}`},
					{"auth/token/", `{"username":"ada","password":"ada-pw"}`},
					{"auth/refresh/", `{"refresh":"` + tk.Refresh + `"}`},
					{"auth/logout/", ``},
				} {
					r := do(t, http.MethodPost, prefix+req.path, req.body, h...)
					if r.status != http.StatusForbidden {
						t.Errorf("%s: %d %s, want 403", req.path, r.status, short(string(r.body)))
						continue
					}
					wantError(t, r, http.StatusForbidden, "forbidden")
				}
			})
		}
	}
	// Nothing ran: ada keeps her name, her session holds, and her refresh
	// token is unspent.
	if r := do(t, http.MethodGet, prefix+"ctx/user/?user_id=1", ""); !bytes.Contains(r.body, []byte(`"name":"Ada"`)) {
		t.Errorf("user 1 after cross-site calls: %s", r.body)
	}
	wantResult(t, call(t, "secret", nil, bearer(tk.Access)...), `{"secret": 42}`, `[]`, "")

	// A session cookie naming no cookie session (a token's sid, garbage,
	// a token) counts as no cookie: the caller is anonymous.
	for name, v := range map[string]string{"a token's sid": sid, "garbage": "garbage", "an access token": tk.Access, "empty": ""} {
		t.Run("session cookie of "+name, func(t *testing.T) {
			c := []string{"Cookie", "mizan_session=" + v + "; csrftoken=" + csrf, "X-CSRFToken", csrf}
			wantError(t, call(t, "secret", nil, c...), http.StatusUnauthorized, "unauthorized")
			wantError(t, do(t, http.MethodPost, prefix+"auth/logout/", "", c...), http.StatusUnauthorized, "unauthorized")
			wantJSON(t, "current_user", do(t, http.MethodGet, prefix+"ctx/global/", "", c...).body, `{"current_user": null}`)
		})
	}
	wantTokens(t, refresh(t, tk.Refresh))
}
