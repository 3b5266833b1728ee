package storage

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenExistingMissingRootIsEmpty(t *testing.T) {
	root := filepath.Join(t.TempDir(), "missing")

	store, err := OpenExisting(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(root); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("OpenExisting created %s (stat error %v)", root, err)
	}
	metas, damaged, err := store.ScanCertificates()
	if err != nil || len(metas) != 0 || len(damaged) != 0 {
		t.Errorf("ScanCertificates() = %v, %v, %v; want nothing", metas, damaged, err)
	}
	accounts, err := store.ListAccounts()
	if err != nil || len(accounts) != 0 {
		t.Errorf("ListAccounts() = %v, %v; want nothing", accounts, err)
	}
	if _, err := store.LoadCertificate("example.test"); !errors.Is(err, ErrNotFound) {
		t.Errorf("LoadCertificate error = %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(root); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("reading the store created %s (stat error %v)", root, err)
	}
}

func TestOpenExistingReadsWithoutWriting(t *testing.T) {
	root := filepath.Join(t.TempDir(), "store")
	ca := newTestCA(t)
	writer, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := writer.SaveCertificate("www.example.test", ca.issue(t, KeyTypeEC256, "www.example.test")); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(root)
	if err != nil {
		t.Fatal(err)
	}

	store, err := OpenExisting(root)
	if err != nil {
		t.Fatal(err)
	}
	metas, _, err := store.ScanCertificates()
	if err != nil {
		t.Fatal(err)
	}
	if len(metas) != 1 || metas[0].Name != "www.example.test" {
		t.Errorf("ScanCertificates() = %+v, want www.example.test", metas)
	}
	after, err := os.Stat(root)
	if err != nil {
		t.Fatal(err)
	}
	// A write probe, created and removed, would change the modification
	// time of the directory.
	if !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("the storage directory changed: modification time %s, before %s", after.ModTime(), before.ModTime())
	}
}

func TestOpenExistingReadOnlyDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root may write to a directory of mode 0500")
	}
	root := t.TempDir()
	if err := os.Chmod(root, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(root, 0o700) })
	if _, err := Open(root); err == nil {
		t.Fatal("Open accepted a read-only directory, so this test proves nothing")
	}
	store, err := OpenExisting(root)
	if err != nil {
		t.Fatalf("OpenExisting on a read-only directory: %v", err)
	}
	if _, _, err := store.ScanCertificates(); err != nil {
		t.Errorf("ScanCertificates on a read-only directory: %v", err)
	}
}

func TestOpenExistingRejectsFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := OpenExisting(file)
	if err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("OpenExisting(file) error = %v, want one saying it is not a directory", err)
	}
}
