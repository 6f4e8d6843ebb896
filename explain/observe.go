package explain

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/mizan-afi/mizan/protocol"
)

// Observed is what a server emitted for the mutation, and how it compares
// with the prediction.
type Observed struct {
	Status  int               `json:"status"`
	Header  string            `json:"header"`
	Targets []protocol.Target `json:"targets"`
	// Agrees reports that every emitted target is one the prediction
	// allows and every predicted target was emitted.
	Agrees bool `json:"agrees"`
	// Resolved says, for each run-time target, what the server emitted.
	Resolved []string `json:"resolved,omitempty"`
	// Differences lists every disagreement.
	Differences []string `json:"differences,omitempty"`
}

// Compare checks the prediction against what a server emitted: the
// X-Mizan-Invalidate header and, when known, the body's targets (nil:
// parsed from the header, which names contexts only). A predicted target
// without run-time parameters must be emitted exactly; one the mutation
// may scope at run time is satisfied by its static form or by any targets
// of its context (and function) whose parameters are the context's. The
// result is stored in r.Observed and returned.
func (r *Report) Compare(status int, header string, body []protocol.Target) *Observed {
	o := &Observed{Status: status, Header: header, Targets: body}
	fromHeader := body == nil
	if fromHeader && header != "" {
		ts, err := protocol.ParseHeader(header)
		if err != nil {
			o.Differences = append(o.Differences, "the header does not parse: "+err.Error())
		}
		o.Targets = ts
	}
	if o.Targets == nil {
		o.Targets = []protocol.Target{}
	}
	obs := make([]protocol.Normal, len(o.Targets))
	for i, t := range o.Targets {
		n, err := protocol.Normalize(t)
		if err != nil {
			o.Differences = append(o.Differences, fmt.Sprintf("emitted target %d: %v", i, err))
			continue
		}
		obs[i] = n
	}
	used := make([]bool, len(obs))
	for _, p := range r.Targets {
		want, err := protocol.Normalize(p.Wire())
		if err != nil {
			o.Differences = append(o.Differences, fmt.Sprintf("predicted target %s: %v", p.Context, err))
			continue
		}
		fn := p.Function
		if fromHeader {
			fn = "" // the header names contexts only
			want.Function = ""
		}
		got := 0
		var resolved []string
		for i, n := range obs {
			if used[i] || n.Context != p.Context || n.Function != fn {
				continue
			}
			exact := n.String() == want.String()
			if !exact && len(p.RunTime) == 0 {
				continue
			}
			if !exact && !paramsWithin(n, p) {
				continue
			}
			used[i] = true
			got++
			resolved = append(resolved, n.String())
			if len(p.RunTime) == 0 {
				break
			}
		}
		if got == 0 {
			o.Differences = append(o.Differences, "predicted "+want.String()+" was not emitted")
		}
		if len(p.RunTime) > 0 && got > 0 {
			o.Resolved = append(o.Resolved, want.String()+" (run-time scope possible) was emitted as "+strings.Join(resolved, ", "))
		}
	}
	for i, n := range obs {
		if !used[i] && n.Context != "" {
			o.Differences = append(o.Differences, "emitted "+n.String()+", which the prediction does not allow")
		}
	}
	o.Agrees = len(o.Differences) == 0
	if status != 0 && status/100 != 2 && status/100 != 3 {
		o.Agrees = false
		o.Differences = append(o.Differences, fmt.Sprintf("the call failed with status %d: a failed mutation emits nothing", status))
	}
	r.Observed = o
	return o
}

// paramsWithin reports whether every parameter of n is one the predicted
// target binds or could be given at run time.
func paramsWithin(n protocol.Normal, p Target) bool {
	for _, prm := range n.Params {
		if _, ok := p.Params[prm.Name]; !ok && !slices.Contains(p.RunTime, prm.Name) {
			return false
		}
	}
	return true
}

// Run calls the mutation for real on a running app (POST <base><prefix>call/,
// with header added to the request: credentials, say) and compares what it
// emitted with the prediction ([Report.Compare]). It changes the app's
// data: point it at a development server.
func (r *Report) Run(ctx context.Context, hc *http.Client, base, prefix string, header http.Header) (*Observed, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	args := r.Args
	if args == nil {
		args = map[string]any{}
	}
	body, err := json.Marshal(map[string]any{"fn": r.Mutation, "args": args})
	if err != nil {
		return nil, fmt.Errorf("explain: encoding the call: %w", err)
	}
	u := strings.TrimSuffix(base, "/") + "/" + strings.Trim(prefix, "/") + "/call/"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("explain: calling %s: %w", r.Mutation, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, fmt.Errorf("explain: reading the answer of %s: %w", r.Mutation, err)
	}
	if resp.StatusCode != http.StatusOK {
		var env struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		_ = json.Unmarshal(b, &env)
		return nil, fmt.Errorf("explain: %s answered %d %s: %s", r.Mutation, resp.StatusCode, env.Error.Code, env.Error.Message)
	}
	var reply struct {
		Invalidate []protocol.Target `json:"invalidate"`
	}
	if err := json.Unmarshal(b, &reply); err != nil {
		return nil, fmt.Errorf("explain: the answer of %s is not a call/ answer: %w", r.Mutation, err)
	}
	if reply.Invalidate == nil {
		reply.Invalidate = []protocol.Target{}
	}
	return r.Compare(resp.StatusCode, resp.Header.Get(protocol.HeaderInvalidate), reply.Invalidate), nil
}
