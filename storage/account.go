package storage

import (
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dnscert/dnscert/internal/atomicfile"
)

const (
	accountFile    = "account.json"
	accountKeyFile = "account.key"

	// defaultEmailDir is the account directory name used when no contact
	// e-mail is given.
	defaultEmailDir = "default"
)

// Account is an ACME account registered at one CA.
type Account struct {
	// DirectoryURL is the URL of the CA's ACME directory.
	DirectoryURL string `json:"directory_url"`
	// URL is the account URL that the CA returned in the Location header
	// of the newAccount response (RFC 8555, section 7.3).
	URL string `json:"url"`
	// Email is the contact e-mail address, empty for an account without
	// contact.
	Email string `json:"email,omitempty"`
	// Status is the account status from the CA: "valid", "deactivated" or
	// "revoked" (RFC 8555, section 7.1.2).
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	// TermsOfServiceAgreed records whether the user agreed to the CA's terms
	// of service when registering.
	TermsOfServiceAgreed bool `json:"terms_of_service_agreed"`

	// Key is the account private key, stored in account.key.
	Key crypto.Signer `json:"-"`
}

// AccountDir returns the directory that holds the account for directoryURL and
// email, which is <root>/accounts/<ca-dir>/<email or "default">.
func (s *Store) AccountDir(directoryURL, email string) (string, error) {
	caDir, err := CADirName(directoryURL)
	if err != nil {
		return "", err
	}
	emailDir, err := emailDirName(email)
	if err != nil {
		return "", err
	}
	return filepath.Join(s.root, accountsDir, caDir, emailDir), nil
}

// emailDirName returns the directory name for a contact e-mail address.
// Requiring an "@" keeps addresses apart from defaultEmailDir.
func emailDirName(email string) (string, error) {
	if email == "" {
		return defaultEmailDir, nil
	}
	problem := ""
	switch {
	case !strings.Contains(email, "@"):
		problem = `contains no "@"`
	case len(email) > 255:
		problem = "is longer than 255 bytes"
	case strings.ContainsAny(email, `/\`):
		problem = "contains a path separator"
	case strings.HasPrefix(email, "."):
		problem = "starts with a dot"
	case strings.ContainsFunc(email, isControl):
		problem = "contains a control character"
	default:
		return email, nil
	}
	return "", fmt.Errorf("invalid contact e-mail %q: it %s; pass an address such as admin@example.com", email, problem)
}

// LoadAccount loads the account for directoryURL and the contact email (empty
// for the account without contact). It returns an error wrapping
// [ErrNotFound] if no such account is stored. A damaged account.json or
// account.key is reported with its path and never replaced.
func (s *Store) LoadAccount(directoryURL, email string) (Account, error) {
	dir, err := s.AccountDir(directoryURL, email)
	if err != nil {
		return Account{}, err
	}
	account, err := loadAccountDir(dir)
	if err != nil {
		return Account{}, err
	}

	// Different URLs can map to the same directory name, for example
	// ".../a/b" and ".../a-b", so the stored URL must be checked.
	jsonPath := filepath.Join(dir, accountFile)
	if normalizeDirectoryURL(account.DirectoryURL) != normalizeDirectoryURL(directoryURL) {
		return Account{}, fmt.Errorf("account file %s belongs to ACME directory %s, not %s; move it away to register a new account", jsonPath, account.DirectoryURL, directoryURL)
	}
	if account.Email != email {
		return Account{}, fmt.Errorf("account file %s has contact e-mail %q, not %q; move it away to register a new account", jsonPath, account.Email, email)
	}
	return account, nil
}

func loadAccountDir(dir string) (Account, error) {
	jsonPath := filepath.Join(dir, accountFile)
	keyPath := filepath.Join(dir, accountKeyFile)

	data, err := os.ReadFile(jsonPath)
	if errors.Is(err, fs.ErrNotExist) {
		if _, statErr := os.Stat(keyPath); statErr == nil {
			return Account{}, fmt.Errorf("incomplete account in %s: %s exists but %s is missing; move the directory away to register a new account", dir, accountKeyFile, accountFile)
		}
		return Account{}, fmt.Errorf("account %s: %w", dir, ErrNotFound)
	}
	if err != nil {
		return Account{}, fmt.Errorf("read account file %s: %w", jsonPath, err)
	}

	var account Account
	if err := json.Unmarshal(data, &account); err != nil {
		return Account{}, invalidAccountFile(jsonPath, err)
	}
	if account.DirectoryURL == "" {
		return Account{}, invalidAccountFile(jsonPath, errors.New("directory_url is missing"))
	}
	if account.URL == "" {
		return Account{}, invalidAccountFile(jsonPath, errors.New("url is missing"))
	}

	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return Account{}, invalidAccountFile(keyPath, err)
	}
	account.Key, err = DecodeKeyPEM(keyPEM)
	if err != nil {
		return Account{}, invalidAccountFile(keyPath, err)
	}
	return account, nil
}

func invalidAccountFile(path string, err error) error {
	return fmt.Errorf("invalid account file %s: %w; move it away to register a new account", path, err)
}

// normalizeDirectoryURL returns rawURL with a lowercase scheme and host and
// without trailing slashes, for comparing directory URLs.
func normalizeDirectoryURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Host = strings.ToLower(u.Host)
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u.String()
}

// SaveAccount stores the account in the directory given by its DirectoryURL
// and Email. The key is written first, so an interrupted save leaves no
// account.json without its key.
//
// SaveAccount does not replace an existing account.key that holds a different
// key or cannot be read, because losing an account key loses the account. It
// returns an error wrapping [ErrKeyMismatch] in the first case.
func (s *Store) SaveAccount(account Account) error {
	if account.Key == nil {
		return errors.New("save account: the account key is nil")
	}
	if account.URL == "" {
		return fmt.Errorf("save account for %s: the account URL is empty; register the account first", account.DirectoryURL)
	}
	caDir, err := CADirName(account.DirectoryURL)
	if err != nil {
		return err
	}
	emailDir, err := emailDirName(account.Email)
	if err != nil {
		return err
	}
	dir, err := s.ensureDirs(accountsDir, caDir, emailDir)
	if err != nil {
		return err
	}

	keyPath := filepath.Join(dir, accountKeyFile)
	if err := writeAccountKey(keyPath, account.Key); err != nil {
		return err
	}

	data, err := json.MarshalIndent(account, "", "  ")
	if err != nil {
		return fmt.Errorf("encode account %s: %w", account.URL, err)
	}
	data = append(data, '\n')
	jsonPath := filepath.Join(dir, accountFile)
	if err := atomicfile.Write(jsonPath, data, publicPerm); err != nil {
		return fmt.Errorf("save account file: %w", err)
	}
	return nil
}

// writeAccountKey writes key to path unless path already holds the same key.
func writeAccountKey(path string, key crypto.Signer) error {
	existing, err := os.ReadFile(path)
	switch {
	case err == nil:
		stored, err := DecodeKeyPEM(existing)
		if err != nil {
			return invalidAccountFile(path, err)
		}
		if !publicKeysEqual(stored.Public(), key.Public()) {
			return fmt.Errorf("%w: %s holds a different account key, which is not replaced; move the directory away to store a new account", ErrKeyMismatch, path)
		}
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("read account key %s: %w", path, err)
	}

	keyPEM, err := EncodeKeyPEM(key)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path, keyPEM, privatePerm); err != nil {
		return fmt.Errorf("save account key: %w", err)
	}
	return nil
}

// ListAccounts loads every stored account. It returns the accounts that
// loaded together with an error that joins the errors of the others.
func (s *Store) ListAccounts() ([]Account, error) {
	base := filepath.Join(s.root, accountsDir)
	caEntries, err := os.ReadDir(base)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}

	var accounts []Account
	var errs []error
	for _, caEntry := range caEntries {
		if !caEntry.IsDir() || strings.HasPrefix(caEntry.Name(), ".") {
			continue
		}
		caPath := filepath.Join(base, caEntry.Name())
		emailEntries, err := os.ReadDir(caPath)
		if err != nil {
			errs = append(errs, fmt.Errorf("list accounts: %w", err))
			continue
		}
		for _, emailEntry := range emailEntries {
			if !emailEntry.IsDir() || strings.HasPrefix(emailEntry.Name(), ".") {
				continue
			}
			account, err := loadAccountDir(filepath.Join(caPath, emailEntry.Name()))
			if err != nil {
				errs = append(errs, err)
				continue
			}
			accounts = append(accounts, account)
		}
	}
	return accounts, errors.Join(errs...)
}
