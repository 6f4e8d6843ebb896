package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mizan-afi/mizan/auth/passkey"
)

// passkeyPost posts body to the endpoint path (under /api/mizan/) of srv as if the
// browser had opened host, with the extra header pairs.
func passkeyPost(t *testing.T, base, host, path, body string, hdr ...string) (int, map[string]json.RawMessage) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/api/mizan/"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]json.RawMessage
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestPasskeyEndpoints(t *testing.T) {
	srv := newTestServer(t, nil)
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	local := "localhost:" + port

	// Sign-in options for localhost, with the RP ID localhost and no user.
	status, body := passkeyPost(t, srv.URL, local, "auth/passkey/login/begin/", "{}")
	if status != http.StatusOK || len(body["ceremony"]) < 10 {
		t.Fatalf("login/begin/: %d %v", status, body)
	}
	var req struct {
		RPID      string `json:"rpId"`
		Challenge string `json:"challenge"`
		UV        string `json:"userVerification"`
		Allow     []any  `json:"allowCredentials"`
	}
	if err := json.Unmarshal(body["publicKey"], &req); err != nil {
		t.Fatal(err)
	}
	if req.RPID != "localhost" || len(req.Challenge) < 22 || req.UV != "required" || len(req.Allow) != 0 {
		t.Fatalf("request options %+v", req)
	}
	// 127.0.0.1 is no RP ID: no ceremony there.
	if status, _ := passkeyPost(t, srv.URL, "127.0.0.1:"+port, "auth/passkey/login/begin/", "{}"); status != http.StatusBadRequest {
		t.Fatalf("login/begin/ at 127.0.0.1: %d", status)
	}
	// Registration needs a signed-in caller.
	if status, _ := passkeyPost(t, srv.URL, local, "auth/passkey/register/begin/", "{}"); status != http.StatusUnauthorized {
		t.Fatalf("anonymous register/begin/: %d", status)
	}
	status, pair := passkeyPost(t, srv.URL, local, "auth/token/", `{"username": "ada", "password": "ada"}`)
	if status != http.StatusOK {
		t.Fatalf("auth/token/: %d %v", status, pair)
	}
	var access string
	_ = json.Unmarshal(pair["access"], &access)
	status, body = passkeyPost(t, srv.URL, local, "auth/passkey/register/begin/", "{}", "Authorization", "Bearer "+access)
	if status != http.StatusOK {
		t.Fatalf("register/begin/: %d %v", status, body)
	}
	var create struct {
		RP   struct{ ID, Name string }
		User struct {
			ID          string `json:"id"`
			Name        string `json:"name"`
			DisplayName string `json:"displayName"`
		}
		AuthenticatorSelection struct {
			ResidentKey string `json:"residentKey"`
		}
	}
	if err := json.Unmarshal(body["publicKey"], &create); err != nil {
		t.Fatal(err)
	}
	if create.RP.ID != "localhost" || create.RP.Name != "Mizan Taskboard" || create.User.Name != "ada" || create.User.DisplayName != "Ada Lovelace" ||
		create.AuthenticatorSelection.ResidentKey != "required" {
		t.Fatalf("creation options %+v", create)
	}
	if strings.Contains(create.User.ID, "ada") || create.User.ID == "1" {
		t.Fatalf("the user handle %q names the user", create.User.ID)
	}
	// A finish with a garbled credential is refused, and counted.
	var tok string
	_ = json.Unmarshal(body["ceremony"], &tok)
	status, _ = passkeyPost(t, srv.URL, local, "auth/passkey/register/finish/", `{"ceremony": "`+tok+`", "credential": {"id": "x"}}`, "Authorization", "Bearer "+access)
	if status != http.StatusBadRequest {
		t.Fatalf("register/finish/ of a garbled credential: %d", status)
	}
}

func TestSQLPasskeyStore(t *testing.T) {
	ctx := context.Background()
	db, _, err := openDB(ctx, filepath.Join(t.TempDir(), "taskboard.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := testNow
	p, err := openPasskeys(ctx, db, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openPasskeys(ctx, db, nil); err != nil {
		t.Fatalf("the tables again: %v", err)
	}
	var st passkey.Store = p
	c := passkey.Credential{UserID: "2", UserHandle: []byte{1, 2, 3}, Created: testNow}
	c.Record.ID = []byte{9, 8, 7}
	c.Record.PublicKey = []byte{4, 5}
	c.Record.Authenticator.SignCount = 3
	if err := st.Add(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := st.Add(ctx, c); !errors.Is(err, passkey.ErrDuplicate) {
		t.Fatalf("second Add: %v", err)
	}
	if err := st.Add(ctx, passkey.Credential{UserID: "999", UserHandle: []byte{1}, Record: c.Record}); err == nil {
		t.Fatal("Add accepted the same id for another (unknown) user")
	}
	got, err := st.ByID(ctx, []byte{9, 8, 7})
	if err != nil {
		t.Fatal(err)
	}
	if got.UserID != "2" || string(got.UserHandle) != "\x01\x02\x03" || got.Record.Authenticator.SignCount != 3 || !got.Created.Equal(testNow) || !got.LastUsed.IsZero() {
		t.Fatalf("ByID %+v", got)
	}
	if _, err := st.ByID(ctx, []byte{1}); !errors.Is(err, passkey.ErrNotFound) {
		t.Fatalf("ByID of an unknown id: %v", err)
	}
	got.Record.Authenticator.SignCount, got.Record.Authenticator.CloneWarning, got.LastUsed = 9, true, testNow.Add(time.Hour)
	if err := st.Update(ctx, *got); err != nil {
		t.Fatal(err)
	}
	list, err := st.ByUser(ctx, "2")
	if err != nil || len(list) != 1 {
		t.Fatalf("ByUser: %v %v", list, err)
	}
	if a := list[0].Record.Authenticator; a.SignCount != 9 || !a.CloneWarning || !list[0].LastUsed.Equal(testNow.Add(time.Hour)) {
		t.Fatalf("after Update %+v", list[0])
	}
	if list, _ := st.ByUser(ctx, "3"); len(list) != 0 {
		t.Fatalf("user 3's passkeys: %v", list)
	}
	unknown := c
	unknown.Record.ID = []byte{0}
	if err := st.Update(ctx, unknown); !errors.Is(err, passkey.ErrNotFound) {
		t.Fatalf("Update of an unknown passkey: %v", err)
	}
	if err := st.Spend(ctx, "c1", testNow.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := st.Spend(ctx, "c1", testNow.Add(time.Minute)); !errors.Is(err, passkey.ErrSpent) {
		t.Fatalf("second Spend: %v", err)
	}
	// Once expired, the ceremony is forgotten (its token is refused anyway).
	now = testNow.Add(2 * time.Minute)
	if err := st.Spend(ctx, "c2", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM passkey_ceremonies WHERE id = 'c1'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("expired ceremony kept: %d %v", n, err)
	}
	// Deleting the user deletes their passkeys.
	if _, err := db.ExecContext(ctx, "DELETE FROM comments WHERE author_id = 2; UPDATE tasks SET created_by = 1 WHERE created_by = 2; DELETE FROM users WHERE id = 2"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ByID(ctx, []byte{9, 8, 7}); !errors.Is(err, passkey.ErrNotFound) {
		t.Fatalf("the passkey of a deleted user: %v", err)
	}
}
