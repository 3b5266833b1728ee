package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// CertificateDirError is a certificate directory that could not be loaded.
type CertificateDirError struct {
	// Dir is the absolute path of the directory.
	Dir string
	Err error
}

func (e *CertificateDirError) Error() string {
	return fmt.Sprintf("certificate directory %s: %v", e.Dir, e.Err)
}

func (e *CertificateDirError) Unwrap() error { return e.Err }

// ScanCertificates loads the metadata of every stored certificate, sorted by
// name, as [Store.ListCertificates] does, but returns each directory that
// failed to load as its own [CertificateDirError] with the path. The error
// result is set only when the certificates directory itself cannot be read.
func (s *Store) ScanCertificates() ([]Metadata, []*CertificateDirError, error) {
	certsDir := filepath.Join(s.root, certificatesDir)
	entries, err := os.ReadDir(certsDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("list certificates: %w", err)
	}

	var list []Metadata
	var damaged []*CertificateDirError
	for _, entry := range entries {
		// Dot names are temporary directories of SaveCertificate.
		if !entry.IsDir() || strings.HasPrefix(entry.Name(), ".") {
			continue
		}
		c, err := s.LoadCertificate(entry.Name())
		if err != nil {
			damaged = append(damaged, &CertificateDirError{Dir: filepath.Join(certsDir, entry.Name()), Err: err})
			continue
		}
		list = append(list, c.Meta)
	}
	return list, damaged, nil
}
