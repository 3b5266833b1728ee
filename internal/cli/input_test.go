package cli_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dnscert/dnscert/internal/cli"
	"github.com/dnscert/dnscert/internal/testbed"
)

// Bad input must fail with exit code 2 and a message naming the value,
// before any request reaches the CA or the DNS servers.
func TestIssueBadInputBeforeAnyRequest(t *testing.T) {
	bed := startBed(t, testbed.Options{})
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprintf("h%d.example.test", i)
	}
	unwritable := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(unwritable, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		names []string
		extra []string
		env   map[string]string
		want  []string
	}{
		{name: "wildcard not leftmost", names: []string{"www.*.example.test"}, want: []string{`"www.*.example.test"`, "leftmost"}},
		{name: "duplicate", names: []string{"www.example.test", "WWW.example.test."}, want: []string{`"WWW.example.test."`, "duplicate"}},
		{name: "101 names", names: many, want: []string{"101 domain names"}},
		{name: "ip address", names: []string{"192.0.2.7"}, want: []string{`"192.0.2.7"`, "IP addresses"}},
		{name: "empty name", names: []string{""}, want: []string{"empty"}},
		{name: "unknown provider", names: []string{"example.test"}, extra: []string{"--dns", "nosuch"}, want: []string{`"nosuch"`, "rfc2136"}},
		{name: "missing variable", names: []string{"example.test"}, env: map[string]string{"RFC2136_NAMESERVER": ""}, want: []string{"RFC2136_NAMESERVER"}},
		{name: "malformed tsig secret", names: []string{"example.test"}, env: map[string]string{"RFC2136_TSIG_SECRET": "not base64!"}, want: []string{"RFC2136_TSIG_SECRET", "base64"}},
		{name: "unknown key type", names: []string{"example.test"}, extra: []string{"--key-type", "dsa1024"}, want: []string{`"dsa1024"`, "ec256"}},
		{name: "bad resolver", names: []string{"example.test"}, extra: []string{"--resolver", "dns.example"}, want: []string{`"dns.example"`}},
		{name: "bad server", names: []string{"example.test"}, extra: []string{"--server", "ftp://ca.example"}, want: []string{`"ftp://ca.example"`}},
		{name: "bad email", names: []string{"example.test"}, extra: []string{"--email", "not an address"}, want: []string{`"not an address"`}},
		{name: "missing ca cert", names: []string{"example.test"}, extra: []string{"--ca-cert", "/nonexistent/ca.pem"}, want: []string{"/nonexistent/ca.pem"}},
		{name: "unwritable storage", names: []string{"example.test"}, extra: []string{"--path", unwritable}, want: []string{unwritable}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			caBefore := bed.Pebble.Requests()
			bed.DNS.Primary.ResetQueries()
			bed.DNS.Resolver.ResetQueries()

			args := bed.IssueArgs(t.TempDir(), tt.names...)
			args = append(args, tt.extra...)
			res := run(t, args...)
			if res.code != cli.ExitUsage {
				t.Fatalf("exit %d, want %d\nstderr:\n%s", res.code, cli.ExitUsage, res.stderr)
			}
			for _, want := range tt.want {
				if !strings.Contains(res.stderr, want) {
					t.Errorf("stderr does not contain %s:\n%s", want, res.stderr)
				}
			}
			if n := bed.Pebble.Requests() - caBefore; n != 0 {
				t.Errorf("%d requests reached the CA", n)
			}
			if n := len(bed.DNS.Primary.Queries()) + len(bed.DNS.Resolver.Queries()); n != 0 {
				t.Errorf("%d DNS queries were sent", n)
			}
		})
	}
}

func TestIssueNoProviderGiven(t *testing.T) {
	res := run(t, "dnscert", "--path", t.TempDir(), "issue", "-d", "example.test")
	if res.code != cli.ExitUsage || !strings.Contains(res.stderr, "--dns") {
		t.Fatalf("exit %d, stderr %q; want a usage error naming --dns", res.code, res.stderr)
	}
}

// Secrets given to a provider never show in logs or output, even at debug
// level and on failure.
func TestIssueKeepsSecretsOutOfOutput(t *testing.T) {
	bed := startBed(t, testbed.Options{})
	args := bed.IssueArgs(t.TempDir(), "example.test")
	args = append(args[:1], append([]string{"-v"}, args[1:]...)...)
	res := run(t, args...)
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	secret := bed.Env()["RFC2136_TSIG_SECRET"]
	if strings.Contains(res.stderr+res.stdout, secret) {
		t.Error("the TSIG secret appears in the output")
	}
	if !strings.Contains(res.stderr, "level=DEBUG") {
		t.Error("-v did not enable debug logs, so the check above proves little")
	}
}

// The production binary must not link the test CA.
func TestBinaryDoesNotLinkPebble(t *testing.T) {
	out, err := runGo(t, "list", "-deps", "github.com/dnscert/dnscert/cmd/dnscert")
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(out) {
		if strings.Contains(pkg, "letsencrypt/pebble") || strings.HasSuffix(pkg, "internal/testbed") || strings.HasSuffix(pkg, "internal/dnstest") {
			t.Errorf("dnscert links %s", pkg)
		}
	}
}

func writeCSR(t *testing.T, names ...string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: names}, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "request.csr")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestIssueCSRNamesMismatch(t *testing.T) {
	bed := startBed(t, testbed.Options{})
	csr := writeCSR(t, "www.example.test")
	before := bed.Pebble.Requests()
	res := run(t, append(bed.IssueArgs(t.TempDir(), "example.test"), "--csr", csr)...)
	if res.code != cli.ExitUsage {
		t.Fatalf("exit %d, want %d\n%s", res.code, cli.ExitUsage, res.stderr)
	}
	for _, want := range []string{csr, "www.example.test", "drop -d"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr does not contain %q:\n%s", want, res.stderr)
		}
	}
	if n := bed.Pebble.Requests() - before; n != 0 {
		t.Errorf("%d requests reached the CA", n)
	}
}

// With --csr the names come from the request and the key stays with the
// user: no privkey.pem is stored.
func TestIssueWithCSR(t *testing.T) {
	bed := startBed(t, testbed.Options{})
	csr := writeCSR(t, "www.example.test", "a.sub.example.test")
	dir := t.TempDir()
	args := []string{"dnscert", "--path", dir, "issue", "--csr", csr}
	args = append(args, bed.IssueArgs(dir)[4:]...)
	res := run(t, args...)
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	certDir := filepath.Join(dir, "certificates", "www.example.test")
	if _, err := os.Stat(filepath.Join(certDir, "fullchain.pem")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(certDir, "privkey.pem")); !os.IsNotExist(err) {
		t.Errorf("privkey.pem stored for a CSR order (err %v)", err)
	}
}
