package storage

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testDirectoryURL = "https://127.0.0.1:14000/dir"

func newTestAccount(t *testing.T, email string) Account {
	t.Helper()
	return Account{
		DirectoryURL:         testDirectoryURL,
		URL:                  "https://127.0.0.1:14000/my-account/1",
		Email:                email,
		Status:               "valid",
		CreatedAt:            time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		TermsOfServiceAgreed: true,
		Key:                  mustGenerate(t, KeyTypeEC256),
	}
}

func TestAccountRoundTrip(t *testing.T) {
	store := newTestStore(t)
	want := newTestAccount(t, "admin@example.test")

	if err := store.SaveAccount(want); err != nil {
		t.Fatal(err)
	}
	got, err := store.LoadAccount(testDirectoryURL, "admin@example.test")
	if err != nil {
		t.Fatal(err)
	}

	if got.DirectoryURL != want.DirectoryURL {
		t.Errorf("DirectoryURL = %q, want %q", got.DirectoryURL, want.DirectoryURL)
	}
	if got.URL != want.URL {
		t.Errorf("URL = %q, want %q", got.URL, want.URL)
	}
	if got.Email != want.Email {
		t.Errorf("Email = %q, want %q", got.Email, want.Email)
	}
	if got.Status != want.Status {
		t.Errorf("Status = %q, want %q", got.Status, want.Status)
	}
	if !got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("CreatedAt = %v, want %v", got.CreatedAt, want.CreatedAt)
	}
	if got.TermsOfServiceAgreed != want.TermsOfServiceAgreed {
		t.Errorf("TermsOfServiceAgreed = %v, want %v", got.TermsOfServiceAgreed, want.TermsOfServiceAgreed)
	}
	if got.Key == nil || !publicKeysEqual(got.Key.Public(), want.Key.Public()) {
		t.Error("loaded key differs from the saved key")
	}

	accountsPath := filepath.Join(store.Root(), "accounts")
	caPath := filepath.Join(accountsPath, "127.0.0.1_14000-dir")
	dir := filepath.Join(caPath, "admin@example.test")
	assertMode(t, accountsPath, 0o700)
	assertMode(t, caPath, 0o700)
	assertMode(t, dir, 0o700)
	assertMode(t, filepath.Join(dir, "account.json"), 0o644)
	assertMode(t, filepath.Join(dir, "account.key"), 0o600)
	keyPEM, err := os.ReadFile(filepath.Join(dir, "account.key"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(keyPEM), "-----BEGIN PRIVATE KEY-----\n") {
		t.Errorf("account.key starts with %.30q, want a PKCS #8 PRIVATE KEY block", keyPEM)
	}
}

func TestAccountWithoutEmail(t *testing.T) {
	store := newTestStore(t)
	if err := store.SaveAccount(newTestAccount(t, "")); err != nil {
		t.Fatal(err)
	}

	if _, err := store.LoadAccount(testDirectoryURL, ""); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(store.Root(), "accounts", "127.0.0.1_14000-dir", "default", "account.json")
	if _, err := os.Stat(path); err != nil {
		t.Errorf("account without e-mail is not stored in the default directory: %v", err)
	}
	if _, err := store.LoadAccount(testDirectoryURL, "admin@example.test"); !errors.Is(err, ErrNotFound) {
		t.Errorf("LoadAccount with an e-mail error = %v, want ErrNotFound", err)
	}
}

func TestAccountUpdateSameKey(t *testing.T) {
	store := newTestStore(t)
	account := newTestAccount(t, "admin@example.test")
	if err := store.SaveAccount(account); err != nil {
		t.Fatal(err)
	}

	account.Status = "deactivated"
	if err := store.SaveAccount(account); err != nil {
		t.Fatal(err)
	}

	got, err := store.LoadAccount(testDirectoryURL, "admin@example.test")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "deactivated" {
		t.Errorf("Status = %q, want deactivated", got.Status)
	}
}

func TestLoadAccountNotFound(t *testing.T) {
	store := newTestStore(t)

	_, err := store.LoadAccount(testDirectoryURL, "admin@example.test")

	if !errors.Is(err, ErrNotFound) {
		t.Errorf("error = %v, want ErrNotFound", err)
	}
}

func TestLoadAccountCorruptFiles(t *testing.T) {
	for _, tc := range []struct {
		file    string
		content string
	}{
		{"account.json", "{not json"},
		{"account.json", `{"directory_url": "https://127.0.0.1:14000/dir"}`},
		{"account.key", "not a key"},
		{"account.key", ""},
	} {
		t.Run(tc.file, func(t *testing.T) {
			store := newTestStore(t)
			account := newTestAccount(t, "admin@example.test")
			if err := store.SaveAccount(account); err != nil {
				t.Fatal(err)
			}
			dir, err := store.AccountDir(testDirectoryURL, account.Email)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, tc.file)
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}

			_, err = store.LoadAccount(testDirectoryURL, account.Email)

			assertErrorContains(t, err, "invalid account file "+path, "move it away")
			if errors.Is(err, ErrNotFound) {
				t.Errorf("error %q wraps ErrNotFound, so a caller would register a new account over it", err)
			}
		})
	}
}

func TestLoadAccountKeyWithoutJSON(t *testing.T) {
	store := newTestStore(t)
	account := newTestAccount(t, "")
	if err := store.SaveAccount(account); err != nil {
		t.Fatal(err)
	}
	dir, err := store.AccountDir(testDirectoryURL, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "account.json")); err != nil {
		t.Fatal(err)
	}

	_, err = store.LoadAccount(testDirectoryURL, "")

	assertErrorContains(t, err, dir, "incomplete")
	if errors.Is(err, ErrNotFound) {
		t.Errorf("error %q wraps ErrNotFound", err)
	}
}

func TestSaveAccountKeepsDifferentKey(t *testing.T) {
	store := newTestStore(t)
	first := newTestAccount(t, "admin@example.test")
	if err := store.SaveAccount(first); err != nil {
		t.Fatal(err)
	}
	dir, err := store.AccountDir(testDirectoryURL, first.Email)
	if err != nil {
		t.Fatal(err)
	}
	before := readFiles(t, dir)

	second := newTestAccount(t, "admin@example.test")
	err = store.SaveAccount(second)

	if !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("error = %v, want ErrKeyMismatch", err)
	}
	assertErrorContains(t, err, filepath.Join(dir, "account.key"))
	assertSameFiles(t, readFiles(t, dir), before)
}

func TestSaveAccountKeepsCorruptKey(t *testing.T) {
	store := newTestStore(t)
	account := newTestAccount(t, "admin@example.test")
	if err := store.SaveAccount(account); err != nil {
		t.Fatal(err)
	}
	dir, err := store.AccountDir(testDirectoryURL, account.Email)
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dir, "account.key")
	if err := os.WriteFile(keyPath, []byte("damaged"), 0o600); err != nil {
		t.Fatal(err)
	}

	err = store.SaveAccount(account)

	assertErrorContains(t, err, keyPath)
	data, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "damaged" {
		t.Errorf("damaged account key was replaced")
	}
}

func TestSaveAccountInvalid(t *testing.T) {
	store := newTestStore(t)
	for _, tc := range []struct {
		name   string
		modify func(*Account)
	}{
		{"nil key", func(a *Account) { a.Key = nil }},
		{"empty URL", func(a *Account) { a.URL = "" }},
		{"bad directory URL", func(a *Account) { a.DirectoryURL = "not a url" }},
		{"email without @", func(a *Account) { a.Email = "admin" }},
		{"email with slash", func(a *Account) { a.Email = "../admin@example.test" }},
		{"email with dot", func(a *Account) { a.Email = ".admin@example.test" }},
	} {
		account := newTestAccount(t, "admin@example.test")
		tc.modify(&account)
		if err := store.SaveAccount(account); err == nil {
			t.Errorf("%s: SaveAccount succeeded, want an error", tc.name)
		}
	}
	if _, err := os.Stat(filepath.Join(store.Root(), "admin@example.test")); err == nil {
		t.Error("an invalid e-mail created a directory outside accounts")
	}
}

// TestLoadAccountOtherDirectoryURL covers two directory URLs that map to the
// same directory name.
func TestLoadAccountOtherDirectoryURL(t *testing.T) {
	store := newTestStore(t)
	account := newTestAccount(t, "")
	account.DirectoryURL = "https://acme.example.test/a/b"
	if err := store.SaveAccount(account); err != nil {
		t.Fatal(err)
	}

	if _, err := store.LoadAccount("https://ACME.example.test/a/b/", ""); err != nil {
		t.Errorf("LoadAccount with the same URL in another spelling: %v", err)
	}
	_, err := store.LoadAccount("https://acme.example.test/a-b", "")
	assertErrorContains(t, err, "https://acme.example.test/a/b", "https://acme.example.test/a-b")
}

func TestListAccounts(t *testing.T) {
	store := newTestStore(t)
	first := newTestAccount(t, "a@example.test")
	second := newTestAccount(t, "")
	second.DirectoryURL = "https://acme.example.test/directory"
	broken := newTestAccount(t, "broken@example.test")
	for _, account := range []Account{first, second, broken} {
		if err := store.SaveAccount(account); err != nil {
			t.Fatal(err)
		}
	}
	brokenDir, err := store.AccountDir(broken.DirectoryURL, broken.Email)
	if err != nil {
		t.Fatal(err)
	}
	brokenPath := filepath.Join(brokenDir, "account.json")
	if err := os.WriteFile(brokenPath, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}

	accounts, err := store.ListAccounts()

	assertErrorContains(t, err, brokenPath)
	if len(accounts) != 2 {
		t.Fatalf("ListAccounts returned %d accounts, want 2", len(accounts))
	}
	// Directories are listed in name order: "127.0.0.1_14000-dir" sorts
	// before "acme.example.test-directory".
	if accounts[0].Email != first.Email || accounts[0].DirectoryURL != first.DirectoryURL {
		t.Errorf("accounts[0] = %s %q, want %s %q", accounts[0].DirectoryURL, accounts[0].Email, first.DirectoryURL, first.Email)
	}
	if accounts[1].DirectoryURL != second.DirectoryURL {
		t.Errorf("accounts[1].DirectoryURL = %s, want %s", accounts[1].DirectoryURL, second.DirectoryURL)
	}
	if accounts[0].Key == nil || accounts[1].Key == nil {
		t.Error("ListAccounts returned an account without key")
	}
}

func TestListAccountsEmpty(t *testing.T) {
	store := newTestStore(t)

	accounts, err := store.ListAccounts()

	if err != nil || len(accounts) != 0 {
		t.Errorf("ListAccounts() = %d accounts, %v; want none and no error", len(accounts), err)
	}
}
