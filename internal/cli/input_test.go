package cli_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
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
	weakRSA := writeKey(t, mustRSAKey(t, 1024))
	p521 := writeKey(t, mustECKey(t, elliptic.P521()))
	ec256 := writeKey(t, mustECKey(t, elliptic.P256()))
	cnOnly := writeCSRTemplate(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "www.example.test"}})
	cnOutsideSANs := writeCSRTemplate(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "example.test"}, DNSNames: []string{"www.example.test"}})
	garbage := filepath.Join(t.TempDir(), "garbage.csr")
	if err := os.WriteFile(garbage, []byte("this is not a request\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	certPEM := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0}}), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		names []string
		extra []string
		env   map[string]string
		want  []string
		// reject are strings that must not appear on stderr.
		reject []string
		// oneLine requires exactly one line on stderr.
		oneLine bool
	}{
		{name: "port out of range", names: []string{"example.test"}, extra: []string{"--server", "https://127.0.0.1:99999/dir"}, want: []string{"99999", "1 to 65535"}},
		{name: "http on a name that looks like loopback", names: []string{"example.test"}, extra: []string{"--server", "http://127.evil.example/dir"}, want: []string{"127.evil.example", "HTTPS"}},
		{name: "credentials in server URL", names: []string{"example.test"}, extra: []string{"--server", "https://user:s3cret@127.0.0.1:14000/dir"},
			want: []string{"credentials in the URL are not supported"}, reject: []string{"s3cret"}},
		{name: "weak RSA key", names: []string{"example.test"}, extra: []string{"--key", weakRSA}, want: []string{weakRSA, "1024-bit RSA", "ec256"}},
		{name: "P-521 key", names: []string{"example.test"}, extra: []string{"--key", p521}, want: []string{p521, "P-521"}},
		{name: "key type not of the key", names: []string{"example.test"}, extra: []string{"--key", ec256, "--key-type", "rsa2048"},
			want: []string{"--key-type rsa2048", ec256, "ec256"}},
		{name: "key type not of the CSR", extra: []string{"--csr", writeCSR(t, "www.example.test"), "--key-type", "ec384"},
			want: []string{"--key-type ec384", "ec256"}},
		{name: "CSR with common name only", extra: []string{"--csr", cnOnly}, want: []string{cnOnly, `"www.example.test"`, "SAN"}},
		{name: "CSR common name outside SANs", extra: []string{"--csr", cnOutsideSANs}, want: []string{cnOutsideSANs, `"example.test"`, "SAN"}},
		{name: "garbage CSR", extra: []string{"--csr", garbage}, want: []string{garbage, "certificate request"},
			reject: []string{"asn1", "no domain names"}, oneLine: true},
		{name: "certificate as CSR", extra: []string{"--csr", certPEM}, want: []string{certPEM, "CERTIFICATE block"}, oneLine: true},
		{name: "empty names in a list", names: []string{","}, want: []string{`invalid domain name ""`}, oneLine: true},
		{name: "invalid EAB HMAC", names: []string{"example.test"}, extra: []string{"--eab-hmac", "!!!"}, want: []string{"--eab-hmac"},
			reject: []string{"needs both"}, oneLine: true},
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
			for _, reject := range tt.reject {
				if strings.Contains(res.stderr, reject) {
					t.Errorf("stderr contains %s:\n%s", reject, res.stderr)
				}
			}
			if n := strings.Count(res.stderr, "\n"); tt.oneLine && n != 1 {
				t.Errorf("stderr has %d lines, want 1:\n%s", n, res.stderr)
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
	return writeCSRTemplate(t, &x509.CertificateRequest{DNSNames: names})
}

// writeCSRTemplate writes a PEM request made from tmpl with a new P-256
// key and returns its path.
func writeCSRTemplate(t *testing.T, tmpl *x509.CertificateRequest) string {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, mustECKey(t, elliptic.P256()))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "request.csr")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustECKey(t *testing.T, curve elliptic.Curve) crypto.Signer {
	t.Helper()
	key, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func mustRSAKey(t *testing.T, bits int) crypto.Signer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// writeKey writes key as a PKCS #8 PEM file and returns its path.
func writeKey(t *testing.T, key crypto.Signer) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
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
