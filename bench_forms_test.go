package mizan_test

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/go-playground/validator/v10"
	"github.com/mizan-afi/mizan"
)

// The submit of a form (docs/forms.md) beside a bare net/http handler that
// does the same by hand: decode the JSON call, run the same validator tags,
// store the message, answer the same bytes and X-Mizan-Invalidate header.

type perfContact struct {
	Name    string `json:"name" validate:"required,max=100"`
	Email   string `json:"email" validate:"required,email"`
	Age     *int   `json:"age,omitempty" validate:"omitempty,min=18,max=130"`
	Topic   string `json:"topic" validate:"required,oneof=sales support"`
	Message string `json:"message" validate:"required,min=10,max=2000"`
}

type perfInbox struct {
	mu sync.Mutex
	n  int
}

func (s *perfInbox) store(perfContact) {
	s.mu.Lock()
	s.n++
	s.mu.Unlock()
}

func formCase(tb testing.TB) perfCase {
	inbox := &perfInbox{}
	app := mizan.New(mizan.Config{})
	mizan.Form(app, func(_ context.Context, in perfContact) (perfOK, error) {
		inbox.store(in)
		return perfOK{OK: true}, nil
	}, mizan.Name("contact"), mizan.Affects("messages"))
	mizan.Query(app, func(context.Context, struct{}) (int, error) { return inbox.n, nil }, mizan.Name("message_count"), mizan.In("messages"))
	if err := app.Build(); err != nil {
		tb.Fatal(err)
	}
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string { name, _, _ := strings.Cut(f.Tag.Get("json"), ","); return name })
	bare := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		var req struct {
			Fn   string      `json:"fn"`
			Args perfContact `json:"args"`
		}
		if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&req) != nil || req.Fn != "contact" {
			bareJSONError(w, http.StatusBadRequest, "bad_request", "bad call")
			return
		}
		if err := v.Struct(&req.Args); err != nil {
			bareJSONError(w, http.StatusBadRequest, "invalid_args", "invalid arguments")
			return
		}
		inbox.store(req.Args)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Mizan-Invalidate", "messages")
		_, _ = w.Write([]byte(`{"result":{"ok":true},"invalidate":["messages"]}`))
	}
	body := []byte(`{"fn":"contact","args":{"name":"Ada","email":"ada@example.com","age":36,"topic":"support","message":"The spec is lovely."}}`)
	return perfCase{
		mizan:   app,
		bare:    bareMux("/api/mizan/call/", http.HandlerFunc(bare)),
		req:     func() *perfRequest { return newPerfRequest(http.MethodPost, "/api/mizan/call/", body) },
		headers: []string{"Content-Type", "Cache-Control", "X-Mizan-Invalidate"},
		want:    `{"result":{"ok":true},"invalidate":["messages"]}`,
	}
}

// BenchmarkFormSubmit compares a valid submit of a five-field form through
// call/ with a bare handler running the same validator tags.
func BenchmarkFormSubmit(b *testing.B) { runPair(b, formCase(b), false) }
