package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"

	"github.com/dnscert/dnscert/storage"
)

// openStore opens the storage directory for reading and writing,
// reporting a bad one as input to fix.
func openStore(path string, logger *slog.Logger) (*storage.Store, error) {
	store, err := storage.Open(path)
	if err != nil {
		return nil, storeError(path, err)
	}
	for _, w := range store.Warnings() {
		logger.Warn(w)
	}
	return store, nil
}

// openStoreReadOnly opens the storage directory of a command that only
// reads it: the directory is neither created nor written to, and a missing
// one is an empty store.
func openStoreReadOnly(path string, logger *slog.Logger) (*storage.Store, error) {
	store, err := storage.OpenExisting(path)
	if err != nil {
		return nil, storeError(path, err)
	}
	for _, w := range store.Warnings() {
		logger.Warn(w)
	}
	return store, nil
}

// storeError describes a storage directory that cannot be used. The
// storage package's messages name the directory already.
func storeError(path string, err error) error {
	if errors.Is(err, syscall.ENOTDIR) {
		if file := fileAncestor(path); file != "" {
			return usageErrorf("invalid storage directory %s: %s is a file, not a directory; set --path or DNSCERT_PATH to a directory", path, file)
		}
	}
	return usageErrorf("%v (--path or DNSCERT_PATH sets the directory)", err)
}

// fileAncestor returns path or the nearest of its parents that exists, when
// that is not a directory, and "" otherwise.
func fileAncestor(path string) string {
	for p := filepath.Clean(path); ; p = filepath.Dir(p) {
		if info, err := os.Stat(p); err == nil {
			if info.IsDir() {
				return ""
			}
			return p
		}
		if p == filepath.Dir(p) {
			return ""
		}
	}
}

// lockCertificate takes the certificate's lock, waiting for another run
// when wait is set; waited reports whether another run held it. logger
// carries the certificate name.
func lockCertificate(ctx context.Context, store *storage.Store, certName string, wait bool, logger *slog.Logger) (unlock func() error, waited bool, err error) {
	unlock, err = store.Lock(ctx, "cert-"+certName, false)
	if err == nil {
		return unlock, false, nil
	}
	if !errors.Is(err, storage.ErrLocked) || !wait {
		// The storage error ends with "wait until that process finishes".
		return nil, false, &lockedError{err: fmt.Errorf("certificate %s: %w, or pass --wait", certName, err)}
	}
	logger.Info("waiting for another run on the same certificate", slog.Any("holder", err))
	unlock, err = store.Lock(ctx, "cert-"+certName, true)
	if errors.Is(err, context.Canceled) {
		return nil, true, &interruptedError{err: err, detail: fmt.Sprintf("stopped waiting for the other run on certificate %s", certName)}
	}
	if err != nil {
		return nil, true, &lockedError{err: fmt.Errorf("certificate %s: %w", certName, err)}
	}
	return unlock, true, nil
}
