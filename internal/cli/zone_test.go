package cli_test

import (
	"strings"
	"testing"

	"github.com/dnscert/dnscert/internal/cli"
	"github.com/dnscert/dnscert/internal/testbed"
)

// A --zone that cannot hold the records fails before the order is created.
func TestIssueWrongZoneBeforeOrder(t *testing.T) {
	bed := startBed(t, testbed.Options{})
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "unrelated zone", args: []string{"-d", "www.example.test", "--zone", "other.test"}, want: "not inside it"},
		{name: "parent of a delegated zone", args: []string{"-d", "a.sub.example.test", "--zone", "example.test"}, want: "delegated below it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orders := bed.Pebble.RequestsTo(testbed.NewOrderPath)
			res := run(t, append(bed.IssueArgs(t.TempDir()), tt.args...)...)
			if res.code != cli.ExitUsage {
				t.Fatalf("exit %d, want %d\n%s", res.code, cli.ExitUsage, res.stderr)
			}
			if !strings.Contains(res.stderr, "invalid --zone") || !strings.Contains(res.stderr, tt.want) {
				t.Errorf("stderr does not explain the zone:\n%s", res.stderr)
			}
			if n := bed.Pebble.RequestsTo(testbed.NewOrderPath) - orders; n != 0 {
				t.Errorf("%d orders created", n)
			}
		})
	}
}

// A --zone that is right is used even where DNS could find it.
func TestIssueWithZoneOption(t *testing.T) {
	bed := startBed(t, testbed.Options{})
	res := run(t, append(bed.IssueArgs(t.TempDir(), "www.example.test", "example.test"), "--zone", "Example.TEST")...)
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	assertNoChallengeRecords(t, bed)
}

// An apex and its wildcard share one record, so they cannot go to two
// providers; that is found before any request.
func TestIssueDNSForSplitsSharedRecord(t *testing.T) {
	bed := startBed(t, testbed.Options{})
	before := bed.Pebble.Requests()
	res := run(t, append(bed.IssueArgs(t.TempDir(), "example.test", "*.example.test"), "--dns-for", "*.example.test=exec")...)
	if res.code != cli.ExitUsage {
		t.Fatalf("exit %d, want %d\n%s", res.code, cli.ExitUsage, res.stderr)
	}
	for _, want := range []string{"example.test and *.example.test share the record", "rfc2136 and exec"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr does not contain %q:\n%s", want, res.stderr)
		}
	}
	if n := bed.Pebble.Requests() - before; n != 0 {
		t.Errorf("%d requests reached the CA", n)
	}
}
