package issuer

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Defaults of RetryTransport.
const (
	DefaultMaxRetryWait = time.Minute
	defaultMaxAttempts  = 4
)

// RetryTransport repeats ACME requests that the CA turned away with HTTP 503
// or 429 when its Retry-After asks for a short wait (RFC 8555 section 6.6
// asks servers to send one with rate limits). A longer wait is not slept
// through: the response goes back to the caller, and LastRetryAfter tells
// when the CA will accept the request again.
//
// A repeated POST carries the nonce already sent; a CA that consumed it
// answers badNonce, which the acme client then retries with a fresh one.
type RetryTransport struct {
	Base http.RoundTripper
	// MaxWait is the longest Retry-After honoured; zero means
	// DefaultMaxRetryWait.
	MaxWait time.Duration
	// AttemptTimeout bounds each attempt, from sending the request to
	// closing the response body, so a CA that never responds fails the
	// request. The waits between attempts do not count. Zero means no limit.
	AttemptTimeout time.Duration
	Logger         *slog.Logger

	mu        sync.Mutex
	lastRetry time.Time
}

// LastRetryAfter returns the time the CA last asked to wait for and that was
// not waited for, or the zero time.
func (t *RetryTransport) LastRetryAfter() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lastRetry
}

// RoundTrip implements http.RoundTripper.
func (t *RetryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	maxWait := t.MaxWait
	if maxWait == 0 {
		maxWait = DefaultMaxRetryWait
	}
	for attempt := 1; ; attempt++ {
		resp, err := t.attempt(base, req)
		if err != nil || (resp.StatusCode != http.StatusServiceUnavailable && resp.StatusCode != http.StatusTooManyRequests) {
			return resp, err
		}
		until, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now())
		if !ok && resp.StatusCode == http.StatusServiceUnavailable {
			until, ok = time.Now().Add(time.Duration(attempt)*time.Second), true
		}
		wait := time.Until(until)
		if !ok {
			return resp, nil
		}
		if wait > maxWait || attempt >= defaultMaxAttempts || (req.Body != nil && req.GetBody == nil) {
			t.mu.Lock()
			t.lastRetry = until
			t.mu.Unlock()
			return resp, nil
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		if t.Logger != nil {
			t.Logger.LogAttrs(req.Context(), slog.LevelWarn, "CA asked to retry later; waiting",
				slog.String("url", req.URL.String()), slog.Int("status", resp.StatusCode),
				slog.Duration("wait", wait.Round(time.Millisecond)), slog.Int("attempt", attempt))
		}
		timer := time.NewTimer(max(wait, 0))
		select {
		case <-req.Context().Done():
			timer.Stop()
			return nil, req.Context().Err()
		case <-timer.C:
		}
		next := req.Clone(req.Context())
		if req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			next.Body = body
		}
		req = next
	}
}

// attempt sends req once within AttemptTimeout. The time limit stays in
// force until the caller closes the response body.
func (t *RetryTransport) attempt(base http.RoundTripper, req *http.Request) (*http.Response, error) {
	if t.AttemptTimeout <= 0 {
		return base.RoundTrip(req)
	}
	ctx, cancel := context.WithTimeout(req.Context(), t.AttemptTimeout)
	resp, err := base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelOnClose ends an attempt's context when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// retryAfter parses a Retry-After value: delay seconds or an HTTP date
// (RFC 9110 section 10.2.3).
func retryAfter(value string, now time.Time) (time.Time, bool) {
	if value == "" {
		return time.Time{}, false
	}
	if secs, err := strconv.Atoi(value); err == nil && secs >= 0 {
		return now.Add(time.Duration(secs) * time.Second), true
	}
	if t, err := http.ParseTime(value); err == nil {
		return t, true
	}
	return time.Time{}, false
}
