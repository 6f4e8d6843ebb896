package openapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/openapi"
)

type renameArgs struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

func TestMountServesTheDocument(t *testing.T) {
	app := mizan.New(mizan.Config{Logger: slog.New(slog.DiscardHandler)})
	mizan.Query(app, func(context.Context, struct {
		ID int `json:"id"`
	}) (string, error) {
		return "x", nil
	}, mizan.Name("item"), mizan.In("items"))
	mizan.Mutation(app, func(context.Context, renameArgs) (bool, error) { return true, nil }, mizan.Name("rename"), mizan.Affects("items"))
	if err := openapi.Mount(app, openapi.Options{Title: "Items"}); err != nil {
		t.Fatal(err)
	}
	if err := app.Build(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app)
	defer srv.Close()

	res, err := http.Get(srv.URL + "/api/mizan/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	doc, err := app.IR()
	if err != nil {
		t.Fatal(err)
	}
	want, err := openapi.Generate(doc, openapi.Options{Title: "Items", Prefix: "/api/mizan/"})
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" || !bytes.Equal(got, want) {
		t.Fatalf("GET openapi.json: %d %s, the generated document: %v", res.StatusCode, res.Header.Get("Content-Type"), bytes.Equal(got, want))
	}
	d := generate(t, doc, openapi.Options{})
	if at(t, d, "paths", "/api/mizan/call/rename/", "post", "operationId") != "rename" {
		t.Error("no rename operation")
	}

	res, err = http.Post(srv.URL+"/api/mizan/openapi.json", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		Error struct{ Code string }
	}
	_ = json.NewDecoder(res.Body).Decode(&env)
	res.Body.Close()
	if res.StatusCode != 405 || env.Error.Code != "method_not_allowed" || res.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d %+v", res.StatusCode, env)
	}
	res, err = http.Get(srv.URL + "/api/mizan/openapi.json/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Errorf("openapi.json/: %d", res.StatusCode)
	}
	// The alias the document describes answers.
	res, err = http.Post(srv.URL+"/api/mizan/call/rename/", "application/json", strings.NewReader(`{"id": 3, "name": "x"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != `{"result":true,"invalidate":[{"context":"items","params":{"id":3}}]}` {
		t.Errorf("call/rename/: %d %s", res.StatusCode, body)
	}
}

func TestMountAfterBuildFails(t *testing.T) {
	app := mizan.New(mizan.Config{Logger: slog.New(slog.DiscardHandler)})
	mizan.Mutation(app, func(context.Context, struct{}) (bool, error) { return true, nil }, mizan.Name("ping"))
	if err := app.Build(); err != nil {
		t.Fatal(err)
	}
	if err := openapi.Mount(app, openapi.Options{}); err == nil || !strings.Contains(err.Error(), "already built") {
		t.Errorf("Mount after Build: %v", err)
	}
}
