package cloudflare

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// RetryPolicy bounds the retries of one API request. The zero value of a
// field means its default.
type RetryPolicy struct {
	// MaxAttempts is the maximum number of attempts, the first included.
	// The default is 5; 1 disables retries.
	MaxAttempts int
	// BaseDelay is the backoff before the first retry. It doubles for each
	// further retry, and a random jitter of up to half of it is taken
	// off. The default is 1s.
	BaseDelay time.Duration
	// MaxDelay caps one backoff. It does not cap a Retry-After that the
	// API sends. The default is 30s.
	MaxDelay time.Duration
	// MaxWait caps the total wait between the attempts of one request.
	// When the next wait would exceed it, the last response is returned
	// instead. The default is 60s.
	MaxWait time.Duration
}

// Defaults of RetryPolicy.
const (
	DefaultMaxAttempts = 5
	DefaultBaseDelay   = time.Second
	DefaultMaxDelay    = 30 * time.Second
	DefaultMaxWait     = 60 * time.Second
)

func (r RetryPolicy) withDefaults() RetryPolicy {
	if r.MaxAttempts == 0 {
		r.MaxAttempts = DefaultMaxAttempts
	}
	if r.BaseDelay == 0 {
		r.BaseDelay = DefaultBaseDelay
	}
	if r.MaxDelay == 0 {
		r.MaxDelay = DefaultMaxDelay
	}
	if r.MaxWait == 0 {
		r.MaxWait = DefaultMaxWait
	}
	return r
}

// backoff returns the wait before retry number retry (1 for the first
// retry): BaseDelay doubled retry-1 times, capped at MaxDelay, minus a
// random jitter of up to half, so clients that failed together spread out.
func (r RetryPolicy) backoff(retry int) time.Duration {
	d := r.BaseDelay
	for i := 1; i < retry && d < r.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, r.MaxDelay)
	half := d / 2
	if half <= 0 {
		return d
	}
	return d - rand.N(half+1)
}

// attemptsKey carries an *atomic.Int32 in which retryTransport stores the
// number of attempts made for a request.
type attemptsKey struct{}

// retryTransport retries requests that got HTTP 429 or 5xx, or failed on
// the network, and limits each attempt to a timeout. It repeats creates
// and deletes too. The API rejects a second identical record with error
// 81057 or 81058, and the deletion of a deleted record with 81044. The
// caller treats those codes as success, so repeating a request whose
// response was lost does no harm.
type retryTransport struct {
	base    http.RoundTripper
	policy  RetryPolicy
	timeout time.Duration // of each attempt
	logger  *slog.Logger
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	counter, _ := ctx.Value(attemptsKey{}).(*atomic.Int32)
	// A body can be sent again only when it can be recreated.
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil

	var waited time.Duration
	for attempt := 1; ; attempt++ {
		if counter != nil {
			counter.Store(int32(attempt))
		}
		attemptCtx, cancel := context.WithTimeout(ctx, t.timeout)
		out := req.WithContext(attemptCtx)
		if attempt > 1 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				cancel()
				return nil, err
			}
			out.Body = body
		}

		resp, err := t.base.RoundTrip(out)
		wait, retry := t.nextWait(ctx, resp, err, attempt, waited)
		if !retry || !replayable {
			if resp == nil {
				cancel()
				return nil, err
			}
			resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
			return resp, nil
		}

		attrs := []slog.Attr{
			slog.String("method", req.Method),
			slog.String("path", req.URL.Path),
			slog.Int("attempt", attempt),
			slog.Int("max_attempts", t.policy.MaxAttempts),
			slog.Duration("wait", wait),
		}
		if resp != nil {
			attrs = append(attrs, slog.Int("status", resp.StatusCode))
			// Reading the rest of the body lets the connection be reused.
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		} else {
			attrs = append(attrs, slog.String("error", err.Error()))
		}
		cancel()
		t.logger.LogAttrs(ctx, slog.LevelWarn, "Cloudflare API request failed, retrying", attrs...)

		if err := sleep(ctx, wait); err != nil {
			return nil, err
		}
		waited += wait
	}
}

// nextWait decides whether the response to attempt deserves another attempt,
// and after how long.
func (t *retryTransport) nextWait(ctx context.Context, resp *http.Response, err error, attempt int, waited time.Duration) (time.Duration, bool) {
	if ctx.Err() != nil || attempt >= t.policy.MaxAttempts {
		return 0, false
	}
	var wait time.Duration
	switch {
	case err != nil:
		if !retryableError(err) {
			return 0, false
		}
		wait = t.policy.backoff(attempt)
	case retryableStatus(resp.StatusCode):
		if after, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			wait = after
		} else {
			wait = t.policy.backoff(attempt)
		}
	default:
		return 0, false
	}
	if waited+wait > t.policy.MaxWait {
		return 0, false
	}
	return wait, true
}

// retryableStatus reports whether a response with the HTTP status code may
// succeed when the request is repeated: rate limiting and server errors,
// except 501, which a repetition cannot change.
func retryableStatus(code int) bool {
	return code == http.StatusTooManyRequests || (code >= 500 && code <= 599 && code != http.StatusNotImplemented)
}

// retryableError reports whether a request that failed without a response
// may succeed when repeated: network errors, timeouts of one attempt and
// connections closed before the response, but not certificate errors.
func retryableError(err error) bool {
	var certErr *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var hostnameErr x509.HostnameError
	if errors.As(err, &certErr) || errors.As(err, &unknownAuthority) || errors.As(err, &hostnameErr) {
		return false
	}
	var netErr net.Error
	return errors.As(err, &netErr) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF)
}

// parseRetryAfter reads a Retry-After header, which RFC 9110 section
// 10.2.3 defines as delay-seconds or an HTTP-date. A date in the past
// means no wait.
func parseRetryAfter(value string, now time.Time) (time.Duration, bool) {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0, false
	}
	if seconds, err := strconv.ParseUint(value, 10, 32); err == nil {
		return time.Duration(seconds) * time.Second, true
	}
	date, err := http.ParseTime(value)
	if err != nil {
		return 0, false
	}
	return max(date.Sub(now), 0), true
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// cancelOnClose ends the context of an attempt when the caller is done
// with the body, so the timeout covers reading the body too.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
