package cli_test

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dnscert/dnscert/internal/cli"
	"github.com/dnscert/dnscert/internal/dnstest"
	"github.com/dnscert/dnscert/internal/testbed"
)

// rejectFirst answers the first n requests to path with status, a
// Retry-After header and an ACME problem document, then lets requests
// through to Pebble.
func rejectFirst(path string, n int64, status int, retryAfter, problemType, detail string) func(http.Handler) http.Handler {
	var seen atomic.Int64
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == path && seen.Add(1) <= n {
				w.Header().Set("Retry-After", retryAfter)
				w.Header().Set("Content-Type", "application/problem+json")
				w.WriteHeader(status)
				w.Write([]byte(`{"type":"` + problemType + `","detail":"` + detail + `","status":` + itoa(status) + `}`))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func TestIssueRetriesUnavailableCA(t *testing.T) {
	bed := startBed(t, testbed.Options{Pebble: testbed.PebbleOptions{
		Middleware: rejectFirst(testbed.NewOrderPath, 2, http.StatusServiceUnavailable, "1",
			"urn:ietf:params:acme:error:serverInternal", "down for maintenance"),
	}})
	res := run(t, bed.IssueArgs(t.TempDir(), "www.example.test")...)
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	if !strings.Contains(res.stderr, "CA asked to retry later") {
		t.Errorf("log does not show the wait:\n%s", res.stderr)
	}
}

func TestIssueRateLimitedStops(t *testing.T) {
	bed := startBed(t, testbed.Options{Pebble: testbed.PebbleOptions{
		Middleware: rejectFirst(testbed.NewOrderPath, 100, http.StatusTooManyRequests, "3600",
			"urn:ietf:params:acme:error:rateLimited", "too many new orders recently"),
	}})
	res := run(t, bed.IssueArgs(t.TempDir(), "www.example.test")...)
	if res.code != cli.ExitCA {
		t.Fatalf("exit %d, want %d\n%s", res.code, cli.ExitCA, res.stderr)
	}
	for _, want := range []string{"too many new orders recently", "rateLimited", "retry after"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr does not contain %q:\n%s", want, res.stderr)
		}
	}
	if n := bed.Pebble.RequestsTo(testbed.NewOrderPath); n != 1 {
		t.Errorf("%d order requests for an hour-long rate limit, want 1", n)
	}
}

func TestIssueSurvivesBadNonces(t *testing.T) {
	bed := startBed(t, testbed.Options{Pebble: testbed.PebbleOptions{NonceReject: 40}})
	res := run(t, bed.IssueArgs(t.TempDir(), "example.test", "*.example.test")...)
	if res.code != 0 {
		t.Fatalf("exit %d with 40%% of nonces rejected\n%s", res.code, res.stderr)
	}
}

// A challenge the CA finds invalid is reported with the CA's detail, the
// name and the record that was served.
func TestIssueInvalidAuthorizationReported(t *testing.T) {
	// Pebble asks a server that knows no zone, so validation fails
	// although every authoritative server serves the record.
	empty, err := dnstest.NewServer("127.0.0.30:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { empty.Close() })
	bed := startBed(t, testbed.Options{Pebble: testbed.PebbleOptions{DNSServer: empty.Addr()}})
	dir := t.TempDir()
	res := run(t, bed.IssueArgs(dir, "www.example.test")...)
	if res.code != cli.ExitCA {
		t.Fatalf("exit %d, want %d\n%s", res.code, cli.ExitCA, res.stderr)
	}
	for _, want := range []string{"validation of www.example.test failed", "_acme-challenge.www.example.test.", "unauthorized"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr does not contain %q:\n%s", want, res.stderr)
		}
	}
	assertNoChallengeRecords(t, bed)
}

// A CA that takes seconds to validate is polled, honouring Retry-After,
// until the authorizations are final.
func TestIssueSlowValidation(t *testing.T) {
	bed := startBed(t, testbed.Options{Pebble: testbed.PebbleOptions{ValidationSleep: 3}})
	res := run(t, append(bed.IssueArgs(t.TempDir(), "example.test", "*.example.test", "www.example.test"), "--json")...)
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	out := parseJSON(t, res.stdout)
	if !out.OK {
		t.Fatalf("ok = false: %s", out.Error)
	}
	assertNoChallengeRecords(t, bed)
}
