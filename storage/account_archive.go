package storage

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/dnscert/dnscert/internal/atomicfile"
)

// archivedAccountPrefix starts the directory names that ArchiveAccount
// moves accounts to. Such a name contains no "@" and is not
// defaultEmailDir, so it is never the directory of a contact e-mail.
const archivedAccountPrefix = "archived-"

// ArchiveAccount moves the account of directoryURL and email to a sibling
// directory "archived-<UTC time>", so that [Store.LoadAccount] no longer
// finds it and a new account can be stored in its place. It returns the new
// path. [Store.ListAccounts] still lists the archived account. The account
// key is kept, never deleted. It returns an error wrapping [ErrNotFound] if
// no such account is stored.
func (s *Store) ArchiveAccount(directoryURL, email string) (string, error) {
	dir, err := s.AccountDir(directoryURL, email)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("account %s: %w", dir, ErrNotFound)
	}
	parent := filepath.Dir(dir)
	base := archivedAccountPrefix + time.Now().UTC().Format("20060102T150405Z")
	const attempts = 100
	for i := range attempts {
		name := base
		if i > 0 {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		target := filepath.Join(parent, name)
		if _, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err := os.Rename(dir, target); err != nil {
			return "", fmt.Errorf("archive account %s: %w", dir, err)
		}
		if err := atomicfile.SyncDir(parent); err != nil {
			return "", fmt.Errorf("archive account %s: moved to %s, but %w", dir, target, err)
		}
		return target, nil
	}
	return "", fmt.Errorf("archive account %s: %d archive directories named %s* exist already; remove old ones", dir, attempts, base)
}

// AccountLockName returns the name of the [Store.Lock] that guards the
// account of directoryURL and email. The name is derived from a hash, so
// it passes [ValidateName] for every URL and e-mail.
func AccountLockName(directoryURL, email string) string {
	sum := sha256.Sum256([]byte(normalizeDirectoryURL(directoryURL) + "\x00" + email))
	return "account-" + hex.EncodeToString(sum[:8])
}
