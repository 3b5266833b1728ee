package cli_test

import (
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dnscert/dnscert/internal/cli"
	"github.com/dnscert/dnscert/internal/dnstest"
	"github.com/dnscert/dnscert/internal/testbed"
)

// Rejected credentials stop the run at once with a message naming the
// provider and the variables, and nothing is published.
func TestIssueRejectedCredentials(t *testing.T) {
	bed := startBed(t, testbed.Options{})
	t.Setenv("RFC2136_TSIG_SECRET", base64.StdEncoding.EncodeToString([]byte("a wrong but well-formed secret!!")))
	res := run(t, bed.IssueArgs(t.TempDir(), "example.test", "www.example.test")...)
	if res.code != cli.ExitProvider {
		t.Fatalf("exit %d, want %d\n%s", res.code, cli.ExitProvider, res.stderr)
	}
	for _, want := range []string{"provider rfc2136 rejected the credentials", "RFC2136_TSIG_SECRET", "BADSIG"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr does not contain %q:\n%s", want, res.stderr)
		}
	}
	if strings.Contains(res.stdout+res.stderr, "a wrong but well-formed secret") {
		t.Error("output contains the secret")
	}
	assertNoChallengeRecords(t, bed)
}

// When the records cannot be removed after the certificate was issued, the
// certificate is still stored, the run exits 3, and the journal keeps the
// values for dnscert cleanup.
func TestIssueCleanupFailureKeepsCertificate(t *testing.T) {
	var bed *testbed.Bed
	refuseUpdates := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Responding to a challenge means publishing is over: from now on
			// the primary refuses updates, so the removal fails.
			if strings.HasPrefix(r.URL.Path, "/chalZ/") && bed != nil {
				bed.DNS.Primary.SetFaults(dnstest.Faults{Refuse: true})
			}
			next.ServeHTTP(w, r)
		})
	}
	bed = startBed(t, testbed.Options{Pebble: testbed.PebbleOptions{Middleware: refuseUpdates}})
	dir := t.TempDir()
	res := run(t, bed.IssueArgs(dir, "www.example.test")...)
	if res.code != cli.ExitProvider {
		t.Fatalf("exit %d, want %d\n%s", res.code, cli.ExitProvider, res.stderr)
	}
	if !strings.Contains(res.stderr, "dnscert cleanup") {
		t.Errorf("stderr does not point to dnscert cleanup:\n%s", res.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "certificates", "www.example.test", "fullchain.pem")); err != nil {
		t.Errorf("certificate not stored: %v", err)
	}
	journals, _ := filepath.Glob(filepath.Join(dir, "journal", "*.json"))
	if len(journals) != 1 {
		t.Fatalf("%d journals left, want 1 listing the records", len(journals))
	}

	bed.DNS.Primary.SetFaults(dnstest.Faults{})
	res = run(t, "dnscert", "--path", dir, "cleanup")
	if res.code != 0 || !strings.Contains(res.stdout, "removed 1 challenge records") {
		t.Fatalf("cleanup: exit %d\nstdout: %s\nstderr: %s", res.code, res.stdout, res.stderr)
	}
	assertNoChallengeRecords(t, bed)
}
