package storage

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// File modes of everything the store creates. They are applied with chmod
// after creation, so the umask does not change them.
const (
	dirPerm     os.FileMode = 0o700
	privatePerm os.FileMode = 0o600
	publicPerm  os.FileMode = 0o644
)

const (
	accountsDir     = "accounts"
	certificatesDir = "certificates"
	locksDir        = "locks"
)

// randomSuffixLen is the length of the hex suffix of temporary certificate
// directories such as ".<name>.new-0123abcd".
const randomSuffixLen = 8

// MaxNameLength is the maximum length of a certificate or lock name in bytes.
// It is the usual 255-byte file name limit minus the longest decoration the
// store adds to a name, the temporary directory ".<name>.new-<8 hex digits>".
const MaxNameLength = 255 - len(".") - len(".new-") - randomSuffixLen

var (
	// ErrNotFound is returned when an account or certificate does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalidName is returned for a certificate or lock name that
	// [ValidateName] rejects.
	ErrInvalidName = errors.New("invalid name")
	// ErrKeyMismatch is returned when a private key does not belong to the
	// certificate or account it is saved with.
	ErrKeyMismatch = errors.New("private key does not match")
	// ErrLocked is returned by [Store.Lock] when another process or another
	// lock in this process holds the lock.
	ErrLocked = errors.New("locked")
)

// Store is a storage directory. Its methods may be called from several
// goroutines, but writers expect the caller to hold the [Store.Lock] of the
// certificate or account they change.
type Store struct {
	root     string
	warnings []string
}

// Open prepares the storage directory root and returns a Store for it.
//
// Open creates root with mode 0700 if it is missing and checks that it is a
// writable directory. An existing root keeps its mode. If it or one of its
// subdirectories can be written by group or others, [Store.Warnings] reports
// it.
func Open(root string) (*Store, error) {
	if root == "" {
		return nil, errors.New("storage directory is empty; pass the directory that holds accounts and certificates")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("resolve storage directory %q: %w", root, err)
	}

	info, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(abs, dirPerm); err != nil {
			return nil, fmt.Errorf("create storage directory %s: %w; create it yourself or choose another directory", abs, err)
		}
		if err := os.Chmod(abs, dirPerm); err != nil {
			return nil, fmt.Errorf("set mode %#o on storage directory %s: %w", dirPerm, abs, err)
		}
	case err != nil:
		return nil, fmt.Errorf("storage directory %s: %w; fix its permissions or choose another directory", abs, err)
	case !info.IsDir():
		return nil, fmt.Errorf("storage directory %s is not a directory; move the file away or choose another directory", abs)
	}

	probe, err := os.CreateTemp(abs, ".write-probe-*")
	if err != nil {
		return nil, fmt.Errorf("storage directory %s is not writable: %w; make it writable for user %d (chown or chmod u+rwx) or choose another directory", abs, err, os.Geteuid())
	}
	probeName := probe.Name()
	closeErr := probe.Close()
	if err := os.Remove(probeName); err != nil {
		return nil, fmt.Errorf("remove write probe %s: %w", probeName, err)
	}
	if closeErr != nil {
		return nil, fmt.Errorf("close write probe %s: %w", probeName, closeErr)
	}

	s := &Store{root: abs}
	s.warnings = permissionWarnings(abs, accountsDir, certificatesDir, locksDir)
	return s, nil
}

// OpenExisting returns a Store for reading the storage directory root. It
// creates nothing and does not check that root is writable, so it serves
// commands that only read, also on a read-only file system or for a user
// who may only read the directory. A missing root is an empty store: its
// listings are empty and loads return [ErrNotFound]. [Store.Warnings]
// reports group- or world-writable directories as [Open] does.
//
// Methods that write, such as [Store.Lock] and [Store.SaveCertificate], fail
// on a missing or read-only root.
func OpenExisting(root string) (*Store, error) {
	if root == "" {
		return nil, errors.New("storage directory is empty; pass the directory that holds accounts and certificates")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("resolve storage directory %q: %w", root, err)
	}
	info, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &Store{root: abs}, nil
	case err != nil:
		return nil, fmt.Errorf("storage directory %s: %w; fix its permissions or choose another directory", abs, err)
	case !info.IsDir():
		return nil, fmt.Errorf("storage directory %s is not a directory; move the file away or choose another directory", abs)
	}
	return &Store{root: abs, warnings: permissionWarnings(abs, accountsDir, certificatesDir, locksDir)}, nil
}

// permissionWarnings describes every existing directory among root and its
// named subdirectories that group or others may write to. Such a directory lets
// other users replace keys and certificates.
func permissionWarnings(root string, subdirs ...string) []string {
	var warnings []string
	for _, dir := range append([]string{root}, prefixAll(root, subdirs)...) {
		info, err := os.Stat(dir)
		if err != nil {
			continue
		}
		if info.Mode().Perm()&0o022 != 0 {
			warnings = append(warnings, fmt.Sprintf(
				"storage directory %s has mode %#o, so other users can replace keys and certificates in it; run chmod go-w %s",
				dir, info.Mode().Perm(), dir))
		}
	}
	return warnings
}

func prefixAll(root string, names []string) []string {
	paths := make([]string, len(names))
	for i, name := range names {
		paths[i] = filepath.Join(root, name)
	}
	return paths
}

// Root returns the absolute path of the storage directory.
func (s *Store) Root() string {
	return s.root
}

// Warnings returns the problems that [Open] found but did not treat as errors,
// as messages fit for logging.
func (s *Store) Warnings() []string {
	return append([]string(nil), s.warnings...)
}

// ValidateName checks a certificate or lock name. A valid name is non-empty
// valid UTF-8 of at most [MaxNameLength] bytes, contains no "/", "\" or "..",
// no control characters, and does not start with "." because the store uses
// dot names for temporary directories. The error wraps [ErrInvalidName].
func ValidateName(name string) error {
	problem := ""
	switch {
	case name == "":
		return fmt.Errorf("%w: the certificate name is empty; pass a name such as example.com", ErrInvalidName)
	case len(name) > MaxNameLength:
		problem = fmt.Sprintf("is %d bytes long, but the maximum is %d", len(name), MaxNameLength)
	case !utf8.ValidString(name):
		problem = "is not valid UTF-8"
	case strings.ContainsAny(name, `/\`):
		problem = "contains a path separator"
	case strings.Contains(name, ".."):
		problem = `contains ".."`
	case strings.HasPrefix(name, "."):
		problem = "starts with a dot, which is reserved for temporary directories"
	case strings.ContainsFunc(name, isControl):
		problem = "contains a control character"
	default:
		return nil
	}
	return fmt.Errorf("%w: the certificate name %q %s; choose another name", ErrInvalidName, name, problem)
}

func isControl(r rune) bool {
	return r < 0x20 || r == 0x7f
}

// DefaultName derives the certificate name from the first requested domain:
// it is lowercased, a trailing dot is dropped and a leading "*" becomes "_",
// so "*.Example.test" yields "_.example.test". The result is checked with
// [ValidateName].
func DefaultName(domain string) (string, error) {
	name := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(domain), "."))
	if rest, ok := strings.CutPrefix(name, "*"); ok {
		name = "_" + rest
	}
	if err := ValidateName(name); err != nil {
		return "", fmt.Errorf("derive certificate name from domain %q: %w", domain, err)
	}
	return name, nil
}

// CADirName returns the directory name under "accounts" for the ACME
// directory URL: the host, "_" and the port if present, and the path with "/"
// replaced by "-". Characters other than ASCII letters, digits, ".", "-" and
// "_" become "_".
func CADirName(directoryURL string) (string, error) {
	u, err := url.Parse(directoryURL)
	if err != nil {
		return "", fmt.Errorf("invalid ACME directory URL %q: %w", directoryURL, err)
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return "", fmt.Errorf("invalid ACME directory URL %q: the host is missing; use a URL such as https://acme-v02.api.letsencrypt.org/directory", directoryURL)
	}

	name := host
	if port := u.Port(); port != "" {
		name += "_" + port
	}
	if path := strings.Trim(u.Path, "/"); path != "" {
		name += "-" + strings.ReplaceAll(path, "/", "-")
	}
	name = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, name)

	// A host of "." or ".." would otherwise name the accounts directory or
	// its parent.
	if strings.HasPrefix(name, ".") || len(name) > 255 {
		return "", fmt.Errorf("invalid ACME directory URL %q: it cannot be turned into a directory name; check the URL", directoryURL)
	}
	return name, nil
}

// ensureDir creates dir with mode 0700 unless it already exists as a
// directory. Its parent must exist.
func ensureDir(dir string) error {
	err := os.Mkdir(dir, dirPerm)
	if err == nil {
		// Mkdir applies the umask, which could leave the directory
		// without search permission for its owner.
		if err := os.Chmod(dir, dirPerm); err != nil {
			return fmt.Errorf("set mode %#o on %s: %w", dirPerm, dir, err)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create directory %s: %w", dir, err)
	}
	info, statErr := os.Stat(dir)
	if statErr != nil {
		return fmt.Errorf("create directory %s: %w", dir, statErr)
	}
	if !info.IsDir() {
		return fmt.Errorf("%s is not a directory; move it away so the store can create a directory there", dir)
	}
	return nil
}

// ensureDirs creates each of the nested directories root/elems[0]/elems[1]/...
// and returns the innermost path.
func (s *Store) ensureDirs(elems ...string) (string, error) {
	dir := s.root
	for _, elem := range elems {
		dir = filepath.Join(dir, elem)
		if err := ensureDir(dir); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// writeNewFile creates path, which must not exist yet, with exactly the mode
// perm, writes data and fsyncs the file. On error it removes the file.
func writeNewFile(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, privatePerm)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	err = f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	closeErr := f.Close()
	if err == nil {
		err = closeErr
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func randomSuffix() string {
	b := make([]byte, randomSuffixLen/2)
	// crypto/rand.Read never returns an error since Go 1.24.
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
