package cloudflare

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		value string
		want  time.Duration
		ok    bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"1", time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"Sun, 01 Mar 2026 12:00:30 GMT", 30 * time.Second, true},
		{"Sunday, 01-Mar-26 12:00:30 GMT", 30 * time.Second, true},
		{"Sun Mar  1 12:00:30 2026", 30 * time.Second, true},
		{"Sun, 01 Mar 2026 11:00:00 GMT", 0, true},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
	}
	for _, tc := range cases {
		got, ok := parseRetryAfter(tc.value, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tc.value, got, ok, tc.want, tc.ok)
		}
	}
}

func TestBackoffBounds(t *testing.T) {
	policy := RetryPolicy{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}.withDefaults()
	for retry, full := range map[int]time.Duration{
		1: 100 * time.Millisecond,
		2: 200 * time.Millisecond,
		3: 400 * time.Millisecond,
		4: 800 * time.Millisecond,
		5: time.Second,
		9: time.Second,
	} {
		for range 200 {
			d := policy.backoff(retry)
			if d < full/2 || d > full {
				t.Fatalf("backoff(%d) = %v, want between %v and %v", retry, d, full/2, full)
			}
		}
	}
}

func TestRetryableStatus(t *testing.T) {
	for code, want := range map[int]bool{200: false, 400: false, 403: false, 404: false, 429: true, 500: true, 501: false, 502: true, 503: true, 504: true, 520: true} {
		if got := retryableStatus(code); got != want {
			t.Errorf("retryableStatus(%d) = %v, want %v", code, got, want)
		}
	}
}

func TestRetryableError(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{io.EOF, true},
		{io.ErrUnexpectedEOF, true},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, true},
		{context.DeadlineExceeded, true},
		{errors.New("unsupported protocol scheme"), false},
	}
	for _, tc := range cases {
		if got := retryableError(tc.err); got != tc.want {
			t.Errorf("retryableError(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// scriptedServer responds with the statuses in order, then 200, and
// records each request body.
type scriptedServer struct {
	mu       sync.Mutex
	statuses []int
	bodies   []string
}

func (s *scriptedServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.bodies = append(s.bodies, string(body))
	status := http.StatusOK
	if len(s.statuses) > 0 {
		status, s.statuses = s.statuses[0], s.statuses[1:]
	}
	s.mu.Unlock()
	w.WriteHeader(status)
	_, _ = io.WriteString(w, `{"success":true,"errors":[],"result":{}}`)
}

func newRetryClient(logger *slog.Logger) *http.Client {
	return &http.Client{Transport: &retryTransport{
		base:    http.DefaultTransport,
		policy:  RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}.withDefaults(),
		timeout: 5 * time.Second,
		logger:  logger,
	}}
}

func TestRetryTransportReplaysBody(t *testing.T) {
	script := &scriptedServer{statuses: []int{503, 500}}
	srv := httptest.NewServer(script)
	defer srv.Close()
	var logs bytes.Buffer
	client := newRetryClient(slog.New(slog.NewTextHandler(&logs, nil)))

	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, strings.NewReader(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer secret-in-header")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("status = %d, want 200", resp.StatusCode)
	}
	if len(script.bodies) != 3 {
		t.Fatalf("server got %d requests, want 3", len(script.bodies))
	}
	for i, b := range script.bodies {
		if b != `{"a":1}` {
			t.Errorf("body of attempt %d = %q, want the original", i+1, b)
		}
	}
	if got := strings.Count(logs.String(), "level=WARN"); got != 2 {
		t.Errorf("log has %d warnings, want 2:\n%s", got, logs.String())
	}
	if strings.Contains(logs.String(), "secret-in-header") {
		t.Errorf("log contains a header value:\n%s", logs.String())
	}
}

func TestRetryTransportKeepsUnreplayableBody(t *testing.T) {
	script := &scriptedServer{statuses: []int{503}}
	srv := httptest.NewServer(script)
	defer srv.Close()
	client := newRetryClient(slog.New(slog.DiscardHandler))

	// A body without GetBody cannot be sent twice.
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, io.NopCloser(strings.NewReader("x")))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("status = %d, want the 503 without retry", resp.StatusCode)
	}
	if len(script.bodies) != 1 {
		t.Errorf("server got %d requests, want 1", len(script.bodies))
	}
}

func TestRetryTransportStopsAtMaxAttempts(t *testing.T) {
	script := &scriptedServer{statuses: []int{500, 500, 500, 500, 500, 500, 500}}
	srv := httptest.NewServer(script)
	defer srv.Close()
	client := newRetryClient(slog.New(slog.DiscardHandler))
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 500 {
		t.Errorf("status = %d, want 500", resp.StatusCode)
	}
	if len(script.bodies) != DefaultMaxAttempts {
		t.Errorf("server got %d requests, want %d", len(script.bodies), DefaultMaxAttempts)
	}
}

func TestRetryTransportMaxWait(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "2")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	client := &http.Client{Transport: &retryTransport{
		base:    http.DefaultTransport,
		policy:  RetryPolicy{MaxWait: time.Second}.withDefaults(),
		timeout: 5 * time.Second,
		logger:  slog.New(slog.DiscardHandler),
	}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 {
		t.Errorf("status = %d, want 429", resp.StatusCode)
	}
	if elapsed := time.Since(start); elapsed > 500*time.Millisecond {
		t.Errorf("took %v; a Retry-After beyond MaxWait must end the retries at once", elapsed)
	}
}
