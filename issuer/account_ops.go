package issuer

import (
	"context"
	"fmt"

	"github.com/mholt/acmez/v3/acme"

	"github.com/dnscert/dnscert/storage"
)

// AccountUnusableError reports a stored account that the CA no longer
// accepts requests from, because it is deactivated or revoked (RFC 8555
// section 7.1.2).
type AccountUnusableError struct {
	Directory string
	Email     string
	URL       string
	Status    string
}

func (e *AccountUnusableError) Error() string {
	register := "dnscert account register --server " + e.Directory
	if e.Email != "" {
		register += " --email " + e.Email
	}
	return fmt.Sprintf("the stored account %s at %s is %s, so the CA rejects every request it signs; register a new account with: %s --accept-tos",
		e.URL, e.Directory, e.Status, register)
}

// CheckAccountUsable returns an [*AccountUnusableError] when the stored
// status of a is deactivated or revoked.
func CheckAccountUsable(a storage.Account) error {
	switch a.Status {
	case acme.StatusDeactivated, acme.StatusRevoked:
		return &AccountUnusableError{Directory: a.DirectoryURL, Email: a.Email, URL: a.URL, Status: a.Status}
	}
	return nil
}

// acmeAccount converts a stored account for signing requests with its key
// and URL.
func acmeAccount(a storage.Account) acme.Account {
	return acme.Account{
		Status:               a.Status,
		Contact:              contact(a.Email),
		TermsOfServiceAgreed: a.TermsOfServiceAgreed,
		Location:             a.URL,
		PrivateKey:           a.Key,
	}
}

// FetchAccount returns the account as the CA reports it now. It sends a
// newAccount request with onlyReturnExisting (RFC 8555 section 7.3.1),
// which never creates an account.
func FetchAccount(ctx context.Context, client *acme.Client, a storage.Account) (acme.Account, error) {
	request := acme.Account{PrivateKey: a.Key}
	got, err := client.GetAccount(ctx, request)
	if err != nil {
		return acme.Account{}, &CAError{Op: "looking up account " + a.URL, Err: err}
	}
	return got, nil
}

// DeactivateAccount sends the account update with status "deactivated"
// (RFC 8555 section 7.3.6), then stores the account with that status. The CA rejects
// every later request signed with the account key, and deactivation cannot
// be undone.
func DeactivateAccount(ctx context.Context, client *acme.Client, store *storage.Store, a storage.Account) (storage.Account, error) {
	// No contact or agreement fields go in the request, so it changes only
	// the status. acmez also sends the account URL as "location", an unknown
	// field that Pebble 2.10 ignores.
	request := acme.Account{Status: acme.StatusDeactivated, Location: a.URL, PrivateKey: a.Key}
	got, err := client.UpdateAccount(ctx, request)
	if err != nil {
		return a, &CAError{Op: "deactivating account " + a.URL, Err: err}
	}
	if got.Status != "" && got.Status != acme.StatusDeactivated {
		return a, &CAError{Op: "deactivating account " + a.URL,
			Err: fmt.Errorf("the CA responded with account status %q, expected %q", got.Status, acme.StatusDeactivated)}
	}
	a.Status = acme.StatusDeactivated
	if err := store.SaveAccount(a); err != nil {
		return a, fmt.Errorf("account %s is deactivated at the CA, but marking the stored copy failed: %w; move the account directory away before the next run", a.URL, err)
	}
	return a, nil
}
