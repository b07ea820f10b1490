package engine_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/internal/flowdtest"
	"github.com/flowd/flowd/netguard"
)

// TestResponseAndStoredLimits checks the per-attempt byte limits at their
// boundaries, on a worker reading at most 4096 response bytes and storing
// at most 1024: the condition sees exactly what was read (its len(body) is
// checked), the stored body is cut at MaxStoredBytes, response_truncated
// says whether anything was cut, and a step whose response is cut still
// succeeds. The request body stored is cut the same way.
func TestResponseAndStoredLimits(t *testing.T) {
	t.Parallel()
	const read, stored = 4096, 1024
	b := setupRunWith(t, &flowdtest.Options{OwnDatabase: true, Worker: func(c *engine.WorkerConfig) {
		c.MaxResponseBytes = read
		c.MaxStoredBytes = stored
	}})
	for _, tc := range []struct {
		name       string
		size       int // bytes the target sends
		seen       int // bytes the condition sees
		storedLen  int
		truncated  bool
		requestLen int // bytes of the request body sent
	}{
		{"exactly the stored limit", stored, stored, stored, false, 10},
		{"one byte over the stored limit", stored + 1, stored + 1, stored, true, 10},
		{"exactly the read limit", read, read, stored, true, 10},
		{"one byte over the read limit", read + 1, read, stored, true, 10},
		{"far over the read limit", read + 1<<20, read, stored, true, 10},
		{"large request body", 10, 10, 10, false, 5000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := fmt.Sprintf("/size/%d", tc.size)
			b.tg.Handle(path, func(w http.ResponseWriter, r *http.Request, n int) {
				w.Header().Set("Content-Type", "text/plain")
				_, _ = w.Write([]byte(strings.Repeat("a", tc.size)))
			})
			def := flowDef(tc.name, []any{step(1, "POST", b.tg.URL+path, map[string]any{
				"webhook_body":      map[string]any{"pad": strings.Repeat("p", tc.requestLen-10)},
				"success_condition": map[string]any{"expression": fmt.Sprintf("status == 200 && len(body) == %d", tc.seen)},
			})}, nil)
			e := b.run(t, def)
			if e.Status != "success" {
				t.Fatalf("execution %s (%v): the condition did not see %d bytes", e.Status, e.ErrorMessage, tc.seen)
			}
			a := e.Attempts[0]
			if len(a.ResponseBody) != tc.storedLen || a.ResponseTruncated != tc.truncated {
				t.Errorf("stored response: %d bytes, truncated %v; want %d, %v", len(a.ResponseBody), a.ResponseTruncated, tc.storedLen, tc.truncated)
			}
			wantReq := min(tc.requestLen, stored)
			if len(a.RequestBody) != wantReq {
				t.Errorf("stored request body: %d bytes, want %d", len(a.RequestBody), wantReq)
			}
			if got := b.tg.Requests(path); len(got) != 1 || len(got[0].Body) != tc.requestLen {
				t.Errorf("the target got %d requests, want 1 with the whole %d-byte body", len(got), tc.requestLen)
			}
		})
	}
}

// A response's headers are bounded like its body (they are stored on the
// attempt): up to netguard.MaxResponseHeaderBytes they are read and
// stored; beyond, the attempt fails without storing them.
func TestResponseHeaderLimit(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	for _, tc := range []struct {
		name   string
		size   int
		status string
	}{
		{"within the limit", netguard.MaxResponseHeaderBytes / 2, "success"},
		{"past the limit", netguard.MaxResponseHeaderBytes + 1024, "failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := fmt.Sprintf("/headers/%d", tc.size)
			b.tg.Handle(path, func(w http.ResponseWriter, r *http.Request, n int) {
				w.Header().Set("X-Big", strings.Repeat("h", tc.size))
				fmt.Fprint(w, `{}`)
			})
			e := b.run(t, flowDef(tc.name, []any{step(1, "GET", b.tg.URL+path, nil)}, nil))
			if e.Status != tc.status {
				t.Fatalf("execution %s (%v), want %s", e.Status, e.ErrorMessage, tc.status)
			}
			stored := 0
			for k, v := range e.Attempts[0].ResponseHeaders {
				stored += len(k) + len(v)
			}
			if stored > netguard.MaxResponseHeaderBytes {
				t.Errorf("%d bytes of response headers stored", stored)
			}
		})
	}
}

// A header rendered from a large variable is sent whole and stored cut at
// engine.StoredHeaderValueBytes.
func TestStoredRequestHeaderBounded(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	big := strings.Repeat("v", 3*engine.StoredHeaderValueBytes)
	b.tg.JSON("/big", `{"big": "`+big+`"}`)
	e := b.run(t, flowDef("big header", []any{
		step(1, "GET", b.tg.URL+"/big", nil),
		step(2, "GET", b.tg.URL+"/echo", map[string]any{"depends_on_step": 1, "webhook_headers": map[string]any{"X-Big": "{{big}}"}}),
	}, map[string]any{"variables": []any{map[string]any{"name": "big", "location": "big", "stepId": 1, "type": "body", "dataType": "string"}}}))
	if e.Status != "success" {
		t.Fatalf("execution %s (%v)", e.Status, e.ErrorMessage)
	}
	if got := b.tg.Requests("/echo"); len(got) != 1 || got[0].Header.Get("X-Big") != big {
		t.Fatalf("the target did not get the whole header")
	}
	for _, a := range e.Attempts {
		if a.StepNumber == 2 && len(a.RequestHeaders["X-Big"]) != engine.StoredHeaderValueBytes {
			t.Errorf("stored X-Big has %d bytes, want %d", len(a.RequestHeaders["X-Big"]), engine.StoredHeaderValueBytes)
		}
	}
}

// TestMaxConcurrentRequests runs executions of 6 independent steps on a
// worker allowed 2 requests in flight: the target never sees more than 2 at
// once, and every step still runs.
func TestMaxConcurrentRequests(t *testing.T) {
	t.Parallel()
	b := setupRunWith(t, &flowdtest.Options{OwnDatabase: true, Worker: func(c *engine.WorkerConfig) {
		c.MaxConcurrentRequests = 2
	}})
	var inFlight, peak atomic.Int64
	reached := make(chan struct{}) // closed when 2 requests are in flight
	var once sync.Once
	b.tg.Handle("/slow", func(w http.ResponseWriter, r *http.Request, n int) {
		now := inFlight.Add(1)
		for {
			p := peak.Load()
			if now <= p || peak.CompareAndSwap(p, now) {
				break
			}
		}
		if now >= 2 {
			once.Do(func() { close(reached) })
		}
		// The first request waits for a second one, so that the limit is
		// reached however slowly the machine launches them (and a limit of
		// 1 shows as a peak of 1, after the wait).
		select {
		case <-reached:
		case <-time.After(20 * time.Second):
		}
		inFlight.Add(-1)
		fmt.Fprint(w, `{"ok": true}`)
	})
	var steps []any
	for i := 1; i <= 6; i++ {
		steps = append(steps, step(i, "GET", b.tg.URL+"/slow", nil))
	}
	id := b.createFlow(t, flowDef("six at once", steps, nil))
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := b.trigger(t, id, nil)
			done := b.env.WaitExecution(t, b.tenant, e.ID, 60*time.Second, "success", "failed")
			if done.Status != "success" {
				t.Errorf("execution %s: %v", done.Status, done.ErrorMessage)
			}
		}()
	}
	wg.Wait()
	if n := len(b.tg.Requests("/slow")); n != 12 {
		t.Errorf("the target saw %d requests, want 12", n)
	}
	if p := peak.Load(); p != 2 {
		t.Errorf("at most %d requests were in flight at once, want exactly 2 (the limit, reached)", p)
	}
}
