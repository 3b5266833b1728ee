package issuer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/mholt/acmez/v3/acme"

	"github.com/dnscert/dnscert/storage"
)

// AccountOptions says which account to use and how to register it.
type AccountOptions struct {
	Email     string
	AcceptTOS bool
	// EABKeyID and EABHMAC bind a new account to an existing account at
	// the CA (RFC 8555 section 7.3.4); the HMAC key is base64url.
	EABKeyID string
	EABHMAC  string
	Logger   *slog.Logger
}

// LoadOrRegister returns the stored account for the client's CA and the
// e-mail, or registers a new one and stores it. One account exists per CA
// and e-mail.
func LoadOrRegister(ctx context.Context, client *acme.Client, store *storage.Store, opts AccountOptions) (acme.Account, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	stored, err := store.LoadAccount(client.Directory, opts.Email)
	if err == nil {
		if err := CheckAccountUsable(stored); err != nil {
			return acme.Account{}, err
		}
		logger.LogAttrs(ctx, slog.LevelInfo, "using stored account", slog.String("account", stored.URL))
		return acmeAccount(stored), nil
	}
	if !errors.Is(err, storage.ErrNotFound) {
		return acme.Account{}, err
	}

	dir, err := client.GetDirectory(ctx)
	if err != nil {
		return acme.Account{}, &CAError{Op: "reading the ACME directory " + client.Directory, Err: err}
	}
	var tos string
	if dir.Meta != nil {
		tos = dir.Meta.TermsOfService
	}
	if tos != "" && !opts.AcceptTOS {
		return acme.Account{}, &CAError{Op: "registering an account",
			Err: fmt.Errorf("the CA requires agreement to its terms of service at %s; read them and add --accept-tos", tos)}
	}
	if dir.Meta != nil && dir.Meta.ExternalAccountRequired && (opts.EABKeyID == "" || opts.EABHMAC == "") {
		return acme.Account{}, &CAError{Op: "registering an account",
			Err: errors.New("the CA requires external account binding; add --eab-kid and --eab-hmac from your CA account")}
	}

	key, err := storage.GenerateKey(storage.KeyTypeEC256)
	if err != nil {
		return acme.Account{}, err
	}
	account := acme.Account{
		Contact:              contact(opts.Email),
		TermsOfServiceAgreed: opts.AcceptTOS,
		PrivateKey:           key,
	}
	if opts.EABKeyID != "" {
		err := account.SetExternalAccountBinding(ctx, client, acme.EAB{KeyID: opts.EABKeyID, MACKey: opts.EABHMAC})
		if err != nil {
			return acme.Account{}, fmt.Errorf("external account binding: %w", err)
		}
	}
	account, err = client.NewAccount(ctx, account)
	if err != nil {
		return acme.Account{}, &CAError{Op: "registering an account", Err: err}
	}
	err = store.SaveAccount(storage.Account{
		DirectoryURL:         client.Directory,
		URL:                  account.Location,
		Email:                opts.Email,
		Status:               account.Status,
		CreatedAt:            time.Now().UTC(),
		TermsOfServiceAgreed: opts.AcceptTOS,
		Key:                  key,
	})
	if err != nil {
		return acme.Account{}, fmt.Errorf("account %s was registered but could not be stored: %w", account.Location, err)
	}
	logger.LogAttrs(ctx, slog.LevelInfo, "registered account", slog.String("account", account.Location))
	return account, nil
}

func contact(email string) []string {
	if email == "" {
		return nil
	}
	return []string{"mailto:" + email}
}

// CheckProfile fails when the CA's directory does not offer profile, before
// any order is created.
func CheckProfile(ctx context.Context, client *acme.Client, profile string) error {
	dir, err := client.GetDirectory(ctx)
	if err != nil {
		return &CAError{Op: "reading the ACME directory " + client.Directory, Err: err}
	}
	var offered []string
	if dir.Meta != nil {
		for name := range dir.Meta.Profiles {
			offered = append(offered, name)
		}
	}
	sort.Strings(offered)
	if slices.Contains(offered, profile) {
		return nil
	}
	if len(offered) == 0 {
		return &ProfileError{Profile: profile, Msg: "the CA offers no profiles; drop --profile"}
	}
	return &ProfileError{Profile: profile, Msg: "the CA offers: " + strings.Join(offered, ", ")}
}

// ProfileError reports a profile the CA does not offer.
type ProfileError struct {
	Profile string
	Msg     string
}

func (e *ProfileError) Error() string {
	return fmt.Sprintf("unknown profile %q: %s", e.Profile, e.Msg)
}
