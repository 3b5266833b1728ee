package atomicfile

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestWriteContentAndMode(t *testing.T) {
	// A restrictive umask must not change the requested mode. Umask is
	// process-wide, so the tests in this package do not run in parallel.
	oldMask := syscall.Umask(0o077)
	t.Cleanup(func() { syscall.Umask(oldMask) })

	dir := t.TempDir()
	path := filepath.Join(dir, "file")

	for _, tc := range []struct {
		data []byte
		perm os.FileMode
	}{
		{[]byte("first"), 0o644},
		{[]byte("second, longer content"), 0o600},
		{[]byte{}, 0o640},
	} {
		if err := Write(path, tc.data, tc.perm); err != nil {
			t.Fatalf("Write(%#o): %v", tc.perm, err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, tc.data) {
			t.Errorf("content = %q, want %q", got, tc.data)
		}
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != tc.perm {
			t.Errorf("mode = %#o, want %#o", info.Mode().Perm(), tc.perm)
		}
	}

	assertOnlyEntries(t, dir, "file")
}

func TestWriteReplacesSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("target"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}

	if err := Write(link, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}

	info, err := os.Lstat(link)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Mode().IsRegular() {
		t.Errorf("%s has mode %v, want a regular file", link, info.Mode())
	}
	got, err := os.ReadFile(target)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "target" {
		t.Errorf("symlink target content = %q, want it unchanged", got)
	}
}

func TestWriteUnwritableDirKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "file")
	old := []byte("old content")
	if err := os.WriteFile(path, old, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
	skipIfWritable(t, dir)

	if err := Write(path, []byte("new content"), 0o644); err == nil {
		t.Fatal("Write into a read-only directory succeeded, want an error")
	}

	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, old) {
		t.Errorf("content = %q, want the old content %q", got, old)
	}
	assertOnlyEntries(t, dir, "file")
}

// TestWriteRenameFailureRemovesTemp makes the final rename fail, which works
// even for root: a regular file cannot be renamed over a non-empty directory.
func TestWriteRenameFailureRemovesTemp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "target")
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	inner := filepath.Join(path, "inner")
	if err := os.WriteFile(inner, []byte("inner"), 0o644); err != nil {
		t.Fatal(err)
	}

	if err := Write(path, []byte("data"), 0o644); err == nil {
		t.Fatal("Write over a non-empty directory succeeded, want an error")
	}

	assertOnlyEntries(t, dir, "target")
	got, err := os.ReadFile(inner)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "inner" {
		t.Errorf("content of %s = %q, want it unchanged", inner, got)
	}
}

func TestWriteMissingDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "file")
	if err := Write(path, []byte("data"), 0o644); err == nil {
		t.Fatal("Write into a missing directory succeeded, want an error")
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
	t.Skipf("%s is writable despite mode 0500 (running as root?), so this failure cannot be produced", dir)
}

func assertOnlyEntries(t *testing.T, dir string, want ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if len(got) != len(want) {
		t.Fatalf("entries of %s = %q, want %q (a temporary file was left behind?)", dir, got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entries of %s = %q, want %q", dir, got, want)
		}
	}
}
