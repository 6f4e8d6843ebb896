package edge

import (
	"bytes"
	"context"
	"crypto/hmac"
	cryptorand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/mizan-afi/mizan/protocol"
)

// CodeReplayed is the error code of the edge's 409 for a signed post it has
// already applied: an acknowledgement.
const CodeReplayed protocol.Code = "replayed"

// Sign returns the value of the X-Mizan-Signature header of a post made at
// timestamp (Unix seconds) with body: "v1=" and the lower-case hex of
// HMAC-SHA256(secret, timestamp + "." + body), timestamp in decimal.
func Sign(secret []byte, timestamp int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(strconv.AppendInt(nil, timestamp, 10))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// deliver posts batch until the edge acknowledges it, and reports whether
// it did; false means the sender was stopped first.
func (p *Purger) deliver(batch []*entry) bool {
	id := newID()
	body := appendBody(nil, id, batch)
	if len(body) > maxPostBody {
		// The edge refuses bodies over 1 MiB (413), which no retry would
		// change: purge the batch's contexts whole instead.
		b := &entry{broad: true, contexts: map[string]struct{}{}}
		n := 0
		for _, e := range batch {
			b.addBroad(e)
			if !e.broad {
				n++
			}
		}
		p.mu.Lock()
		p.stats.Coalesced += uint64(n)
		p.mu.Unlock()
		p.s.log.Warn("edge: a purge too large for one post is sent as the broad targets of its contexts",
			"url", p.s.redacted, "bytes", len(body), "contexts", len(b.targets), "mutation", batch[0].mutation)
		body = appendBody(nil, id, []*entry{b})
	}
	for attempt := 1; ; attempt++ {
		if p.stop.Err() != nil {
			return false
		}
		status, err := p.post(body)
		if err == nil {
			if attempt > 1 {
				p.s.log.Info("edge: purge acknowledged after retries", "url", p.s.redacted, "attempts", attempt)
			}
			p.acknowledge(batch)
			return true
		}
		p.failed(err)
		if p.stop.Err() != nil {
			return false
		}
		wait := p.backoff(attempt)
		p.s.log.Warn("edge: purge post not acknowledged; retrying",
			"url", p.s.redacted, "status", status, "attempt", attempt, "retry_in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-p.stop.Done():
			t.Stop()
			return false
		}
	}
}

// maxPostBody is the largest body posted as it is: the edge takes up to
// 1 MiB (MAX_PURGE_BODY of @mizan/edge); a larger one is sent as the broad
// targets of its contexts.
const maxPostBody = 512 << 10

// maxResponse bounds how much of a response is read (an error envelope);
// the rest is discarded up to maxDrain, so that the connection can be
// reused, and beyond that the connection is closed.
const (
	maxResponse = 4 << 10
	maxDrain    = 64 << 10
)

// post makes one attempt: the request signed now. It returns the response's
// status (0 when there was none) and nil when the edge acknowledged it.
func (p *Purger) post(body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(p.stop, p.s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.s.endpoint, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("edge: building the purge request: %w", err)
	}
	ts := p.s.now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(p.s.secret, ts, body))
	res, err := p.s.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("edge: posting the purge: %w", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxResponse))
	if err != nil && res.StatusCode == http.StatusOK {
		// The edge said 200 before the body broke: it has applied the
		// purge, and a retry would be a replay.
		err = nil
	}
	if err != nil {
		return res.StatusCode, fmt.Errorf("edge: reading the purge response (%s): %w", res.Status, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxDrain))
	if acknowledged(res.StatusCode, b) {
		return res.StatusCode, nil
	}
	if code := envelopeCode(b); code != "" {
		return res.StatusCode, fmt.Errorf("edge: the edge refused the purge: %s (%s)", res.Status, protocol.Truncate(code, 64))
	}
	return res.StatusCode, fmt.Errorf("edge: the edge refused the purge: %s", res.Status)
}

// acknowledged reports whether a response to a purge post acknowledges it:
// 200, or 409 with the error envelope of code [CodeReplayed].
func acknowledged(status int, body []byte) bool {
	switch status {
	case http.StatusOK:
		return true
	case http.StatusConflict:
		return envelopeCode(body) == string(CodeReplayed)
	}
	return false
}

// envelopeCode returns the code of an error envelope, or "" when body is
// not one.
func envelopeCode(body []byte) string {
	var env struct {
		Error *struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &env) != nil || env.Error == nil {
		return ""
	}
	return env.Error.Code
}

// backoff returns the wait before the retry that follows failed attempt
// number attempt (from 1): MinBackoff doubled attempt-1 times, at most
// MaxBackoff, less a random part of up to half, never below MinBackoff.
func (p *Purger) backoff(attempt int) time.Duration {
	d := p.s.minBackoff
	for i := 1; i < attempt && d < p.s.maxBackoff; i++ {
		if d > p.s.maxBackoff/2 {
			d = p.s.maxBackoff
			break
		}
		d *= 2
	}
	d = min(d, p.s.maxBackoff)
	half := d / 2
	return max(half+rand.N(d-half+1), p.s.minBackoff)
}

// newID returns a random post id: 16 bytes in lower-case hex.
func newID() string {
	var b [16]byte
	_, _ = cryptorand.Read(b[:]) // never fails (crypto/rand.Read panics instead)
	return hex.EncodeToString(b[:])
}

// appendBody appends the JSON body of the post of batch:
// {"id":...,"targets":[...],"mutation":...,"caller":...}. Every entry of
// batch has the same mutation and caller. The targets keep their order,
// each once; a target whose context also has its broad target in the post
// is left out, since the broad one purges all it would.
func appendBody(dst []byte, id string, batch []*entry) []byte {
	broad := map[string]bool{}
	for _, e := range batch {
		for _, t := range e.targets {
			if t.isBroad() {
				broad[t.context] = true
			}
		}
	}
	dst = append(dst, `{"id":`...)
	dst = appendString(dst, id)
	dst = append(dst, `,"targets":[`...)
	seen := map[string]bool{}
	first := true
	for _, e := range batch {
		for _, t := range e.targets {
			if (broad[t.context] && !t.isBroad()) || seen[string(t.json)] {
				continue
			}
			seen[string(t.json)] = true
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = append(dst, t.json...)
		}
	}
	head := batch[0]
	dst = append(dst, `],"mutation":`...)
	dst = appendString(dst, head.mutation)
	dst = append(dst, `,"caller":`...)
	if head.hasCaller {
		dst = appendString(dst, head.caller)
	} else {
		dst = append(dst, "null"...)
	}
	return append(dst, '}')
}

// appendString appends s as a JSON string.
func appendString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always encodes (invalid UTF-8 as U+FFFD)
	return append(dst, b...)
}
