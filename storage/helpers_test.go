package storage

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Environment variables that make the test binary run a helper instead of
// the tests, in a child process started by a test.
const (
	helperEnv     = "STORAGE_TEST_HELPER"
	helperRootEnv = "STORAGE_TEST_ROOT"
	helperNameEnv = "STORAGE_TEST_NAME"
)

func TestMain(m *testing.M) {
	switch mode := os.Getenv(helperEnv); mode {
	case "":
		os.Exit(m.Run())
	case "lock":
		os.Exit(helperHoldLock())
	case "save-file-size-limit":
		os.Exit(helperSaveWithFileSizeLimit())
	default:
		fmt.Fprintf(os.Stderr, "unknown %s %q\n", helperEnv, mode)
		os.Exit(2)
	}
}

// helperHoldLock takes the lock, reports "locked" on stdout and sleeps until
// the parent kills it. The sleep is bounded so that a failing parent cannot
// leave the process behind for long.
func helperHoldLock() int {
	store, err := Open(os.Getenv(helperRootEnv))
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	if _, err := store.Lock(context.Background(), os.Getenv(helperNameEnv), false); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println("locked")
	time.Sleep(time.Minute)
	return 0
}

// helperSaveWithFileSizeLimit saves a new certificate while RLIMIT_FSIZE
// makes every file write beyond 64 bytes fail with EFBIG. This produces a
// write error even for root, who is not stopped by file modes. It prints
// "save failed: ..." or "saved".
func helperSaveWithFileSizeLimit() int {
	store, err := Open(os.Getenv(helperRootEnv))
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	cert, err := makeSelfSignedCertificate("new.example.test")
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	var limit syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &limit); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	limit.Cur = 64
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &limit); err != nil {
		fmt.Println("error:", err)
		return 1
	}

	if err := store.SaveCertificate(os.Getenv(helperNameEnv), cert); err != nil {
		fmt.Println("save failed:", err)
		return 0
	}
	fmt.Println("saved")
	return 0
}

func newTestStore(t *testing.T) *Store {
	t.Helper()
	store, err := Open(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	return store
}

// testCA is a self-signed CA that issues leaf certificates.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func newTestCA(t *testing.T) testCA {
	t.Helper()
	key, err := GenerateKey(KeyTypeEC256)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Test Intermediate CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return testCA{cert: cert, key: key}
}

func (ca testCA) chainPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
}

// issue returns a certificate for names, signed by the CA, with a new key of
// keyType.
func (ca testCA) issue(t *testing.T, keyType string, names ...string) Certificate {
	t.Helper()
	key, err := GenerateKey(keyType)
	if err != nil {
		t.Fatal(err)
	}
	leafPEM, err := createLeafPEM(key, ca.cert, ca.key, names)
	if err != nil {
		t.Fatal(err)
	}
	return Certificate{LeafPEM: leafPEM, ChainPEM: ca.chainPEM(), KeyPEM: mustEncodeKey(t, key)}
}

// makeSelfSignedCertificate returns a self-signed certificate for names with
// a new P-256 key and an empty chain.
func makeSelfSignedCertificate(names ...string) (Certificate, error) {
	key, err := GenerateKey(KeyTypeEC256)
	if err != nil {
		return Certificate{}, err
	}
	leafPEM, err := createLeafPEM(key, nil, key, names)
	if err != nil {
		return Certificate{}, err
	}
	keyPEM, err := EncodeKeyPEM(key)
	if err != nil {
		return Certificate{}, err
	}
	return Certificate{LeafPEM: leafPEM, KeyPEM: keyPEM}, nil
}

// createLeafPEM creates a leaf certificate for key and names, signed by
// parent and parentKey, or self-signed if parent is nil.
func createLeafPEM(key crypto.Signer, parent *x509.Certificate, parentKey crypto.Signer, names []string) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	template := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    time.Now().Add(-time.Minute).Truncate(time.Second),
		NotAfter:     time.Now().Add(90 * 24 * time.Hour).Truncate(time.Second),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if parent == nil {
		parent = template
	}
	der, err := x509.CreateCertificate(rand.Reader, template, parent, key.Public(), parentKey)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

func mustEncodeKey(t *testing.T, key crypto.Signer) []byte {
	t.Helper()
	keyPEM, err := EncodeKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	return keyPEM
}

func mustParseLeaf(t *testing.T, leafPEM []byte) *x509.Certificate {
	t.Helper()
	leaf, err := parseLeaf(leafPEM)
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != want {
		t.Errorf("mode of %s = %#o, want %#o", path, got, want)
	}
}

func assertErrorContains(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("error = nil, want one containing %q", parts)
	}
	for _, part := range parts {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not contain %q", err, part)
		}
	}
}

// readFiles returns the content of every regular file below dir, keyed by
// the path relative to dir.
func readFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := make(map[string][]byte)
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		files[rel] = data
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func assertSameFiles(t *testing.T, got, want map[string][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d files, want %d", len(got), len(want))
	}
	for name, wantData := range want {
		if !bytes.Equal(got[name], wantData) {
			t.Errorf("content of %s changed", name)
		}
	}
}
