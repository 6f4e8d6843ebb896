package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/mizan-afi/mizan/client"
	// The go target's golden output for the fixture app: importing it
	// checks that the generated code compiles.
	fixtureclient "github.com/mizan-afi/mizan/codegen/testdata/fixture/go"
	_ "github.com/mizan-afi/mizan/codegen/testdata/names/go"
	"github.com/mizan-afi/mizan/conformance"
	"github.com/mizan-afi/mizan/protocol"
)

// startFixture serves a fresh fixture app and returns the generated client
// for it, calling as user (or anonymously when user is "").
func startFixture(t *testing.T, user string) *fixtureclient.Client {
	t.Helper()
	app := conformance.NewFixture(conformance.FixtureConfig{})
	if err := app.Build(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	h := http.Header{}
	if user != "" {
		h.Set(conformance.HeaderTestUser, user)
	}
	return fixtureclient.New(client.Config{BaseURL: srv.URL, HTTPClient: srv.Client(), Header: h})
}

// TestGeneratedClientAgainstFixture drives the running fixture through the
// generated Go client: fetch a context, call a mutation, read its targets,
// and get a typed invalid_args error.
func TestGeneratedClientAgainstFixture(t *testing.T) {
	ctx := context.Background()
	api := startFixture(t, "1")

	bundle, err := api.FetchUser(ctx, fixtureclient.UserParams{UserID: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := fixtureclient.ProfileResult{ID: 1, Name: "Ada", Email: "ada@example.com"}
	if bundle.UserProfile != want || len(bundle.UserOrders) != 2 {
		t.Fatalf("user bundle %+v", bundle)
	}

	res, err := api.UpdateProfile(ctx, fixtureclient.UpdateProfileArgs{UserID: 1, Name: "Ryth"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Result.OK {
		t.Errorf("result %+v", res.Result)
	}
	wantTargets := []protocol.Target{{Context: "user", Params: map[string]any{"user_id": int64(1)}}}
	if !reflect.DeepEqual(res.Invalidate, wantTargets) {
		t.Errorf("targets %#v, want %#v", res.Invalidate, wantTargets)
	}

	profile, err := api.UserProfile(ctx, fixtureclient.UserParams{UserID: 1})
	if err != nil || profile.Name != "Ryth" {
		t.Errorf("profile after the update: %+v, %v", profile, err)
	}

	reset, err := api.ResetAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(reset.Invalidate, []protocol.Target{protocol.Broad("user"), protocol.Broad("orders")}) {
		t.Errorf("reset_all targets %#v", reset.Invalidate)
	}

	_, err = api.OrderPage(ctx, fixtureclient.OrdersParams{UserID: 1, Page: 0, Status: "open"})
	var e *client.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not a *client.Error", err)
	}
	if e.Code != protocol.CodeInvalidArgs || e.Status != http.StatusBadRequest || e.Fields["page"] == "" {
		t.Errorf("error %+v", e)
	}

	_, err = client.Call[fixtureclient.OkResult](ctx, api.Runtime(), "update_profile", map[string]any{"user_id": "one"})
	if e, ok := client.AsError(err); !ok || e.Code != protocol.CodeInvalidArgs ||
		e.Fields["user_id"] == "" || e.Fields["name"] != "required" {
		t.Errorf("invalid arguments through the runtime: %v (%+v)", err, e)
	}
}

func TestGeneratedClientErrors(t *testing.T) {
	ctx := context.Background()
	anon := startFixture(t, "")
	cases := []struct {
		name   string
		call   func() error
		code   protocol.Code
		status int
	}{
		{"unknown user", func() error {
			_, err := anon.UserProfile(ctx, fixtureclient.UserParams{UserID: 99})
			return err
		}, protocol.CodeNotFound, http.StatusNotFound},
		{"auth required", func() error { _, err := anon.Secret(ctx); return err }, protocol.CodeUnauthorized, http.StatusUnauthorized},
		{"staff only", func() error {
			_, err := startFixture(t, "2").AdminAction(ctx)
			return err
		}, protocol.CodeForbidden, http.StatusForbidden},
		{"own error", func() error { _, err := anon.Fail(ctx); return err }, protocol.CodeConflict, http.StatusConflict},
	}
	for _, c := range cases {
		err := c.call()
		e, ok := client.AsError(err)
		if !ok || e.Code != c.code || e.Status != c.status {
			t.Errorf("%s: error %v, want %s (%d)", c.name, err, c.code, c.status)
		}
		if !errors.Is(err, &client.Error{Code: c.code}) {
			t.Errorf("%s: errors.Is does not match the code", c.name)
		}
	}
	sec, err := startFixture(t, "3").Secret(ctx)
	if err != nil || sec.Result.Secret != 42 || len(sec.Invalidate) != 0 {
		t.Errorf("secret as user 3: %+v, %v", sec, err)
	}
	cur, err := startFixture(t, "3").CurrentUser(ctx)
	if err != nil || cur == nil {
		t.Errorf("current_user as user 3: %+v, %v", cur, err)
	}
	if cur, err := anon.CurrentUser(ctx); err != nil || cur != nil {
		t.Errorf("current_user anonymously: %+v, %v", cur, err)
	}
}
