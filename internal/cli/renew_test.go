package cli_test

import (
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dnscert/dnscert/internal/cli"
	"github.com/dnscert/dnscert/internal/testbed"
	"github.com/dnscert/dnscert/storage"
)

// renewSummary is the part of renew's --json output the tests read.
type renewSummary struct {
	OK           bool `json:"ok"`
	Renewed      int  `json:"renewed"`
	NotDue       int  `json:"not_due"`
	Failed       int  `json:"failed"`
	ExitCode     int  `json:"exit_code"`
	Certificates []struct {
		OK            bool   `json:"ok"`
		Status        string `json:"status"`
		Reason        string `json:"reason"`
		Certificate   string `json:"certificate"`
		Serial        string `json:"serial"`
		Replaces      string `json:"replaces"`
		Error         string `json:"error"`
		RenewalWindow *struct {
			Start        time.Time `json:"start"`
			End          time.Time `json:"end"`
			SelectedTime time.Time `json:"selected_time"`
		} `json:"renewal_window"`
		Steps []struct {
			Step    string  `json:"step"`
			Seconds float64 `json:"seconds"`
		} `json:"steps"`
	} `json:"certificates"`
}

func parseRenew(t *testing.T, out string) renewSummary {
	t.Helper()
	var s renewSummary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("renew stdout is not one JSON object: %v\n%s", err, out)
	}
	return s
}

// issued starts a bed and issues one certificate for www.example.test into
// a fresh store.
func issued(t *testing.T, opts testbed.Options, extra ...string) (*testbed.Bed, string) {
	t.Helper()
	bed := startBed(t, opts)
	dir := t.TempDir()
	res := run(t, append(bed.IssueArgs(dir, "www.example.test"), extra...)...)
	if res.code != 0 {
		t.Fatalf("issue: exit %d\n%s", res.code, res.stderr)
	}
	return bed, dir
}

// renewArgs builds a renew command line for the bed's CA and store.
func renewArgs(bed *testbed.Bed, dir string, extra ...string) []string {
	args := []string{"dnscert", "--path", dir, "renew", "--ca-cert", bed.Pebble.TLSCertFile,
		"--resolver", bed.DNS.ResolverAddr(), "--dns-port", itoa(bed.DNS.Port), "--json"}
	return append(args, extra...)
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func storedCert(t *testing.T, dir, name string) (*x509.Certificate, []byte) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "certificates", name, "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert, data
}

func TestRenewNotDue(t *testing.T) {
	bed, dir := issued(t, testbed.Options{})
	orders := bed.Pebble.RequestsTo(testbed.NewOrderPath)
	res := run(t, "dnscert", "--path", dir, "renew", "--ca-cert", bed.Pebble.TLSCertFile)
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	if got := strings.TrimSpace(res.stdout); got != "No certificate is due for renewal (1 checked)." {
		t.Errorf("stdout = %q, want one line saying nothing is due", got)
	}
	if n := bed.Pebble.RequestsTo(testbed.NewOrderPath) - orders; n != 0 {
		t.Errorf("%d orders created although nothing was due", n)
	}
}

func TestRenewInsideARIWindow(t *testing.T) {
	bed, dir := issued(t, testbed.Options{})
	old, oldPEM := storedCert(t, dir, "www.example.test")
	if err := bed.Pebble.SetRenewalInfo(oldPEM, time.Now().Add(-time.Hour), time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	res := run(t, renewArgs(bed, dir)...)
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	sum := parseRenew(t, res.stdout)
	if sum.Renewed != 1 || len(sum.Certificates) != 1 {
		t.Fatalf("summary = %+v, want one renewal", sum)
	}
	c := sum.Certificates[0]
	if c.Status != "renewed" {
		t.Errorf("status = %s, want renewed", c.Status)
	}
	if c.Replaces == "" {
		t.Error("the renewal order did not carry replaces")
	}
	if !strings.Contains(c.Reason, "renewal window") {
		t.Errorf("reason %q does not mention the CA's window", c.Reason)
	}
	renewed, _ := storedCert(t, dir, "www.example.test")
	if renewed.SerialNumber.Cmp(old.SerialNumber) == 0 {
		t.Error("the stored certificate was not replaced")
	}
}

func TestRenewOutsideARIWindow(t *testing.T) {
	bed, dir := issued(t, testbed.Options{})
	_, oldPEM := storedCert(t, dir, "www.example.test")
	start, end := time.Now().Add(24*time.Hour), time.Now().Add(48*time.Hour)
	if err := bed.Pebble.SetRenewalInfo(oldPEM, start, end); err != nil {
		t.Fatal(err)
	}
	res := run(t, renewArgs(bed, dir)...)
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	sum := parseRenew(t, res.stdout)
	if sum.Renewed != 0 || sum.NotDue != 1 {
		t.Fatalf("summary = %+v, want one certificate not due", sum)
	}
	w := sum.Certificates[0].RenewalWindow
	if w == nil {
		t.Fatal("no renewal window in the result")
	}
	if w.SelectedTime.Before(start.Truncate(time.Second)) || w.SelectedTime.After(end) {
		t.Errorf("selected time %s outside the window %s..%s", w.SelectedTime, start, end)
	}
	// A second check keeps the instant chosen for the same window.
	again := parseRenew(t, run(t, renewArgs(bed, dir)...).stdout)
	if got := again.Certificates[0].RenewalWindow.SelectedTime; !got.Equal(w.SelectedTime) {
		t.Errorf("selected time changed from %s to %s for the same window", w.SelectedTime, got)
	}
}

func TestRenewDaysAndForce(t *testing.T) {
	bed, dir := issued(t, testbed.Options{})
	// The certificate is valid for 90 days: --days 30 is not due, 100 is.
	if sum := parseRenew(t, run(t, renewArgs(bed, dir, "--days", "30")...).stdout); sum.Renewed != 0 {
		t.Errorf("--days 30 renewed a 90-day certificate: %+v", sum)
	}
	if sum := parseRenew(t, run(t, renewArgs(bed, dir, "--days", "100")...).stdout); sum.Renewed != 1 {
		t.Errorf("--days 100 did not renew: %+v", sum)
	}
	if sum := parseRenew(t, run(t, renewArgs(bed, dir, "--force", "--cert-name", "www.example.test")...).stdout); sum.Renewed != 1 {
		t.Errorf("--force did not renew: %+v", sum)
	}
}

func TestRenewReuseKey(t *testing.T) {
	bed, dir := issued(t, testbed.Options{})
	before, _ := storedCert(t, dir, "www.example.test")
	if res := run(t, renewArgs(bed, dir, "--force", "--reuse-key")...); res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	after, _ := storedCert(t, dir, "www.example.test")
	if !before.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(after.PublicKey) {
		t.Error("--reuse-key produced a certificate for another key")
	}
	if res := run(t, renewArgs(bed, dir, "--force")...); res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	fresh, _ := storedCert(t, dir, "www.example.test")
	if after.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(fresh.PublicKey) {
		t.Error("a renewal without --reuse-key kept the old key")
	}
}

func TestRenewDeployHook(t *testing.T) {
	bed, dir := issued(t, testbed.Options{})
	envFile := filepath.Join(t.TempDir(), "env")
	hook := "env > " + envFile
	if res := run(t, renewArgs(bed, dir, "--force", "--deploy-hook", hook)...); res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	data, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatalf("hook did not run: %v", err)
	}
	env := string(data)
	certDir := filepath.Join(dir, "certificates", "www.example.test")
	for _, want := range []string{
		"DNSCERT_CERT_NAME=www.example.test",
		"DNSCERT_DOMAINS=www.example.test",
		"DNSCERT_FULLCHAIN_PATH=" + filepath.Join(certDir, "fullchain.pem"),
		"DNSCERT_KEY_PATH=" + filepath.Join(certDir, "privkey.pem"),
		"RENEWED_LINEAGE=" + certDir,
	} {
		if !strings.Contains(env, want+"\n") {
			t.Errorf("hook environment lacks %s", want)
		}
	}
	if strings.Contains(env, "RFC2136_TSIG_SECRET=") {
		t.Error("the hook received the TSIG secret")
	}
}

func TestRenewFailingHookKeepsCertificate(t *testing.T) {
	bed, dir := issued(t, testbed.Options{})
	old, _ := storedCert(t, dir, "www.example.test")
	res := run(t, renewArgs(bed, dir, "--force", "--deploy-hook", "exit 3")...)
	if res.code != cli.ExitHook {
		t.Fatalf("exit %d, want %d\n%s", res.code, cli.ExitHook, res.stderr)
	}
	if !strings.Contains(res.stderr, "deploy hook") {
		t.Errorf("stderr does not report the hook:\n%s", res.stderr)
	}
	renewed, _ := storedCert(t, dir, "www.example.test")
	if renewed.SerialNumber.Cmp(old.SerialNumber) == 0 {
		t.Error("the new certificate was not kept after the hook failed")
	}
	// One certificate counts once: renewed, since it is stored.
	sum := parseRenew(t, res.stdout)
	if sum.Renewed != 1 || sum.Failed != 0 || sum.ExitCode != cli.ExitHook {
		t.Errorf("summary: renewed %d, failed %d, exit_code %d; want 1, 0, %d", sum.Renewed, sum.Failed, sum.ExitCode, cli.ExitHook)
	}
	if len(sum.Certificates) != 1 {
		t.Fatalf("%d certificates in the summary, want 1", len(sum.Certificates))
	}
	if c := sum.Certificates[0]; !c.OK || c.Status != "renewed" || !strings.Contains(c.Error, "deploy hook") {
		t.Errorf("certificate: ok %t, status %q, error %q; want ok, renewed, and the hook's error", c.OK, c.Status, c.Error)
	}

	text := run(t, "dnscert", "--path", dir, "renew", "--ca-cert", bed.Pebble.TLSCertFile, "--resolver", bed.DNS.ResolverAddr(),
		"--dns-port", itoa(bed.DNS.Port), "--force", "--deploy-hook", "exit 3")
	if text.code != cli.ExitHook {
		t.Fatalf("text run: exit %d, want %d\n%s", text.code, cli.ExitHook, text.stderr)
	}
	if !strings.Contains(text.stdout, "1 renewed, 0 not due, 0 failed.") {
		t.Errorf("stdout does not count the certificate once as renewed:\n%s", text.stdout)
	}
}

// --server with the URL a certificate came from keeps the account e-mail
// stored with it, instead of registering an account without one.
func TestRenewSameServerKeepsAccount(t *testing.T) {
	bed, dir := issued(t, testbed.Options{})
	res := run(t, renewArgs(bed, dir, "--server", bed.Pebble.DirectoryURL, "--force")...)
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	if sum := parseRenew(t, res.stdout); sum.Renewed != 1 {
		t.Errorf("summary = %+v, want one renewal", sum)
	}
	store, err := storage.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	accounts, err := store.ListAccounts()
	if err != nil {
		t.Fatal(err)
	}
	if len(accounts) != 1 || accounts[0].Email != "admin@example.test" {
		t.Errorf("stored accounts = %+v, want only the one of admin@example.test", accounts)
	}
	c, err := store.LoadCertificate("www.example.test")
	if err != nil {
		t.Fatal(err)
	}
	if c.Meta.AccountEmail != "admin@example.test" {
		t.Errorf("account e-mail of the renewed certificate = %q, want admin@example.test", c.Meta.AccountEmail)
	}
}

// --reuse-key does not certify a key reported compromised again, and logs
// a warning.
func TestRenewReuseKeyAfterKeyCompromise(t *testing.T) {
	bed, dir := issued(t, testbed.Options{})
	before, _ := storedCert(t, dir, "www.example.test")
	store, err := storage.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The CA need not know: the stored mark is what renew reads.
	if err := store.UpdateMetadata("www.example.test", func(m *storage.Metadata) { m.Revoked, m.RevocationReason = true, 1 }); err != nil {
		t.Fatal(err)
	}
	res := run(t, renewArgs(bed, dir, "--reuse-key")...)
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	after, _ := storedCert(t, dir, "www.example.test")
	if before.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(after.PublicKey) {
		t.Error("the renewal certified the compromised key again")
	}
	var warning string
	for _, line := range strings.Split(res.stderr, "\n") {
		if strings.Contains(line, "level=WARN") && strings.Contains(line, "--reuse-key") {
			warning = line
		}
	}
	if !strings.Contains(warning, "keyCompromise") || !strings.Contains(warning, "new key") {
		t.Errorf("no warning that --reuse-key was not followed because of keyCompromise:\n%s", res.stderr)
	}
}

func TestIssueProfileSelection(t *testing.T) {
	bed := startBed(t, testbed.Options{})
	dir := t.TempDir()
	args := bed.IssueArgs(dir, "www.example.test")
	args = append(args, "--profile", "shortlived")
	res := run(t, args...)
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	cert, _ := storedCert(t, dir, "www.example.test")
	if life := cert.NotAfter.Sub(cert.NotBefore); life > 7*24*time.Hour {
		t.Errorf("shortlived certificate is valid for %s", life)
	}
}

func TestIssueUnknownProfileBeforeOrder(t *testing.T) {
	bed := startBed(t, testbed.Options{})
	orders := bed.Pebble.RequestsTo(testbed.NewOrderPath)
	res := run(t, append(bed.IssueArgs(t.TempDir(), "www.example.test"), "--profile", "nosuch")...)
	if res.code != cli.ExitUsage {
		t.Fatalf("exit %d, want %d\n%s", res.code, cli.ExitUsage, res.stderr)
	}
	for _, want := range []string{`"nosuch"`, "default", "shortlived"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr does not name %s:\n%s", want, res.stderr)
		}
	}
	if n := bed.Pebble.RequestsTo(testbed.NewOrderPath) - orders; n != 0 {
		t.Errorf("%d orders created for an unknown profile", n)
	}
}

func TestIssuePreferredChain(t *testing.T) {
	bed := startBed(t, testbed.Options{Pebble: testbed.PebbleOptions{AlternateRoots: 1}})
	for i := range 2 {
		root := bed.Pebble.RootCommonName(i)
		dir := t.TempDir()
		res := run(t, append(bed.IssueArgs(dir, "www.example.test"), "--preferred-chain", root)...)
		if res.code != 0 {
			t.Fatalf("exit %d\n%s", res.code, res.stderr)
		}
		data, err := os.ReadFile(filepath.Join(dir, "certificates", "www.example.test", "chain.pem"))
		if err != nil {
			t.Fatal(err)
		}
		var top *x509.Certificate
		for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
			if top, err = x509.ParseCertificate(block.Bytes); err != nil {
				t.Fatal(err)
			}
		}
		if top == nil || top.Issuer.CommonName != root {
			t.Errorf("chain for root %d ends below %v, want %s", i, top.Issuer.CommonName, root)
		}
	}
}

func TestIssueCombinedFile(t *testing.T) {
	bed := startBed(t, testbed.Options{})
	dir := t.TempDir()
	if res := run(t, append(bed.IssueArgs(dir, "www.example.test"), "--combined")...); res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	certDir := filepath.Join(dir, "certificates", "www.example.test")
	combined, err := os.ReadFile(filepath.Join(certDir, "combined.pem"))
	if err != nil {
		t.Fatal(err)
	}
	key, _ := os.ReadFile(filepath.Join(certDir, "privkey.pem"))
	full, _ := os.ReadFile(filepath.Join(certDir, "fullchain.pem"))
	if string(combined) != string(key)+string(full) {
		t.Error("combined.pem is not the key followed by the full chain")
	}
}
