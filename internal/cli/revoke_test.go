package cli_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dnscert/dnscert/internal/cli"
	"github.com/dnscert/dnscert/internal/testbed"
	"github.com/dnscert/dnscert/storage"
)

// revokeJSON is the revoke --json output.
type revokeJSON struct {
	OK               bool   `json:"ok"`
	Status           string `json:"status"`
	Certificate      string `json:"certificate"`
	Serial           string `json:"serial"`
	Reason           string `json:"reason"`
	ReasonCode       int    `json:"reason_code"`
	SignedWith       string `json:"signed_with"`
	Account          string `json:"account"`
	StoredCopyMarked bool   `json:"stored_copy_marked"`
	Error            string `json:"error"`
	ExitCode         int    `json:"exit_code"`
}

func parseRevokeJSON(t *testing.T, out string) revokeJSON {
	t.Helper()
	var r revokeJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, out)
	}
	return r
}

// revokeArgs returns a revoke command line for the storage directory dir
// that trusts the bed's CA, without --server.
func revokeArgs(bed *testbed.Bed, dir string, extra ...string) []string {
	args := []string{"dnscert", "--path", dir, "revoke", "--ca-cert", bed.Pebble.TLSCertFile}
	return append(args, extra...)
}

func loadMeta(t *testing.T, dir, name string) storage.Metadata {
	t.Helper()
	store, err := storage.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := store.LoadCertificate(name)
	if err != nil {
		t.Fatal(err)
	}
	return c.Meta
}

// The account and CA come from the certificate's metadata, since the
// command line names neither.
func TestRevokeStoredWithAccountKey(t *testing.T) {
	bed := startBed(t, testbed.Options{})
	dir := t.TempDir()
	if res := run(t, bed.IssueArgs(dir, "example.test")...); res.code != 0 {
		t.Fatalf("issue: exit %d\n%s", res.code, res.stderr)
	}

	res := run(t, revokeArgs(bed, dir, "--cert-name", "example.test", "--reason", "keyCompromise", "--json")...)
	if res.code != 0 {
		t.Fatalf("revoke: exit %d\nstderr:\n%s", res.code, res.stderr)
	}
	out := parseRevokeJSON(t, res.stdout)
	if !out.OK || out.Status != "revoked" {
		t.Errorf("ok = %t, status = %q, want a revoked certificate (error %q)", out.OK, out.Status, out.Error)
	}
	if out.SignedWith != "account" || out.Account == "" {
		t.Errorf("signed_with = %q, account = %q, want the stored account", out.SignedWith, out.Account)
	}
	if out.Reason != "keyCompromise" || out.ReasonCode != 1 {
		t.Errorf("reason = %q (%d), want keyCompromise (1)", out.Reason, out.ReasonCode)
	}
	meta := loadMeta(t, dir, "example.test")
	if !meta.Revoked {
		t.Error("the stored copy is not marked revoked")
	}
	if meta.RevocationReason != 1 {
		t.Errorf("stored revocation reason = %d, want 1", meta.RevocationReason)
	}
	if !out.StoredCopyMarked {
		t.Error("stored_copy_marked = false")
	}

	// The second request meets the CA's alreadyRevoked problem.
	res = run(t, revokeArgs(bed, dir, "--cert-name", "example.test", "--reason", "superseded")...)
	if res.code != 0 {
		t.Fatalf("second revoke: exit %d\nstderr:\n%s", res.code, res.stderr)
	}
	if !strings.Contains(res.stdout, "certificate example.test was already revoked") {
		t.Errorf("second revoke does not report the earlier revocation:\n%s", res.stdout)
	}
	if got := loadMeta(t, dir, "example.test").RevocationReason; got != 1 {
		t.Errorf("stored reason after the second revoke = %d, want the first one, 1", got)
	}
	res = run(t, revokeArgs(bed, dir, "--cert-name", "example.test", "--json")...)
	if res.code != 0 {
		t.Fatalf("third revoke: exit %d\nstderr:\n%s", res.code, res.stderr)
	}
	if out := parseRevokeJSON(t, res.stdout); out.Status != "already_revoked" || !out.OK {
		t.Errorf("third revoke: status = %q, ok = %t, want already_revoked and ok", out.Status, out.OK)
	}

	res = run(t, "dnscert", "--path", dir, "list", "--json")
	list := parseListJSON(t, res.stdout)
	if len(list.Certificates) != 1 || !list.Certificates[0].Revoked || list.Certificates[0].RevocationReason != "keyCompromise" {
		t.Errorf("list does not show the revocation:\n%s", res.stdout)
	}
}

// A request signed by the certificate key needs no account (RFC 8555
// section 7.6); the stored copy is found by the file's content.
func TestRevokeWithCertificateKey(t *testing.T) {
	bed := startBed(t, testbed.Options{})
	dir := t.TempDir()
	if res := run(t, bed.IssueArgs(dir, "www.example.test")...); res.code != 0 {
		t.Fatalf("issue: exit %d\n%s", res.code, res.stderr)
	}
	certDir := filepath.Join(dir, "certificates", "www.example.test")
	// Another storage directory holds no account, so only the key can
	// sign.
	other := t.TempDir()
	res := run(t, "dnscert", "--path", other, "revoke", "--server", bed.Pebble.DirectoryURL, "--ca-cert", bed.Pebble.TLSCertFile,
		"--cert-file", filepath.Join(certDir, "fullchain.pem"), "--key-file", filepath.Join(certDir, "privkey.pem"),
		"--reason", "4", "--json")
	if res.code != 0 {
		t.Fatalf("revoke: exit %d\nstderr:\n%s", res.code, res.stderr)
	}
	out := parseRevokeJSON(t, res.stdout)
	if !out.OK || out.Status != "revoked" || out.SignedWith != "certificate key" || out.Account != "" {
		t.Errorf("status = %q, signed_with = %q, account = %q; want revoked with the certificate key and no account", out.Status, out.SignedWith, out.Account)
	}
	if out.Reason != "superseded" {
		t.Errorf("reason = %q, want superseded for 4", out.Reason)
	}
	if out.Certificate != "" || out.StoredCopyMarked {
		t.Errorf("certificate = %q, stored_copy_marked = %t, but the storage directory of this run holds no certificate", out.Certificate, out.StoredCopyMarked)
	}

	// From the storage directory that holds it, the file matches the
	// stored copy, which gets marked although the CA revoked it before.
	res = run(t, revokeArgs(bed, dir, "--cert-file", filepath.Join(certDir, "cert.pem"), "--key-file", filepath.Join(certDir, "privkey.pem"))...)
	if res.code != 0 {
		t.Fatalf("second revoke: exit %d\nstderr:\n%s", res.code, res.stderr)
	}
	if !strings.Contains(res.stdout, "certificate www.example.test was already revoked") {
		t.Errorf("second revoke does not report the earlier revocation:\n%s", res.stdout)
	}
	if !loadMeta(t, dir, "www.example.test").Revoked {
		t.Error("the stored copy is not marked revoked")
	}
}

// Bad input fails with exit code 2 before any request reaches the CA.
func TestRevokeBadInputBeforeAnyRequest(t *testing.T) {
	bed := startBed(t, testbed.Options{})
	dir := t.TempDir()
	now := time.Now()
	certFile, _ := storeSelfSigned(t, dir, "self.example", now.Add(-time.Hour), now.Add(24*time.Hour),
		storage.Metadata{DirectoryURL: bed.Pebble.DirectoryURL, AccountEmail: "admin@example.test"})
	_, otherKey := storeSelfSigned(t, t.TempDir(), "other.example", now.Add(-time.Hour), now.Add(24*time.Hour), storage.Metadata{})

	tests := []struct {
		name string
		args []string
		want []string
	}{
		{name: "reason name for CAs", args: []string{"--cert-name", "self.example", "--reason", "cACompromise"},
			want: []string{`"cACompromise"`, "unspecified (0)", "keyCompromise (1)", "affiliationChanged (3)", "superseded (4)", "cessationOfOperation (5)"}},
		{name: "reason number for CAs", args: []string{"--cert-name", "self.example", "--reason", "6"}, want: []string{`"6"`, "keyCompromise (1)"}},
		{name: "unused reason number", args: []string{"--cert-name", "self.example", "--reason", "7"}, want: []string{`"7"`}},
		{name: "unknown reason", args: []string{"--cert-name", "self.example", "--reason", "stolen"}, want: []string{`"stolen"`}},
		{name: "no certificate", args: nil, want: []string{"--cert-name", "--cert-file"}},
		{name: "two certificates", args: []string{"--cert-name", "self.example", "--cert-file", certFile}, want: []string{"both --cert-name and --cert-file"}},
		{name: "cert key without stored certificate", args: []string{"--cert-file", certFile, "--with-cert-key"}, want: []string{"--with-cert-key", "--key-file"}},
		{name: "key of another certificate", args: []string{"--cert-file", certFile, "--key-file", otherKey}, want: []string{otherKey, "not the key"}},
		{name: "key of another stored certificate", args: []string{"--cert-name", "self.example", "--key-file", otherKey}, want: []string{otherKey, "not the key of certificate self.example"}},
		{name: "unknown certificate", args: []string{"--cert-name", "nosuch.example"}, want: []string{"nosuch.example", "not found", "dnscert list"}},
		{name: "no account to sign", args: []string{"--cert-name", "self.example"}, want: []string{"no account stored", "--with-cert-key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := bed.Pebble.Requests()
			res := run(t, revokeArgs(bed, dir, tt.args...)...)
			if res.code != cli.ExitUsage {
				t.Fatalf("exit %d, want %d\nstderr:\n%s", res.code, cli.ExitUsage, res.stderr)
			}
			for _, want := range tt.want {
				if !strings.Contains(res.stderr, want) {
					t.Errorf("stderr does not contain %s:\n%s", want, res.stderr)
				}
			}
			if n := bed.Pebble.Requests() - before; n != 0 {
				t.Errorf("%d requests reached the CA", n)
			}
		})
	}
	if loadMeta(t, dir, "self.example").Revoked {
		t.Error("a rejected command marked the stored copy revoked")
	}
}

// A problem other than alreadyRevoked exits with ExitCA and the CA's
// detail, and leaves the stored copy unmarked.
func TestRevokeCAError(t *testing.T) {
	bed := startBed(t, testbed.Options{})
	dir := t.TempDir()
	if res := run(t, accountArgs(bed, dir, "register", "--accept-tos")...); res.code != 0 {
		t.Fatalf("account register: exit %d\n%s", res.code, res.stderr)
	}
	now := time.Now()
	storeSelfSigned(t, dir, "self.example", now.Add(-time.Hour), now.Add(24*time.Hour),
		storage.Metadata{DirectoryURL: bed.Pebble.DirectoryURL, AccountEmail: "admin@example.test"})

	res := run(t, revokeArgs(bed, dir, "--cert-name", "self.example", "--json")...)
	if res.code != cli.ExitCA {
		t.Fatalf("exit %d, want %d\nstderr:\n%s", res.code, cli.ExitCA, res.stderr)
	}
	// Pebble's detail for a certificate it did not issue.
	if !strings.Contains(res.stderr, "Unable to find specified certificate") {
		t.Errorf("stderr does not carry the CA's detail:\n%s", res.stderr)
	}
	out := parseRevokeJSON(t, res.stdout)
	if out.OK || out.Status != "failed" || out.ExitCode != cli.ExitCA || !strings.Contains(out.Error, "Unable to find specified certificate") {
		t.Errorf("JSON result = %+v, want a failure with exit code %d and the CA's detail", out, cli.ExitCA)
	}
	if loadMeta(t, dir, "self.example").Revoked {
		t.Error("a failed revocation marked the stored copy revoked")
	}
}
