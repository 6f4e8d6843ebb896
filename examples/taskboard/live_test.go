package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestLivePushes opens a page's WebSocket, subscribes to project 1 and
// project 2, and checks that another user's task on project 1 is pushed to
// it naming project 1 only (project 2 is watched too, and is not in the
// push): each push is the next message, and carries only the targets of
// the mutation that match the page's subscriptions.
func TestLivePushes(t *testing.T) {
	srv := newTestServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+srv.URL[len("http"):]+"/api/mizan/ws/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	read := func() string {
		t.Helper()
		_, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for i, sub := range []string{
		`{"id":1,"type":"subscribe","context":"project","params":{"project_id":"1"}}`,
		`{"id":2,"type":"subscribe","context":"project","params":{"project_id":"2"}}`,
	} {
		if err := ws.Write(ctx, websocket.MessageText, []byte(sub)); err != nil {
			t.Fatal(err)
		}
		if got, want := read(), fmt.Sprintf(`{"id":%d,"type":"ok"}`, i+1); got != want {
			t.Fatalf("subscribe: %s, want %s", got, want)
		}
	}

	c := newClient(t, srv)
	c.signIn(2)
	c.mustCall("add_task", map[string]any{"project_id": 1, "title": "Live", "assignee_id": nil})
	if got, want := read(), `{"type":"invalidate","targets":[{"context":"project","params":{"project_id":1}}]}`; got != want {
		t.Errorf("push: %s, want %s", got, want)
	}
	// A comment hits project 1 through one function, and no task is
	// watched: the push names the project_tasks target alone.
	c.mustCall("add_comment", map[string]any{"project_id": 1, "task_id": 3, "body": "hi"})
	if got, want := read(), `{"type":"invalidate","targets":[{"context":"project","function":"project_tasks","params":{"project_id":1}}]}`; got != want {
		t.Errorf("push: %s, want %s", got, want)
	}
}

// TestLiveDirectoryIsGuarded checks that a subscription to the guarded
// directory context is refused to an anonymous socket, as a fetch is, and
// accepted once the socket has signed in with an access token.
func TestLiveDirectoryIsGuarded(t *testing.T) {
	srv := newTestServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	grace := newClient(t, srv)
	grace.signIn(2)
	for _, tc := range []struct {
		who, token, want string
	}{
		{"anonymous", "", `{"id":1,"type":"error","error":{"code":"unauthorized","message":"authentication required"}}`},
		{"signed in", grace.access, `{"id":1,"type":"ok"}`},
	} {
		ws, _, err := websocket.Dial(ctx, "ws"+srv.URL[len("http"):]+"/api/mizan/ws/", nil)
		if err != nil {
			t.Fatal(err)
		}
		exchange := func(msg string) string {
			t.Helper()
			if err := ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
				t.Fatal(err)
			}
			_, b, err := ws.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
		if tc.token != "" {
			if got := exchange(`{"id":0,"type":"auth","token":"` + tc.token + `"}`); got != `{"id":0,"type":"ok"}` {
				t.Fatalf("%s: auth: %s", tc.who, got)
			}
		}
		if got := exchange(`{"id":1,"type":"subscribe","context":"directory","params":{}}`); got != tc.want {
			t.Errorf("%s: subscribe to directory: %s, want %s", tc.who, got, tc.want)
		}
		ws.CloseNow()
	}
}
