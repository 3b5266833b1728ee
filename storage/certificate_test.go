package storage

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCertificateRoundTrip(t *testing.T) {
	store := newTestStore(t)
	ca := newTestCA(t)
	cert := ca.issue(t, KeyTypeEC256, "example.test", "*.example.test")
	window := &RenewalWindow{
		Start:          time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC),
		End:            time.Date(2025, 5, 3, 0, 0, 0, 0, time.UTC),
		ExplanationURL: "https://acme.example.test/why",
	}
	cert.Meta = Metadata{
		CertificateURL: "https://127.0.0.1:14000/certZ/1",
		DirectoryURL:   testDirectoryURL,
		AccountURL:     "https://127.0.0.1:14000/my-account/1",
		Profile:        "shortlived",
		RenewalWindow:  window,
	}

	if err := store.SaveCertificate("example.test", cert); err != nil {
		t.Fatal(err)
	}
	got, err := store.LoadCertificate("example.test")
	if err != nil {
		t.Fatal(err)
	}

	if !bytes.Equal(got.LeafPEM, cert.LeafPEM) {
		t.Error("LeafPEM differs from the saved leaf")
	}
	if !bytes.Equal(got.ChainPEM, cert.ChainPEM) {
		t.Error("ChainPEM differs from the saved chain")
	}
	if !bytes.Equal(got.KeyPEM, cert.KeyPEM) {
		t.Error("KeyPEM differs from the saved key")
	}

	leaf := mustParseLeaf(t, cert.LeafPEM)
	meta := got.Meta
	if meta.Name != "example.test" {
		t.Errorf("Name = %q, want example.test", meta.Name)
	}
	if !slices.Equal(meta.Names, []string{"example.test", "*.example.test"}) {
		t.Errorf("Names = %q, want the leaf's DNS names", meta.Names)
	}
	if !meta.NotBefore.Equal(leaf.NotBefore) || !meta.NotAfter.Equal(leaf.NotAfter) {
		t.Errorf("validity = %v to %v, want %v to %v", meta.NotBefore, meta.NotAfter, leaf.NotBefore, leaf.NotAfter)
	}
	if meta.Serial != leaf.SerialNumber.Text(16) {
		t.Errorf("Serial = %q, want %q", meta.Serial, leaf.SerialNumber.Text(16))
	}
	if meta.IssuerCN != "Test Intermediate CA" {
		t.Errorf("IssuerCN = %q, want Test Intermediate CA", meta.IssuerCN)
	}
	if meta.KeyType != KeyTypeEC256 {
		t.Errorf("KeyType = %q, want %q", meta.KeyType, KeyTypeEC256)
	}
	if meta.CertificateURL != cert.Meta.CertificateURL || meta.DirectoryURL != cert.Meta.DirectoryURL || meta.AccountURL != cert.Meta.AccountURL {
		t.Errorf("URLs = %q %q %q, want the saved ones", meta.CertificateURL, meta.DirectoryURL, meta.AccountURL)
	}
	if meta.Profile != "shortlived" {
		t.Errorf("Profile = %q, want shortlived", meta.Profile)
	}
	if meta.RenewalWindow == nil || !meta.RenewalWindow.Start.Equal(window.Start) || !meta.RenewalWindow.End.Equal(window.End) || meta.RenewalWindow.ExplanationURL != window.ExplanationURL {
		t.Errorf("RenewalWindow = %+v, want %+v", meta.RenewalWindow, window)
	}
	wantARI, err := ariCertID(leaf)
	if err != nil {
		t.Fatal(err)
	}
	if meta.ARICertID == "" || meta.ARICertID != wantARI {
		t.Errorf("ARICertID = %q, want %q", meta.ARICertID, wantARI)
	}
	if time.Since(meta.IssuedAt) > time.Minute {
		t.Errorf("IssuedAt = %v, want about now", meta.IssuedAt)
	}
	if meta.Replaced || meta.Revoked {
		t.Error("a new certificate is marked replaced or revoked")
	}

	paths := store.CertificatePaths("example.test")
	fullChain, err := os.ReadFile(paths.FullChain)
	if err != nil {
		t.Fatal(err)
	}
	if want := append(bytes.Clone(cert.LeafPEM), cert.ChainPEM...); !bytes.Equal(fullChain, want) {
		t.Error("fullchain.pem is not the leaf followed by the chain")
	}
	assertMode(t, filepath.Join(store.Root(), "certificates"), 0o700)
	assertMode(t, paths.Dir, 0o700)
	assertMode(t, paths.Cert, 0o644)
	assertMode(t, paths.Chain, 0o644)
	assertMode(t, paths.FullChain, 0o644)
	assertMode(t, paths.Metadata, 0o644)
	assertMode(t, paths.PrivateKey, 0o600)
	assertNoLeftovers(t, store)
}

func TestCertificatePaths(t *testing.T) {
	store := newTestStore(t)

	paths := store.CertificatePaths("_.example.test")

	dir := filepath.Join(store.Root(), "certificates", "_.example.test")
	want := Paths{
		Dir:        dir,
		Cert:       filepath.Join(dir, "cert.pem"),
		Chain:      filepath.Join(dir, "chain.pem"),
		FullChain:  filepath.Join(dir, "fullchain.pem"),
		PrivateKey: filepath.Join(dir, "privkey.pem"),
		Metadata:   filepath.Join(dir, "metadata.json"),
		Combined:   filepath.Join(dir, "combined.pem"),
	}
	if paths != want {
		t.Errorf("CertificatePaths = %+v, want %+v", paths, want)
	}
}

func TestSaveSelfSignedCertificate(t *testing.T) {
	store := newTestStore(t)
	cert, err := makeSelfSignedCertificate("example.test")
	if err != nil {
		t.Fatal(err)
	}

	if err := store.SaveCertificate("example.test", cert); err != nil {
		t.Fatal(err)
	}

	got, err := store.LoadCertificate("example.test")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.ChainPEM) != 0 {
		t.Errorf("chain.pem = %q, want it empty", got.ChainPEM)
	}
	if got.Meta.ARICertID != "" {
		t.Errorf("ARICertID = %q, want it empty for a leaf without authority key identifier", got.Meta.ARICertID)
	}
}

// TestSaveEd25519Certificate covers a key without a key type name, which
// GenerateKey cannot create but a caller may bring.
func TestSaveEd25519Certificate(t *testing.T) {
	store := newTestStore(t)
	ca := newTestCA(t)
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafPEM, err := createLeafPEM(key, ca.cert, ca.key, []string{"example.test"})
	if err != nil {
		t.Fatal(err)
	}
	cert := Certificate{LeafPEM: leafPEM, ChainPEM: ca.chainPEM(), KeyPEM: mustEncodeKey(t, key)}

	if err := store.SaveCertificate("example.test", cert); err != nil {
		t.Fatal(err)
	}

	got, err := store.LoadCertificate("example.test")
	if err != nil {
		t.Fatal(err)
	}
	if got.Meta.KeyType != "" {
		t.Errorf("KeyType = %q, want it empty for an Ed25519 key", got.Meta.KeyType)
	}
}

func TestSaveCertificateReplacesOld(t *testing.T) {
	store := newTestStore(t)
	ca := newTestCA(t)
	if err := store.SaveCertificate("example.test", ca.issue(t, KeyTypeEC256, "example.test")); err != nil {
		t.Fatal(err)
	}
	second := ca.issue(t, KeyTypeRSA2048, "example.test", "www.example.test")

	if err := store.SaveCertificate("example.test", second); err != nil {
		t.Fatal(err)
	}

	got, err := store.LoadCertificate("example.test")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.LeafPEM, second.LeafPEM) || !bytes.Equal(got.KeyPEM, second.KeyPEM) {
		t.Error("LoadCertificate returned the old certificate or key")
	}
	if got.Meta.KeyType != KeyTypeRSA2048 {
		t.Errorf("KeyType = %q, want %q", got.Meta.KeyType, KeyTypeRSA2048)
	}
	assertNoLeftovers(t, store)
}

func TestSaveCertificateNormalizesPEM(t *testing.T) {
	store := newTestStore(t)
	ca := newTestCA(t)
	cert := ca.issue(t, KeyTypeEC256, "example.test")
	want := cert
	cert.LeafPEM = append([]byte("subject=CN=example.test\n"), cert.LeafPEM...)
	cert.ChainPEM = append(append([]byte("issuer text\n"), cert.ChainPEM...), "\n\n"...)

	if err := store.SaveCertificate("example.test", cert); err != nil {
		t.Fatal(err)
	}

	got, err := store.LoadCertificate("example.test")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.LeafPEM, want.LeafPEM) {
		t.Errorf("cert.pem = %q, want only the PEM block", got.LeafPEM)
	}
	if !bytes.Equal(got.ChainPEM, want.ChainPEM) {
		t.Errorf("chain.pem = %q, want only the PEM block", got.ChainPEM)
	}
}

func TestSaveCertificateKeyMismatchKeepsOld(t *testing.T) {
	store := newTestStore(t)
	ca := newTestCA(t)
	if err := store.SaveCertificate("example.test", ca.issue(t, KeyTypeEC256, "example.test")); err != nil {
		t.Fatal(err)
	}
	before := readFiles(t, store.CertificatePaths("example.test").Dir)
	cert := ca.issue(t, KeyTypeEC256, "example.test")
	cert.KeyPEM = mustEncodeKey(t, mustGenerate(t, KeyTypeEC256))

	err := store.SaveCertificate("example.test", cert)

	if !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("error = %v, want ErrKeyMismatch", err)
	}
	assertErrorContains(t, err, `"example.test"`)
	assertSameFiles(t, readFiles(t, store.CertificatePaths("example.test").Dir), before)
	assertNoLeftovers(t, store)
}

func TestSaveCertificateInvalidInputKeepsOld(t *testing.T) {
	store := newTestStore(t)
	ca := newTestCA(t)
	otherCA := newTestCA(t)
	if err := store.SaveCertificate("example.test", ca.issue(t, KeyTypeEC256, "example.test")); err != nil {
		t.Fatal(err)
	}
	before := readFiles(t, store.CertificatePaths("example.test").Dir)

	for _, tc := range []struct {
		name   string
		modify func(*Certificate)
		want   string
	}{
		{"empty leaf", func(c *Certificate) { c.LeafPEM = nil }, "no PEM CERTIFICATE block"},
		{"garbage leaf", func(c *Certificate) { c.LeafPEM = []byte("garbage") }, "invalid leaf certificate"},
		{"leaf with chain", func(c *Certificate) { c.LeafPEM = append(bytes.Clone(c.LeafPEM), c.ChainPEM...) }, "found 2 certificates"},
		{"key as chain", func(c *Certificate) { c.ChainPEM = c.KeyPEM }, "invalid chain"},
		{"wrong issuer", func(c *Certificate) { c.ChainPEM = otherCA.chainPEM() }, "did not sign the leaf"},
		{"garbage key", func(c *Certificate) { c.KeyPEM = []byte("garbage") }, "invalid private key"},
		{"wrong key type", func(c *Certificate) { c.Meta.KeyType = KeyTypeRSA2048 }, `key type "rsa2048"`},
	} {
		cert := ca.issue(t, KeyTypeEC256, "example.test")
		tc.modify(&cert)

		err := store.SaveCertificate("example.test", cert)

		if err == nil {
			t.Errorf("%s: SaveCertificate succeeded, want an error", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `"example.test"`) {
			t.Errorf("%s: error %q does not contain %q and the name", tc.name, err, tc.want)
		}
	}
	assertSameFiles(t, readFiles(t, store.CertificatePaths("example.test").Dir), before)
	assertNoLeftovers(t, store)
}

func TestSaveCertificateInvalidName(t *testing.T) {
	store := newTestStore(t)
	cert, err := makeSelfSignedCertificate("example.test")
	if err != nil {
		t.Fatal(err)
	}

	for _, name := range []string{"", "../example.test", "a/b", ".example.test"} {
		if err := store.SaveCertificate(name, cert); !errors.Is(err, ErrInvalidName) {
			t.Errorf("SaveCertificate(%q) error = %v, want ErrInvalidName", name, err)
		}
	}
	entries, err := os.ReadDir(store.Root())
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("root contains %d entries, want none after rejected saves", len(entries))
	}
}

func TestSaveCertificateReadOnlyDirKeepsOld(t *testing.T) {
	store := newTestStore(t)
	old, err := makeSelfSignedCertificate("example.test")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.SaveCertificate("example.test", old); err != nil {
		t.Fatal(err)
	}
	certsDir := filepath.Join(store.Root(), "certificates")
	before := readFiles(t, certsDir)
	if err := os.Chmod(certsDir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(certsDir, 0o700) })
	skipIfWritable(t, certsDir)
	cert, err := makeSelfSignedCertificate("example.test")
	if err != nil {
		t.Fatal(err)
	}

	err = store.SaveCertificate("example.test", cert)

	assertErrorContains(t, err, certsDir)
	assertSameFiles(t, readFiles(t, certsDir), before)
}

// TestSaveCertificateWriteFailureKeepsOld saves in a child process whose file
// size limit makes the writes fail, which works for root too.
func TestSaveCertificateWriteFailureKeepsOld(t *testing.T) {
	store := newTestStore(t)
	old, err := makeSelfSignedCertificate("example.test")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.SaveCertificate("example.test", old); err != nil {
		t.Fatal(err)
	}
	certsDir := filepath.Join(store.Root(), "certificates")
	before := readFiles(t, certsDir)

	cmd := exec.CommandContext(t.Context(), os.Args[0])
	cmd.Env = append(os.Environ(),
		helperEnv+"=save-file-size-limit",
		helperRootEnv+"="+store.Root(),
		helperNameEnv+"=example.test")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper process: %v, output %q", err, out)
	}

	if !strings.HasPrefix(string(out), "save failed:") {
		t.Fatalf("helper output = %q, want a failed save", out)
	}
	if !strings.Contains(string(out), "file too large") {
		t.Errorf("helper output = %q, want the EFBIG error", out)
	}
	assertSameFiles(t, readFiles(t, certsDir), before)
	assertNoLeftovers(t, store)
}

func TestSwapDirRestoresOldOnFailure(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "example.test")
	oldDir := filepath.Join(parent, ".example.test.old-00000000")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}

	// A missing new directory makes the second rename fail after the first
	// one has moved the old directory away.
	err := swapDir(filepath.Join(parent, "missing"), dir, oldDir)

	assertErrorContains(t, err, "restored")
	data, err := os.ReadFile(filepath.Join(dir, "cert.pem"))
	if err != nil {
		t.Fatalf("old directory was not restored: %v", err)
	}
	if string(data) != "old" {
		t.Errorf("cert.pem = %q, want old", data)
	}
	if _, err := os.Stat(oldDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s still exists after the restore", oldDir)
	}
}

func TestSaveCertificateRemovesLeftovers(t *testing.T) {
	store := newTestStore(t)
	certsDir := filepath.Join(store.Root(), "certificates")
	if err := os.MkdirAll(certsDir, 0o700); err != nil {
		t.Fatal(err)
	}
	stale := []string{".example.test.new-0123abcd", ".example.test.old-deadbeef"}
	// These belong to other names and must stay.
	others := []string{".example.test.new-x.new-0123abcd", ".www.example.test.old-deadbeef"}
	for _, name := range append(slices.Clone(stale), others...) {
		if err := os.Mkdir(filepath.Join(certsDir, name), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	cert, err := makeSelfSignedCertificate("example.test")
	if err != nil {
		t.Fatal(err)
	}

	if err := store.SaveCertificate("example.test", cert); err != nil {
		t.Fatal(err)
	}

	for _, name := range stale {
		if _, err := os.Stat(filepath.Join(certsDir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("leftover %s was not removed", name)
		}
	}
	for _, name := range others {
		if _, err := os.Stat(filepath.Join(certsDir, name)); err != nil {
			t.Errorf("directory %s of another name was removed", name)
		}
	}
}

func TestLoadCertificateNotFound(t *testing.T) {
	store := newTestStore(t)

	_, err := store.LoadCertificate("example.test")

	if !errors.Is(err, ErrNotFound) {
		t.Errorf("error = %v, want ErrNotFound", err)
	}
	if _, err := store.LoadCertificate("../x"); !errors.Is(err, ErrInvalidName) {
		t.Errorf("LoadCertificate(\"../x\") error = %v, want ErrInvalidName", err)
	}
}

func TestLoadCertificateCorruptFiles(t *testing.T) {
	for _, tc := range []struct {
		file    string
		content string
	}{
		{"metadata.json", "{not json"},
		{"cert.pem", "garbage"},
		{"chain.pem", "garbage"},
		{"privkey.pem", "garbage"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			store := newTestStore(t)
			ca := newTestCA(t)
			if err := store.SaveCertificate("example.test", ca.issue(t, KeyTypeEC256, "example.test")); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(store.CertificatePaths("example.test").Dir, tc.file)
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}

			_, err := store.LoadCertificate("example.test")

			assertErrorContains(t, err, "invalid certificate file "+path)
			if errors.Is(err, ErrNotFound) {
				t.Errorf("error %q wraps ErrNotFound", err)
			}
		})
	}
}

func TestLoadCertificateForeignKey(t *testing.T) {
	store := newTestStore(t)
	ca := newTestCA(t)
	if err := store.SaveCertificate("example.test", ca.issue(t, KeyTypeEC256, "example.test")); err != nil {
		t.Fatal(err)
	}
	keyPath := store.CertificatePaths("example.test").PrivateKey
	if err := os.WriteFile(keyPath, mustEncodeKey(t, mustGenerate(t, KeyTypeEC256)), 0o600); err != nil {
		t.Fatal(err)
	}

	_, err := store.LoadCertificate("example.test")

	if !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("error = %v, want ErrKeyMismatch", err)
	}
	assertErrorContains(t, err, keyPath)
}

func TestLoadCertificateMissingFile(t *testing.T) {
	store := newTestStore(t)
	cert, err := makeSelfSignedCertificate("example.test")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.SaveCertificate("example.test", cert); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(store.CertificatePaths("example.test").Chain); err != nil {
		t.Fatal(err)
	}

	_, err = store.LoadCertificate("example.test")

	assertErrorContains(t, err, store.CertificatePaths("example.test").Dir, "chain.pem is missing")
}

// TestLoadCertificateInterruptedSave covers a crash between the two renames
// of a save, which leaves only the old directory.
func TestLoadCertificateInterruptedSave(t *testing.T) {
	store := newTestStore(t)
	cert, err := makeSelfSignedCertificate("example.test")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.SaveCertificate("example.test", cert); err != nil {
		t.Fatal(err)
	}
	dir := store.CertificatePaths("example.test").Dir
	oldDir := filepath.Join(filepath.Dir(dir), ".example.test.old-0123abcd")
	if err := os.Rename(dir, oldDir); err != nil {
		t.Fatal(err)
	}

	_, err = store.LoadCertificate("example.test")

	if !errors.Is(err, ErrNotFound) {
		t.Errorf("error = %v, want ErrNotFound", err)
	}
	assertErrorContains(t, err, oldDir, "rename it")
}

// TestLoadCertificateDuringSaves checks that a reader racing with saves of
// the same name always gets a complete certificate with its own key.
func TestLoadCertificateDuringSaves(t *testing.T) {
	store := newTestStore(t)
	ca := newTestCA(t)
	versions := []Certificate{
		ca.issue(t, KeyTypeEC256, "example.test"),
		ca.issue(t, KeyTypeEC256, "example.test"),
	}
	if err := store.SaveCertificate("example.test", versions[0]); err != nil {
		t.Fatal(err)
	}

	const saves = 30
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(done)
		for i := range saves {
			if err := store.SaveCertificate("example.test", versions[i%2]); err != nil {
				t.Errorf("save %d: %v", i, err)
				return
			}
			time.Sleep(time.Millisecond)
		}
	})

	loads := 0
	for running := true; running; loads++ {
		select {
		case <-done:
			running = false
		default:
		}
		got, err := store.LoadCertificate("example.test")
		if err != nil {
			t.Fatalf("load %d during saves: %v", loads, err)
		}
		leaf := mustParseLeaf(t, got.LeafPEM)
		if got.Meta.Serial != leaf.SerialNumber.Text(16) {
			t.Fatalf("load %d: metadata serial %s belongs to another version than cert.pem (%s)", loads, got.Meta.Serial, leaf.SerialNumber.Text(16))
		}
		if !bytes.Equal(got.KeyPEM, versions[0].KeyPEM) && !bytes.Equal(got.KeyPEM, versions[1].KeyPEM) {
			t.Fatalf("load %d: unknown key", loads)
		}
	}
	wg.Wait()
	t.Logf("%d loads during %d saves", loads, saves)
}

func TestListCertificates(t *testing.T) {
	store := newTestStore(t)
	ca := newTestCA(t)
	for _, name := range []string{"b.example.test", "a.example.test", "broken.example.test"} {
		if err := store.SaveCertificate(name, ca.issue(t, KeyTypeEC256, name)); err != nil {
			t.Fatal(err)
		}
	}
	brokenPath := store.CertificatePaths("broken.example.test").Metadata
	if err := os.WriteFile(brokenPath, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(store.Root(), "certificates", ".a.example.test.new-0123abcd"), 0o700); err != nil {
		t.Fatal(err)
	}

	list, err := store.ListCertificates()

	assertErrorContains(t, err, brokenPath)
	var names []string
	for _, meta := range list {
		names = append(names, meta.Name)
	}
	if want := []string{"a.example.test", "b.example.test"}; !slices.Equal(names, want) {
		t.Errorf("ListCertificates names = %q, want %q", names, want)
	}
}

func TestListCertificatesEmpty(t *testing.T) {
	store := newTestStore(t)

	list, err := store.ListCertificates()

	if err != nil || len(list) != 0 {
		t.Errorf("ListCertificates() = %d entries, %v; want none and no error", len(list), err)
	}
}

func TestUpdateMetadata(t *testing.T) {
	store := newTestStore(t)
	cert, err := makeSelfSignedCertificate("example.test")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.SaveCertificate("example.test", cert); err != nil {
		t.Fatal(err)
	}
	window := &RenewalWindow{Start: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC)}

	err = store.UpdateMetadata("example.test", func(m *Metadata) {
		m.Replaced = true
		m.RenewalWindow = window
		m.Name = "other"
	})
	if err != nil {
		t.Fatal(err)
	}

	got, err := store.LoadCertificate("example.test")
	if err != nil {
		t.Fatal(err)
	}
	if !got.Meta.Replaced {
		t.Error("Replaced = false after the update")
	}
	if got.Meta.RenewalWindow == nil || !got.Meta.RenewalWindow.Start.Equal(window.Start) {
		t.Errorf("RenewalWindow = %+v, want %+v", got.Meta.RenewalWindow, window)
	}
	path := store.CertificatePaths("example.test").Metadata
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var stored Metadata
	if err := json.Unmarshal(data, &stored); err != nil {
		t.Fatal(err)
	}
	if stored.Name != "example.test" {
		t.Errorf("stored name = %q, want the update to keep example.test", stored.Name)
	}
	assertMode(t, path, 0o644)
	assertNoLeftovers(t, store)
}

func TestUpdateMetadataErrors(t *testing.T) {
	store := newTestStore(t)
	noop := func(*Metadata) {}

	if err := store.UpdateMetadata("missing.example.test", noop); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing certificate: error = %v, want ErrNotFound", err)
	}

	cert, err := makeSelfSignedCertificate("example.test")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.SaveCertificate("example.test", cert); err != nil {
		t.Fatal(err)
	}
	path := store.CertificatePaths("example.test").Metadata
	if err := os.WriteFile(path, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = store.UpdateMetadata("example.test", noop)
	assertErrorContains(t, err, path)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "{" {
		t.Error("UpdateMetadata replaced a damaged metadata file")
	}
}

// TestARICertID uses the example of RFC 9773, section 4.1.
func TestARICertID(t *testing.T) {
	leaf := &x509.Certificate{
		AuthorityKeyId: []byte{0x69, 0x88, 0x5b, 0x6b, 0x87, 0x46, 0x40, 0x41, 0xe1, 0xb3, 0x7b, 0x84, 0x7b, 0xa0, 0xae, 0x2c, 0xde, 0x01, 0xc8, 0xd4},
		SerialNumber:   big.NewInt(0x87654321),
	}

	got, err := ariCertID(leaf)
	if err != nil {
		t.Fatal(err)
	}

	if want := "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"; got != want {
		t.Errorf("ariCertID = %q, want %q", got, want)
	}
}

// assertNoLeftovers checks that no temporary directory is left in the
// certificates directory.
func assertNoLeftovers(t *testing.T, store *Store) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(store.Root(), "certificates"))
	if err != nil {
		t.Fatal(err)
	}
	for _, entry := range entries {
		if strings.HasPrefix(entry.Name(), ".") {
			t.Errorf("temporary entry %s left in the certificates directory", entry.Name())
		}
	}
}

func TestSaveCertificateCombined(t *testing.T) {
	store := newTestStore(t)
	c := newTestCA(t).issue(t, KeyTypeEC256, "combined.example.test")
	c.Meta.Combined = true
	if err := store.SaveCertificate("combined.example.test", c); err != nil {
		t.Fatal(err)
	}
	paths := store.CertificatePaths("combined.example.test")
	data, err := os.ReadFile(paths.Combined)
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(paths.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	full, err := os.ReadFile(paths.FullChain)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != string(key)+string(full) {
		t.Error("combined.pem is not the private key followed by the full chain")
	}
	info, err := os.Stat(paths.Combined)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("combined.pem mode = %v, want 0600 because it holds the key", info.Mode().Perm())
	}
}

func TestSaveCertificateExternalKey(t *testing.T) {
	store := newTestStore(t)
	c := newTestCA(t).issue(t, KeyTypeEC256, "csr.example.test")
	c.KeyPEM = nil
	c.Meta.ExternalKey = true
	if err := store.SaveCertificate("csr.example.test", c); err != nil {
		t.Fatal(err)
	}
	paths := store.CertificatePaths("csr.example.test")
	if _, err := os.Stat(paths.PrivateKey); !os.IsNotExist(err) {
		t.Errorf("privkey.pem exists for a certificate whose key the user keeps (err %v)", err)
	}
	loaded, err := store.LoadCertificate("csr.example.test")
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.Meta.ExternalKey || loaded.Meta.KeyType != KeyTypeEC256 {
		t.Errorf("loaded metadata = %+v, want external key of type ec256", loaded.Meta)
	}
}
