package cli_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/dnscert/dnscert/internal/cli"
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
