package storage

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dnscert/dnscert/internal/atomicfile"
)

// loadAttempts and loadRetryDelay bound how long LoadCertificate waits for a
// concurrent SaveCertificate of the same name, whose swap takes two renames
// and the removal of the old directory.
const (
	loadAttempts   = 5
	loadRetryDelay = 20 * time.Millisecond
)

// errConcurrentSave marks a read that failed because the directory changed
// while it was read.
var errConcurrentSave = errors.New("certificate directory changed while reading it")

// LoadCertificate loads the certificate name. It returns an error wrapping
// [ErrNotFound] if there is none. Damaged files are reported with their path.
//
// All files are read through one open handle of the certificate directory, so
// they belong to the same saved version even while SaveCertificate replaces
// it. The returned LeafPEM, ChainPEM and KeyPEM are the stored file contents,
// and Meta.Name is set to name.
func (s *Store) LoadCertificate(name string) (Certificate, error) {
	if err := ValidateName(name); err != nil {
		return Certificate{}, err
	}
	certsDir := filepath.Join(s.root, certificatesDir)
	dir := filepath.Join(certsDir, name)

	var err error
	for attempt := range loadAttempts {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * loadRetryDelay)
		}
		var c Certificate
		c, err = readCertificateDir(dir)
		if err == nil {
			c.Meta.Name = name
			return c, nil
		}
		if errors.Is(err, errConcurrentSave) {
			continue
		}
		if !errors.Is(err, ErrNotFound) || !swapInProgress(certsDir, name) {
			return Certificate{}, err
		}
	}

	if errors.Is(err, ErrNotFound) {
		if _, oldDirs := leftovers(certsDir, name); len(oldDirs) > 0 {
			return Certificate{}, fmt.Errorf("%w; %s holds the previous version from an interrupted save, rename it to %s to restore it", err, oldDirs[0], dir)
		}
	}
	return Certificate{}, err
}

// swapInProgress reports whether a save of name may be between its two
// renames: an old directory exists, or the directory has reappeared.
// The old directory is checked first, because the save removes it only after
// the new directory is in place.
func swapInProgress(certsDir, name string) bool {
	if _, oldDirs := leftovers(certsDir, name); len(oldDirs) > 0 {
		return true
	}
	_, err := os.Stat(filepath.Join(certsDir, name))
	return err == nil
}

// readCertificateDir reads and checks the certificate files in dir.
func readCertificateDir(dir string) (Certificate, error) {
	root, err := os.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return Certificate{}, fmt.Errorf("certificate %s: %w", dir, ErrNotFound)
	}
	if err != nil {
		return Certificate{}, fmt.Errorf("open certificate directory: %w", err)
	}
	defer root.Close()

	files := make(map[string][]byte)
	for _, name := range []string{metadataFile, certFile, chainFile, keyFile} {
		data, err := root.ReadFile(name)
		if name == keyFile && errors.Is(err, fs.ErrNotExist) && externalKey(files[metadataFile]) {
			continue
		}
		if errors.Is(err, fs.ErrNotExist) {
			// A concurrent save removes the files of the directory that
			// is open here after it has moved a new one into place.
			if isCurrentDir(root, dir) {
				return Certificate{}, fmt.Errorf("invalid certificate directory %s: %s is missing; save the certificate again or move the directory away", dir, name)
			}
			return Certificate{}, fmt.Errorf("%w: %s", errConcurrentSave, dir)
		}
		if err != nil {
			return Certificate{}, fmt.Errorf("read %s: %w", filepath.Join(dir, name), err)
		}
		files[name] = data
	}

	var c Certificate
	metaPath := filepath.Join(dir, metadataFile)
	if err := json.Unmarshal(files[metadataFile], &c.Meta); err != nil {
		return Certificate{}, invalidCertificateFile(metaPath, err)
	}
	leaf, err := parseLeaf(files[certFile])
	if err != nil {
		return Certificate{}, invalidCertificateFile(filepath.Join(dir, certFile), err)
	}
	if _, err := parseChain(files[chainFile]); err != nil {
		return Certificate{}, invalidCertificateFile(filepath.Join(dir, chainFile), err)
	}
	if !c.Meta.ExternalKey {
		keyPath := filepath.Join(dir, keyFile)
		key, err := DecodeKeyPEM(files[keyFile])
		if err != nil {
			return Certificate{}, invalidCertificateFile(keyPath, err)
		}
		if !publicKeysEqual(leaf.PublicKey, key.Public()) {
			return Certificate{}, invalidCertificateFile(keyPath, fmt.Errorf("%w the certificate in %s", ErrKeyMismatch, certFile))
		}
	}

	c.LeafPEM = files[certFile]
	c.ChainPEM = files[chainFile]
	c.KeyPEM = files[keyFile]
	return c, nil
}

// externalKey reports whether metadata marks a certificate without a
// stored private key.
func externalKey(metadata []byte) bool {
	var m struct {
		ExternalKey bool `json:"external_key"`
	}
	return json.Unmarshal(metadata, &m) == nil && m.ExternalKey
}

// isCurrentDir reports whether root is still the directory at path, which is
// false once a concurrent save has moved it away.
func isCurrentDir(root *os.Root, path string) bool {
	opened, err := root.Stat(".")
	if err != nil {
		return false
	}
	current, err := os.Stat(path)
	if err != nil {
		return false
	}
	return os.SameFile(opened, current)
}

func invalidCertificateFile(path string, err error) error {
	return fmt.Errorf("invalid certificate file %s: %w; repair it or move its directory away to request a new certificate", path, err)
}

// ListCertificates loads the metadata of every stored certificate, sorted by
// name. It returns the metadata of the certificates that loaded together with
// an error that joins the errors of the others.
func (s *Store) ListCertificates() ([]Metadata, error) {
	certsDir := filepath.Join(s.root, certificatesDir)
	entries, err := os.ReadDir(certsDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list certificates: %w", err)
	}

	var list []Metadata
	var errs []error
	for _, entry := range entries {
		// Dot names are temporary directories of SaveCertificate.
		if !entry.IsDir() || strings.HasPrefix(entry.Name(), ".") {
			continue
		}
		c, err := s.LoadCertificate(entry.Name())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		list = append(list, c.Meta)
	}
	return list, errors.Join(errs...)
}

// UpdateMetadata applies update to the metadata of the certificate name and
// replaces metadata.json atomically. It returns an error wrapping
// [ErrNotFound] if the certificate does not exist. The name field cannot be
// changed. The caller holds the lock of name (see [Store.Lock]), because an
// update that races with SaveCertificate can be lost.
func (s *Store) UpdateMetadata(name string, update func(*Metadata)) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	path := s.CertificatePaths(name).Metadata
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("update metadata of certificate %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}

	var meta Metadata
	if err := json.Unmarshal(data, &meta); err != nil {
		return invalidCertificateFile(path, err)
	}
	update(&meta)
	meta.Name = name

	data, err = json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return fmt.Errorf("encode metadata of certificate %q: %w", name, err)
	}
	data = append(data, '\n')
	if err := atomicfile.Write(path, data, publicPerm); err != nil {
		return fmt.Errorf("update metadata of certificate %q: %w", name, err)
	}
	return nil
}
