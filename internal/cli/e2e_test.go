package cli_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"github.com/dnscert/dnscert/internal/syncbuf"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnscert/dnscert/internal/cli"
	"github.com/dnscert/dnscert/internal/dnstest"
	"github.com/dnscert/dnscert/internal/testbed"
)

// startBed starts Pebble and the DNS network and points the rfc2136
// provider's variables at it.
func startBed(t *testing.T, opts testbed.Options) *testbed.Bed {
	t.Helper()
	if opts.Zones == nil {
		opts.Zones = testbed.DefaultZones()
	}
	bed, err := testbed.Start(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bed.Close)
	for k, v := range bed.Env() {
		t.Setenv(k, v)
	}
	return bed
}

// result is what one run of the command line produced.
type result struct {
	code   int
	stdout string
	stderr string
}

func run(t *testing.T, args ...string) result {
	t.Helper()
	return runContext(t, t.Context(), args...)
}

func runContext(t *testing.T, ctx context.Context, args ...string) result {
	t.Helper()
	var stdout, stderr lockedBuffer
	code := cli.Run(ctx, args, cli.Streams{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr})
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// lockedBuffer is a buffer that several goroutines can write and read.
type lockedBuffer = syncbuf.Buffer

// jsonResult is the part of the --json output the tests read.
type jsonResult struct {
	OK     bool     `json:"ok"`
	Status string   `json:"status"`
	Names  []string `json:"names"`
	Files  struct {
		FullChain  string `json:"fullchain"`
		PrivateKey string `json:"privkey"`
	} `json:"files"`
	Steps []struct {
		Step    string  `json:"step"`
		Seconds float64 `json:"seconds"`
	} `json:"steps"`
	Error         string `json:"error"`
	ExitCode      int    `json:"exit_code"`
	ProviderCalls int    `json:"provider_calls"`
	DNSQueries    int64  `json:"dns_queries"`
}

func parseJSON(t *testing.T, out string) jsonResult {
	t.Helper()
	var r jsonResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, out)
	}
	return r
}

func (r jsonResult) step(name string) time.Duration {
	for _, s := range r.Steps {
		if s.Step == name {
			return time.Duration(s.Seconds * float64(time.Second))
		}
	}
	return -1
}

// verifyChain checks that the stored full chain verifies against the CA's
// roots for every name.
func verifyChain(t *testing.T, bed *testbed.Bed, fullchain string, names []string) {
	t.Helper()
	data, err := os.ReadFile(fullchain)
	if err != nil {
		t.Fatal(err)
	}
	var certs []*x509.Certificate
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	if len(certs) < 2 {
		t.Fatalf("full chain holds %d certificates, want leaf and issuer", len(certs))
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	for _, name := range names {
		host := strings.Replace(name, "*", "any-host", 1)
		_, err := certs[0].Verify(x509.VerifyOptions{Roots: bed.Pebble.Roots(), Intermediates: inter, DNSName: host})
		if err != nil {
			t.Errorf("chain does not verify for %s: %v", host, err)
		}
	}
	if got := certs[0].DNSNames; len(got) != len(names) {
		t.Errorf("certificate names = %v, want %v", got, names)
	}
}

// challengeNames lists every _acme-challenge owner that DefaultZones can
// hold, with the CNAME target in other.test.
var challengeNames = []string{
	"_acme-challenge.example.test.",
	"_acme-challenge.www.example.test.",
	"_acme-challenge.sub.example.test.",
	"_acme-challenge.a.sub.example.test.",
	"_acme-challenge.b.sub.example.test.",
	"alias-challenge.other.test.",
}

// assertNoChallengeRecords fails when any server still holds a challenge
// value.
func assertNoChallengeRecords(t *testing.T, bed *testbed.Bed) {
	t.Helper()
	// Deliver the changes that lagging secondaries still hold back.
	bed.DNS.Primary.FlushSecondaries()
	for _, name := range challengeNames {
		for ip, values := range bed.DNS.TXT(name) {
			if len(values) > 0 {
				t.Errorf("%s still serves %s TXT %v", ip, name, values)
			}
		}
	}
}

func TestIssueApexWildcardAndSANs(t *testing.T) {
	bed := startBed(t, testbed.Options{})
	dir := t.TempDir()
	names := []string{"example.test", "*.example.test", "www.example.test", "a.sub.example.test", "b.sub.example.test"}
	args := append(bed.IssueArgs(dir, names...), "--json")
	res := run(t, args...)
	if res.code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", res.code, res.stderr)
	}
	out := parseJSON(t, res.stdout)
	if !out.OK {
		t.Fatalf("ok = false: %s", out.Error)
	}
	verifyChain(t, bed, out.Files.FullChain, names)
	info, err := os.Stat(out.Files.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("private key mode = %v, want 0600", info.Mode().Perm())
	}
	// Two zones (example.test and sub.example.test): one provider call per
	// zone to publish and one to clean up.
	if out.ProviderCalls != 4 {
		t.Errorf("provider calls = %d, want 4 (2 zones, publish and cleanup)", out.ProviderCalls)
	}
	for _, step := range []string{"account", "order", "publish", "propagation", "validation", "finalize", "cleanup"} {
		if out.step(step) < 0 {
			t.Errorf("step %s missing from the JSON result", step)
		}
	}
	assertNoChallengeRecords(t, bed)
}

// The apex and its wildcard share one record name: both values must be
// served at once, and both removed at the end.
func TestIssueApexAndWildcardShareName(t *testing.T) {
	bed := startBed(t, testbed.Options{})
	res := run(t, bed.IssueArgs(t.TempDir(), "example.test", "*.example.test")...)
	if res.code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", res.code, res.stderr)
	}
	// The primary received one update that inserted two values at the name.
	var updates int
	for _, q := range bed.DNS.Primary.Queries() {
		if q.Opcode == dns.OpcodeUpdate {
			updates++
		}
	}
	if updates != 2 {
		t.Errorf("primary received %d updates, want 2 (one publish, one cleanup)", updates)
	}
	assertNoChallengeRecords(t, bed)
}

func TestIssueFollowsCNAME(t *testing.T) {
	bed := startBed(t, testbed.Options{})
	res := run(t, append(bed.IssueArgs(t.TempDir(), "alias.example.test"), "--json")...)
	if res.code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", res.code, res.stderr)
	}
	if !strings.Contains(res.stderr, "alias-challenge.other.test.") {
		t.Errorf("log does not show the CNAME target:\n%s", res.stderr)
	}
	var updatedZones []string
	for _, q := range bed.DNS.Primary.Queries() {
		if q.Opcode == dns.OpcodeUpdate {
			updatedZones = append(updatedZones, strings.ToLower(q.Name))
		}
	}
	if !slices.Contains(updatedZones, "other.test.") || slices.Contains(updatedZones, "example.test.") {
		t.Errorf("updates went to zones %v, want only other.test.", updatedZones)
	}
	assertNoChallengeRecords(t, bed)
}

func TestIssueWaitsForLaggingNameserver(t *testing.T) {
	zones := testbed.DefaultZones()
	zones[0].Delays = map[string]time.Duration{"127.0.0.12": 2 * time.Second}
	bed := startBed(t, testbed.Options{Zones: zones})
	res := run(t, append(bed.IssueArgs(t.TempDir(), "example.test", "*.example.test"), "--json")...)
	if res.code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", res.code, res.stderr)
	}
	out := parseJSON(t, res.stdout)
	if got := out.step("propagation"); got < 2*time.Second {
		t.Errorf("propagation took %s, less than the 2s lag of ns2", got)
	}
	if !strings.Contains(res.stderr, "still waiting") || !strings.Contains(res.stderr, "ns2.example.test.") {
		t.Errorf("log does not show the wait for ns2:\n%s", res.stderr)
	}
	assertNoChallengeRecords(t, bed)
}

func TestIssueFailsWhenNameserverNeverServes(t *testing.T) {
	zones := testbed.DefaultZones()
	zones[0].Delays = map[string]time.Duration{"127.0.0.12": -1}
	bed := startBed(t, testbed.Options{Zones: zones})
	dir := t.TempDir()
	res := run(t, append(bed.IssueArgs(dir, "example.test", "www.example.test"), "--propagation-timeout", "2s")...)
	if res.code != cli.ExitPropagation {
		t.Fatalf("exit %d, want %d\nstderr:\n%s", res.code, cli.ExitPropagation, res.stderr)
	}
	for _, want := range []string{"propagation timed out", "ns2.example.test.", "127.0.0.12", "_acme-challenge.www.example.test."} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr does not name %s:\n%s", want, res.stderr)
		}
	}
	assertNoChallengeRecords(t, bed)
	if _, err := os.Stat(filepath.Join(dir, "certificates", "example.test")); err == nil {
		t.Error("a failed run stored a certificate")
	}
	journals, _ := filepath.Glob(filepath.Join(dir, "journal", "*.json"))
	if len(journals) != 0 {
		t.Errorf("journal left behind after a complete cleanup: %v", journals)
	}
}

func TestIssueFailureKeepsStoredCertificate(t *testing.T) {
	zones := testbed.DefaultZones()
	bed := startBed(t, testbed.Options{Zones: zones})
	dir := t.TempDir()
	if res := run(t, bed.IssueArgs(dir, "www.example.test")...); res.code != 0 {
		t.Fatalf("first run: exit %d\n%s", res.code, res.stderr)
	}
	certDir := filepath.Join(dir, "certificates", "www.example.test")
	before := readFiles(t, certDir)

	bed.DNS.Nameserver("127.0.0.12").SetFaults(dnstest.Faults{Drop: true})
	// Another account: Pebble reuses a valid authorization of the same
	// account about 1% of the time even with reuse set to 0, and the second
	// run must validate.
	res := run(t, append(bed.IssueArgs(dir, "www.example.test"), "--propagation-timeout", "1s", "--email", "second@example.test")...)
	if res.code == 0 {
		t.Fatal("second run succeeded with a dead nameserver")
	}
	after := readFiles(t, certDir)
	for name, data := range before {
		if !bytes.Equal(after[name], data) {
			t.Errorf("%s changed after a failed run", name)
		}
	}
}

func readFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string][]byte)
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = data
	}
	if len(out) < 5 {
		t.Fatalf("%s holds %d files, want cert, chain, fullchain, key and metadata", dir, len(out))
	}
	return out
}

// Names given in Unicode and mixed case are ordered and published as
// lower-case A-labels, and answers that echo names in another case match.
func TestIssueInternationalizedMixedCase(t *testing.T) {
	zones := []testbed.ZoneSpec{{
		Origin:      "xn--bcher-kva.test.",
		Nameservers: []string{"127.0.0.11", "127.0.0.12"},
		Records:     "shop IN A 127.0.0.1\n",
	}}
	bed := startBed(t, testbed.Options{Zones: zones})
	for _, ip := range zones[0].Nameservers {
		bed.DNS.Nameserver(ip).SetFaults(dnstest.Faults{LowercaseEcho: true})
	}
	dir := t.TempDir()
	res := run(t, append(bed.IssueArgs(dir, "Shop.Bücher.test", "*.BÜCHER.test"), "--json")...)
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	out := parseJSON(t, res.stdout)
	verifyChain(t, bed, out.Files.FullChain, []string{"shop.xn--bcher-kva.test", "*.xn--bcher-kva.test"})
	bed.DNS.Primary.FlushSecondaries()
	for _, name := range []string{"_acme-challenge.shop.xn--bcher-kva.test.", "_acme-challenge.xn--bcher-kva.test."} {
		for ip, values := range bed.DNS.TXT(name) {
			if len(values) > 0 {
				t.Errorf("%s still serves %s TXT %v", ip, name, values)
			}
		}
	}
}

// On port 53 the nameservers are reached exactly as NS records name them,
// without the test-only port setting. Binding port 53 needs root, which CI
// has; elsewhere the test is skipped, and in CI it must run.
func TestIssueOnPort53(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI must run as root so that this test can bind port 53")
		}
		t.Skip("binding port 53 needs root")
	}
	bed := startBed(t, testbed.Options{Port: 53, Subnet: 53})
	args := bed.IssueArgs(t.TempDir(), "example.test", "*.example.test", "a.sub.example.test")
	// Drop --dns-port: production always uses 53.
	for i, a := range args {
		if a == "--dns-port" {
			args = append(args[:i], args[i+2:]...)
			break
		}
	}
	res := run(t, append(args, "--json")...)
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	out := parseJSON(t, res.stdout)
	verifyChain(t, bed, out.Files.FullChain, []string{"example.test", "*.example.test", "a.sub.example.test"})
	if !strings.Contains(res.stderr, "127.0.53.11") {
		t.Errorf("log does not show the nameservers on 127.0.53.x:\n%s", res.stderr)
	}
}
