package cli_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/dnscert/dnscert/internal/cli"
	"github.com/dnscert/dnscert/internal/testbed"
	"github.com/dnscert/dnscert/storage"
)

// accountJSON is one account in the account commands' --json output.
type accountJSON struct {
	Result     string   `json:"result"`
	CA         string   `json:"ca"`
	URL        string   `json:"url"`
	Email      string   `json:"email"`
	Contact    []string `json:"contact"`
	Status     string   `json:"status"`
	ArchivedTo string   `json:"archived_to"`
}

func parseAccountJSON(t *testing.T, out string) accountJSON {
	t.Helper()
	var a accountJSON
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, out)
	}
	return a
}

// accountListJSON is the account list --json output.
type accountListJSON struct {
	Accounts []accountJSON `json:"accounts"`
	Errors   []string      `json:"errors"`
}

func listAccounts(t *testing.T, dir string) accountListJSON {
	t.Helper()
	res := run(t, "dnscert", "--path", dir, "account", "list", "--json")
	if res.code != 0 {
		t.Fatalf("account list: exit %d\n%s", res.code, res.stderr)
	}
	var l accountListJSON
	if err := json.Unmarshal([]byte(res.stdout), &l); err != nil {
		t.Fatalf("account list: stdout is not one JSON object: %v\n%s", err, res.stdout)
	}
	return l
}

// accountArgs returns an account subcommand line for the bed's CA and the
// e-mail of bed.IssueArgs.
func accountArgs(bed *testbed.Bed, dir, sub string, extra ...string) []string {
	args := []string{"dnscert", "--path", dir, "account", sub,
		"--server", bed.Pebble.DirectoryURL, "--ca-cert", bed.Pebble.TLSCertFile, "--email", "admin@example.test"}
	return append(args, extra...)
}

func TestAccountLifecycle(t *testing.T) {
	bed := startBed(t, testbed.Options{})
	dir := t.TempDir()

	before := bed.Pebble.Requests()
	res := run(t, accountArgs(bed, dir, "show")...)
	if res.code != cli.ExitUsage || !strings.Contains(res.stderr, "dnscert account register") {
		t.Errorf("show without an account: exit %d, stderr %q; want %d and a hint to register", res.code, res.stderr, cli.ExitUsage)
	}
	if n := bed.Pebble.Requests() - before; n != 0 {
		t.Errorf("show without an account sent %d requests", n)
	}
	res = run(t, "dnscert", "--path", dir, "account", "list")
	if res.code != 0 || !strings.Contains(res.stdout, "No accounts stored") {
		t.Errorf("list of an empty store: exit %d, stdout %q", res.code, res.stdout)
	}

	res = run(t, accountArgs(bed, dir, "register", "--accept-tos", "--json")...)
	if res.code != 0 {
		t.Fatalf("register: exit %d\n%s", res.code, res.stderr)
	}
	first := parseAccountJSON(t, res.stdout)
	if first.Result != "registered" || first.URL == "" || first.Status != "valid" {
		t.Errorf("register: result = %q, url = %q, status = %q; want a new valid account", first.Result, first.URL, first.Status)
	}

	before = bed.Pebble.Requests()
	res = run(t, accountArgs(bed, dir, "register", "--accept-tos")...)
	if res.code != 0 || !strings.Contains(res.stdout, "already stored") || !strings.Contains(res.stdout, first.URL) {
		t.Errorf("second register: exit %d, stdout %q; want the stored account reused", res.code, res.stdout)
	}
	if n := bed.Pebble.Requests() - before; n != 0 {
		t.Errorf("second register sent %d requests", n)
	}

	res = run(t, accountArgs(bed, dir, "show")...)
	if res.code != 0 {
		t.Fatalf("show: exit %d\n%s", res.code, res.stderr)
	}
	for _, want := range []string{first.URL, "valid", "mailto:admin@example.test", bed.Pebble.DirectoryURL, "created"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("show does not print %q:\n%s", want, res.stdout)
		}
	}

	// Deactivation cannot be undone, so it needs --yes.
	before = bed.Pebble.Requests()
	res = run(t, accountArgs(bed, dir, "deactivate")...)
	if res.code != cli.ExitUsage || !strings.Contains(res.stderr, "--yes") {
		t.Errorf("deactivate without --yes: exit %d, stderr %q", res.code, res.stderr)
	}
	if n := bed.Pebble.Requests() - before; n != 0 {
		t.Errorf("deactivate without --yes sent %d requests", n)
	}
	res = run(t, accountArgs(bed, dir, "deactivate", "--yes", "--json")...)
	if res.code != 0 {
		t.Fatalf("deactivate: exit %d\n%s", res.code, res.stderr)
	}
	if got := parseAccountJSON(t, res.stdout); got.Result != "deactivated" || got.Status != "deactivated" || got.URL != first.URL {
		t.Errorf("deactivate: %+v, want %s deactivated", got, first.URL)
	}
	store, err := storage.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if stored, err := store.LoadAccount(bed.Pebble.DirectoryURL, "admin@example.test"); err != nil || stored.Status != "deactivated" {
		t.Errorf("stored account: status %q, error %v; want it marked deactivated", stored.Status, err)
	}

	res = run(t, accountArgs(bed, dir, "show", "--json")...)
	if res.code != 0 {
		t.Fatalf("show after deactivation: exit %d\n%s", res.code, res.stderr)
	}
	if got := parseAccountJSON(t, res.stdout); got.Status != "deactivated" {
		t.Errorf("show after deactivation: status %q", got.Status)
	}
	before = bed.Pebble.Requests()
	res = run(t, accountArgs(bed, dir, "deactivate", "--yes")...)
	if res.code != 0 || !strings.Contains(res.stdout, "already deactivated") {
		t.Errorf("second deactivate: exit %d, stdout %q", res.code, res.stdout)
	}
	if n := bed.Pebble.Requests() - before; n != 0 {
		t.Errorf("second deactivate sent %d requests", n)
	}

	// Runs that order certificates do not register a replacement.
	res = run(t, bed.IssueArgs(dir, "example.test")...)
	if res.code == 0 || !strings.Contains(res.stderr, "deactivated") {
		t.Errorf("issue with a deactivated account: exit %d, stderr does not say why:\n%s", res.code, res.stderr)
	}
	if got := listAccounts(t, dir).Accounts; len(got) != 1 {
		t.Errorf("%d accounts stored after issue, want the deactivated one only", len(got))
	}

	res = run(t, accountArgs(bed, dir, "register", "--accept-tos", "--json")...)
	if res.code != 0 {
		t.Fatalf("register after deactivation: exit %d\n%s", res.code, res.stderr)
	}
	second := parseAccountJSON(t, res.stdout)
	if second.Result != "registered" || second.URL == "" || second.URL == first.URL {
		t.Errorf("register after deactivation: result %q, url %q; want a new account other than %s", second.Result, second.URL, first.URL)
	}
	if _, err := os.Stat(second.ArchivedTo); second.ArchivedTo == "" || err != nil {
		t.Errorf("archived_to = %q (%v), want the directory of the deactivated account", second.ArchivedTo, err)
	}

	statuses := map[string]string{}
	for _, a := range listAccounts(t, dir).Accounts {
		statuses[a.URL] = a.Status
	}
	if len(statuses) != 2 || statuses[first.URL] != "deactivated" || statuses[second.URL] != "valid" {
		t.Errorf("account list = %v, want %s deactivated and %s valid", statuses, first.URL, second.URL)
	}
	res = run(t, "dnscert", "--path", dir, "account", "list")
	if res.code != 0 || !strings.Contains(res.stdout, "deactivated") || !strings.Contains(res.stdout, second.URL) {
		t.Errorf("account list text: exit %d\n%s", res.code, res.stdout)
	}

	if res := run(t, bed.IssueArgs(dir, "example.test")...); res.code != 0 {
		t.Errorf("issue with the new account: exit %d\n%s", res.code, res.stderr)
	}
}

// A damaged account is reported with its path after the others are listed.
func TestAccountListDamaged(t *testing.T) {
	dir := t.TempDir()
	damaged := dir + "/accounts/ca.example-acme/admin@example.test"
	if err := os.MkdirAll(damaged, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(damaged+"/account.json", []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := run(t, "dnscert", "--path", dir, "account", "list")
	if res.code != cli.ExitFailure {
		t.Errorf("exit %d, want %d", res.code, cli.ExitFailure)
	}
	if !strings.Contains(res.stderr, damaged) {
		t.Errorf("stderr does not name %s:\n%s", damaged, res.stderr)
	}
}

func TestAccountExternalBinding(t *testing.T) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	hmacKey := base64.RawURLEncoding.EncodeToString(secret)
	bed := startBed(t, testbed.Options{Pebble: testbed.PebbleOptions{
		RequireEAB: true,
		EABKeys:    map[string]string{"kid-1": hmacKey},
	}})
	dir := t.TempDir()

	res := run(t, accountArgs(bed, dir, "register", "--accept-tos")...)
	if res.code != cli.ExitCA || !strings.Contains(res.stderr, "external account binding") || !strings.Contains(res.stderr, "--eab-kid") {
		t.Errorf("register without EAB: exit %d, want %d and a message naming --eab-kid:\n%s", res.code, cli.ExitCA, res.stderr)
	}
	if got := listAccounts(t, dir).Accounts; len(got) != 0 {
		t.Errorf("%d accounts stored after a rejected registration", len(got))
	}

	before := bed.Pebble.Requests()
	res = run(t, accountArgs(bed, dir, "register", "--accept-tos", "--eab-kid", "kid-1", "--eab-hmac", "not base64url!")...)
	if res.code != cli.ExitUsage || !strings.Contains(res.stderr, "--eab-hmac") {
		t.Errorf("register with a malformed HMAC key: exit %d, want %d:\n%s", res.code, cli.ExitUsage, res.stderr)
	}
	if n := bed.Pebble.Requests() - before; n != 0 {
		t.Errorf("a malformed HMAC key sent %d requests", n)
	}

	wrong := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	res = run(t, accountArgs(bed, dir, "register", "--accept-tos", "--eab-kid", "kid-1", "--eab-hmac", wrong)...)
	if res.code != cli.ExitCA {
		t.Errorf("register with the wrong HMAC key: exit %d, want %d:\n%s", res.code, cli.ExitCA, res.stderr)
	}

	res = run(t, accountArgs(bed, dir, "register", "--accept-tos", "--eab-kid", "kid-1", "--eab-hmac", hmacKey, "-v")...)
	if res.code != 0 {
		t.Fatalf("register with EAB: exit %d\n%s", res.code, res.stderr)
	}
	if strings.Contains(res.stdout+res.stderr, hmacKey) {
		t.Error("the HMAC key appears in the output")
	}

	res = run(t, bed.IssueArgs(dir, "example.test")...)
	if res.code != 0 {
		t.Fatalf("issue after registering with EAB: exit %d\n%s", res.code, res.stderr)
	}
	if !strings.Contains(res.stderr, "using stored account") {
		t.Errorf("issue did not reuse the account:\n%s", res.stderr)
	}
	if got := listAccounts(t, dir).Accounts; len(got) != 1 {
		t.Errorf("%d accounts stored, want 1", len(got))
	}
}
