package storage

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenCreatesRoot(t *testing.T) {
	root := filepath.Join(t.TempDir(), "a", "b")

	store, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}

	if store.Root() != root {
		t.Errorf("Root() = %q, want %q", store.Root(), root)
	}
	assertMode(t, root, 0o700)
	if w := store.Warnings(); len(w) != 0 {
		t.Errorf("Warnings() = %q, want none", w)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("root contains %d entries after Open, want the write probe removed", len(entries))
	}
}

func TestOpenRelativeRootIsAbsolute(t *testing.T) {
	t.Chdir(t.TempDir())

	store, err := Open("store")
	if err != nil {
		t.Fatal(err)
	}

	if !filepath.IsAbs(store.Root()) {
		t.Errorf("Root() = %q, want an absolute path", store.Root())
	}
	if !filepath.IsAbs(store.CertificatePaths("example.test").Cert) {
		t.Errorf("CertificatePaths().Cert = %q, want an absolute path", store.CertificatePaths("example.test").Cert)
	}
}

func TestOpenRejectsFile(t *testing.T) {
	root := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(root, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	_, err := Open(root)

	assertErrorContains(t, err, root, "not a directory")
}

func TestOpenRejectsEmptyRoot(t *testing.T) {
	if _, err := Open(""); err == nil {
		t.Fatal("Open(\"\") succeeded, want an error")
	}
}

func TestOpenRejectsUnwritableRoot(t *testing.T) {
	root := t.TempDir()
	if err := os.Chmod(root, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(root, 0o700) })
	skipIfWritable(t, root)

	_, err := Open(root)

	assertErrorContains(t, err, root, "not writable", "chmod")
}

func TestOpenWarnsAboutGroupWritableDirs(t *testing.T) {
	root := t.TempDir()
	certs := filepath.Join(root, certificatesDir)
	if err := os.Mkdir(certs, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(certs, 0o770); err != nil {
		t.Fatal(err)
	}

	store, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}

	warnings := store.Warnings()
	if len(warnings) != 1 {
		t.Fatalf("Warnings() = %q, want one warning", warnings)
	}
	if !strings.Contains(warnings[0], certs) {
		t.Errorf("warning %q does not name %s", warnings[0], certs)
	}
}

func TestValidateName(t *testing.T) {
	for _, tc := range []struct {
		name  string
		valid bool
	}{
		{"example.test", true},
		{"_.example.test", true},
		{"www.example.test-ecdsa", true},
		{"a", true},
		{strings.Repeat("a", MaxNameLength), true},
		{"", false},
		{strings.Repeat("a", MaxNameLength+1), false},
		{"a/b", false},
		{`a\b`, false},
		{"..", false},
		{"a..b", false},
		{".", false},
		{".hidden", false},
		{"a\x00b", false},
		{"a\nb", false},
		{"\xff", false},
	} {
		err := ValidateName(tc.name)
		if tc.valid && err != nil {
			t.Errorf("ValidateName(%q) = %v, want nil", tc.name, err)
		}
		if !tc.valid && !errors.Is(err, ErrInvalidName) {
			t.Errorf("ValidateName(%q) = %v, want ErrInvalidName", tc.name, err)
		}
	}
}

// TestMaxNameLengthFitsTempDir checks that a name of the maximum length can
// be saved, which needs the longer temporary directory name.
func TestMaxNameLengthFitsTempDir(t *testing.T) {
	store := newTestStore(t)
	cert, err := makeSelfSignedCertificate("example.test")
	if err != nil {
		t.Fatal(err)
	}
	name := strings.Repeat("a", MaxNameLength)

	if err := store.SaveCertificate(name, cert); err != nil {
		t.Fatal(err)
	}
	unlock, err := store.Lock(t.Context(), name, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
}

func TestDefaultName(t *testing.T) {
	for _, tc := range []struct {
		domain string
		want   string
	}{
		{"example.test", "example.test"},
		{"*.example.test", "_.example.test"},
		{"WWW.Example.Test.", "www.example.test"},
		{" example.test ", "example.test"},
	} {
		got, err := DefaultName(tc.domain)
		if err != nil {
			t.Errorf("DefaultName(%q): %v", tc.domain, err)
			continue
		}
		if got != tc.want {
			t.Errorf("DefaultName(%q) = %q, want %q", tc.domain, got, tc.want)
		}
	}

	for _, domain := range []string{"", "a/b", "..", ".example.test"} {
		if _, err := DefaultName(domain); !errors.Is(err, ErrInvalidName) {
			t.Errorf("DefaultName(%q) error = %v, want ErrInvalidName", domain, err)
		}
	}
}

func TestCADirName(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want string
	}{
		{"https://acme-v02.api.letsencrypt.org/directory", "acme-v02.api.letsencrypt.org-directory"},
		{"https://acme-staging-v02.api.letsencrypt.org/directory/", "acme-staging-v02.api.letsencrypt.org-directory"},
		{"https://127.0.0.1:14000/dir", "127.0.0.1_14000-dir"},
		{"https://ACME.Example.Test/acme/v2/directory", "acme.example.test-acme-v2-directory"},
		{"https://acme.example.test", "acme.example.test"},
		{"https://[::1]:14000/dir", "__1_14000-dir"},
		{"https://acme.example.test/a%20b/dir", "acme.example.test-a_b-dir"},
	} {
		got, err := CADirName(tc.url)
		if err != nil {
			t.Errorf("CADirName(%q): %v", tc.url, err)
			continue
		}
		if got != tc.want {
			t.Errorf("CADirName(%q) = %q, want %q", tc.url, got, tc.want)
		}
	}

	for _, url := range []string{"", "directory", "https:///dir", "https://../x", "https://./", "://bad"} {
		if got, err := CADirName(url); err == nil {
			t.Errorf("CADirName(%q) = %q, want an error", url, got)
		}
	}
}

// skipIfWritable skips the test when dir is writable despite its mode, which
// is the case when the tests run as root.
func skipIfWritable(t *testing.T, dir string) {
	t.Helper()
	probe, err := os.CreateTemp(dir, "probe-*")
	if err != nil {
		return
	}
	_ = probe.Close()
	_ = os.Remove(probe.Name())
	t.Skipf("%s is writable despite its mode (running as root?), so this failure cannot be produced", dir)
}
