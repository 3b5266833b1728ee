package cli_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dnscert/dnscert/internal/cli"
	"github.com/dnscert/dnscert/internal/testbed"
	"github.com/dnscert/dnscert/storage"
)

// listJSON is the part of the list --json output the tests read.
type listJSON struct {
	Certificates []struct {
		Name             string    `json:"name"`
		Names            []string  `json:"names"`
		Expired          bool      `json:"expired"`
		Revoked          bool      `json:"revoked"`
		RevocationReason string    `json:"revocation_reason"`
		NotAfter         time.Time `json:"not_after"`
		DaysLeft         int       `json:"days_left"`
		CA               string    `json:"ca"`
		DirectoryURL     string    `json:"directory_url"`
		Profile          string    `json:"profile"`
		RenewalWindow    *struct {
			Start        time.Time `json:"start"`
			End          time.Time `json:"end"`
			SelectedTime time.Time `json:"selected_time"`
		} `json:"renewal_window"`
		Files struct {
			Dir        string `json:"dir"`
			Cert       string `json:"cert"`
			Chain      string `json:"chain"`
			FullChain  string `json:"fullchain"`
			PrivateKey string `json:"privkey"`
		} `json:"files"`
	} `json:"certificates"`
	Errors []struct {
		Path  string `json:"path"`
		Error string `json:"error"`
	} `json:"errors"`
}

func parseListJSON(t *testing.T, out string) listJSON {
	t.Helper()
	var l listJSON
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, out)
	}
	return l
}

// storeSelfSigned stores a self-signed certificate for name with the given
// validity and metadata in the storage directory dir. It returns the paths
// of copies of its PEM certificate and key in another directory.
func storeSelfSigned(t *testing.T, dir, name string, notBefore, notAfter time.Time, meta storage.Metadata) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}

	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}

	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM, err := storage.EncodeKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}

	store, err := storage.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.SaveCertificate(name, storage.Certificate{LeafPEM: certPEM, KeyPEM: keyPEM, Meta: meta}); err != nil {
		t.Fatal(err)
	}

	files := t.TempDir()
	certFile = filepath.Join(files, name+".pem")
	keyFile = filepath.Join(files, name+".key")
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestListEmptyStore(t *testing.T) {
	dir := t.TempDir()
	res := run(t, "dnscert", "--path", dir, "list")
	if res.code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", res.code, res.stderr)
	}
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	if len(lines) != 1 {
		t.Errorf("stdout has %d lines, want 1:\n%s", len(lines), res.stdout)
	}
	if !strings.Contains(res.stdout, "No certificates stored") {
		t.Errorf("stdout does not say the store is empty:\n%s", res.stdout)
	}

	res = run(t, "dnscert", "--path", dir, "list", "--json")
	if res.code != 0 {
		t.Fatalf("--json: exit %d\nstderr:\n%s", res.code, res.stderr)
	}
	if got := strings.Join(strings.Fields(res.stdout), ""); got != `{"certificates":[],"errors":[]}` {
		t.Errorf("--json output = %s, want empty arrays", got)
	}
}

func TestListAfterTwoIssuances(t *testing.T) {
	bed := startBed(t, testbed.Options{})
	dir := t.TempDir()
	for _, name := range []string{"example.test", "www.example.test"} {
		if res := run(t, bed.IssueArgs(dir, name)...); res.code != 0 {
			t.Fatalf("issue %s: exit %d\n%s", name, res.code, res.stderr)
		}
	}

	res := run(t, "dnscert", "--path", dir, "list", "--json")
	if res.code != 0 {
		t.Fatalf("--json: exit %d\nstderr:\n%s", res.code, res.stderr)
	}
	out := parseListJSON(t, res.stdout)
	if len(out.Certificates) != 2 {
		t.Fatalf("%d certificates listed, want 2:\n%s", len(out.Certificates), res.stdout)
	}
	for i, want := range []string{"example.test", "www.example.test"} {
		c := out.Certificates[i]
		if c.Name != want {
			t.Errorf("certificate %d is %q, want %q (sorted by name)", i, c.Name, want)
		}
		if len(c.Names) != 1 || c.Names[0] != want {
			t.Errorf("%s: names = %v", c.Name, c.Names)
		}
		if c.DaysLeft < 89 || c.DaysLeft > 90 {
			t.Errorf("%s: days_left = %d, want 89 or 90 for a 90-day certificate", c.Name, c.DaysLeft)
		}
		if c.Expired || c.Revoked {
			t.Errorf("%s: expired = %t, revoked = %t for a new certificate", c.Name, c.Expired, c.Revoked)
		}
		if c.CA != bed.Pebble.DirectoryURL || c.DirectoryURL != bed.Pebble.DirectoryURL {
			t.Errorf("%s: ca = %q, directory_url = %q, want %s", c.Name, c.CA, c.DirectoryURL, bed.Pebble.DirectoryURL)
		}
		if c.Profile != "default" {
			t.Errorf("%s: profile = %q, want default", c.Name, c.Profile)
		}
		// Pebble serves renewal information (RFC 9773), so every
		// certificate has a window.
		if rw := c.RenewalWindow; rw == nil {
			t.Errorf("%s: no renewal window", c.Name)
		} else if rw.SelectedTime.Before(rw.Start) || rw.SelectedTime.After(rw.End) {
			t.Errorf("%s: renewal instant %s outside the window %s..%s", c.Name, rw.SelectedTime, rw.Start, rw.End)
		}
		for _, path := range []string{c.Files.Cert, c.Files.Chain, c.Files.FullChain, c.Files.PrivateKey} {
			if _, err := os.Stat(path); err != nil {
				t.Errorf("%s: listed file: %v", c.Name, err)
			}
		}
	}

	res = run(t, "dnscert", "--path", dir, "list")
	if res.code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", res.code, res.stderr)
	}
	expires := out.Certificates[1].NotAfter.UTC().Format(time.DateOnly)
	renewAt := "renewal instant"
	if rw := out.Certificates[1].RenewalWindow; rw != nil {
		renewAt = rw.SelectedTime.UTC().Format("2006-01-02 15:04Z")
	}
	for _, want := range []string{"NAME", "STATUS", "EXPIRES", "DAYS LEFT", "RENEW AT", "CA", "PROFILE", "DIRECTORY",
		"example.test", "www.example.test", bed.Pebble.DirectoryURL, "default", "valid", expires, renewAt,
		filepath.Join(dir, "certificates", "www.example.test"), "fullchain.pem", "privkey.pem"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("text output does not contain %q:\n%s", want, res.stdout)
		}
	}
	if strings.Contains(res.stdout, "\x1b[") {
		t.Error("text output contains terminal escape sequences")
	}

	// A damaged directory is reported after the good ones are listed.
	broken := filepath.Join(dir, "certificates", "broken.test")
	if err := os.MkdirAll(broken, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(broken, "metadata.json"), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	res = run(t, "dnscert", "--path", dir, "list")
	if res.code != cli.ExitFailure {
		t.Errorf("with a damaged directory: exit %d, want %d", res.code, cli.ExitFailure)
	}
	if !strings.Contains(res.stderr, broken) {
		t.Errorf("stderr does not name %s:\n%s", broken, res.stderr)
	}
	if !strings.Contains(res.stdout, "www.example.test") {
		t.Errorf("the good certificates are not listed next to a damaged one:\n%s", res.stdout)
	}
	res = run(t, "dnscert", "--path", dir, "list", "--json")
	if res.code != cli.ExitFailure {
		t.Errorf("--json with a damaged directory: exit %d, want %d", res.code, cli.ExitFailure)
	}
	out = parseListJSON(t, res.stdout)
	if len(out.Certificates) != 2 || len(out.Errors) != 1 || out.Errors[0].Path != broken {
		t.Errorf("--json lists %d certificates and errors %+v, want 2 and one error for %s", len(out.Certificates), out.Errors, broken)
	}
}

// Marks and shortcut names need certificates that Pebble cannot issue: an
// expired one, and one from Let's Encrypt.
func TestListMarksExpiredAndRevoked(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	letsencrypt := "https://acme-v02.api.letsencrypt.org/directory"
	storeSelfSigned(t, dir, "old.example", now.Add(-100*24*time.Hour), now.Add(-10*24*time.Hour),
		storage.Metadata{DirectoryURL: letsencrypt})
	window := &storage.RenewalWindow{
		Start:        now.Add(20 * 24 * time.Hour).Truncate(time.Second),
		End:          now.Add(22 * 24 * time.Hour).Truncate(time.Second),
		SelectedTime: now.Add(21 * 24 * time.Hour).Truncate(time.Second),
	}
	storeSelfSigned(t, dir, "gone.example", now.Add(-time.Hour), now.Add(30*24*time.Hour),
		storage.Metadata{DirectoryURL: "https://ca.example/acme", Revoked: true, RevocationReason: 1, RenewalWindow: window, Profile: "shortlived"})

	res := run(t, "dnscert", "--path", dir, "list")
	if res.code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", res.code, res.stderr)
	}
	// The first row of a name is in the state table: NAME STATUS EXPIRES
	// DAYS LEFT and so on.
	rows := map[string]string{}
	for _, line := range strings.Split(res.stdout, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			if _, seen := rows[f[0]]; !seen {
				rows[f[0]] = line
			}
		}
	}
	for _, tt := range []struct {
		name, status, days string
		wants              []string
	}{
		{name: "old.example", status: "expired", days: "-10", wants: []string{"letsencrypt"}},
		// renew replaces a revoked certificate at once, so RENEW AT does not
		// show the window's future instant.
		{name: "gone.example", status: "revoked", days: "29", wants: []string{"https://ca.example/acme", "shortlived", "now (revoked)"}},
	} {
		fields := strings.Fields(rows[tt.name])
		if len(fields) < 4 {
			t.Errorf("no state row for %s:\n%s", tt.name, res.stdout)
			continue
		}
		if fields[1] != tt.status {
			t.Errorf("status of %s = %q, want %q", tt.name, fields[1], tt.status)
		}
		if fields[3] != tt.days {
			t.Errorf("days left of %s = %q, want %q", tt.name, fields[3], tt.days)
		}
		for _, want := range tt.wants {
			if !strings.Contains(rows[tt.name], want) {
				t.Errorf("row of %s does not contain %q: %q", tt.name, want, rows[tt.name])
			}
		}
	}
	if selected := window.SelectedTime.UTC().Format("2006-01-02 15:04Z"); strings.Contains(rows["gone.example"], selected) {
		t.Errorf("row of the revoked gone.example shows the future renewal instant %s: %q", selected, rows["gone.example"])
	}

	res = run(t, "dnscert", "--path", dir, "list", "--json")
	if res.code != 0 {
		t.Fatalf("--json: exit %d\nstderr:\n%s", res.code, res.stderr)
	}
	out := parseListJSON(t, res.stdout)
	if len(out.Certificates) != 2 {
		t.Fatalf("%d certificates listed, want 2", len(out.Certificates))
	}
	gone, old := out.Certificates[0], out.Certificates[1]
	if !gone.Revoked || gone.RevocationReason != "keyCompromise" || gone.Expired {
		t.Errorf("gone.example: revoked = %t, reason = %q, expired = %t; want revoked for keyCompromise, not expired", gone.Revoked, gone.RevocationReason, gone.Expired)
	}
	if gone.RenewalWindow == nil || !gone.RenewalWindow.SelectedTime.Equal(window.SelectedTime) {
		t.Errorf("gone.example: renewal window = %+v, want the stored one", gone.RenewalWindow)
	}
	if !old.Expired || old.Revoked || old.DaysLeft != -10 {
		t.Errorf("old.example: expired = %t, revoked = %t, days_left = %d; want expired 10 days ago", old.Expired, old.Revoked, old.DaysLeft)
	}
	if old.CA != "letsencrypt" {
		t.Errorf("old.example: ca = %q, want the shortcut letsencrypt", old.CA)
	}
}
