package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/mholt/acmez/v3/acme"
	"github.com/urfave/cli/v2"

	"github.com/dnscert/dnscert/issuer"
	"github.com/dnscert/dnscert/storage"
)

const flagYes = "yes"

func accountCommand(streams Streams) *cli.Command {
	return &cli.Command{
		Name:  "account",
		Usage: "show, register, deactivate or list ACME accounts",
		Description: "One account is stored per CA (--server) and contact e-mail (--email), and issue and\n" +
			"renew register it on first use. A deactivated account stays stored with status\n" +
			"deactivated, so that no run registers a replacement by surprise; account register\n" +
			"moves it to an archived-<time> directory next to it and registers a new one.",
		Flags: commonFlags(),
		Subcommands: []*cli.Command{
			accountShowCommand(streams),
			accountRegisterCommand(streams),
			accountDeactivateCommand(streams),
			accountListCommand(streams),
		},
	}
}

func accountJSONFlag() cli.Flag {
	return &cli.BoolFlag{
		Name:    flagJSON,
		Usage:   "print the result as JSON on stdout",
		EnvVars: envName(flagJSON),
	}
}

func accountShowCommand(streams Streams) *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "show the stored account of --server and --email, with its status at the CA now",
		UsageText: "dnscert account show --server letsencrypt --email you@example.com",
		Flags:     withCommonFlags(append(caFlags(), accountJSONFlag())),
		Action: func(cctx *cli.Context) error {
			return runAccountShow(cctx, streams)
		},
	}
}

func accountRegisterCommand(streams Streams) *cli.Command {
	return &cli.Command{
		Name:      "register",
		Usage:     "register an account at the CA, or report the one already stored",
		UsageText: "dnscert account register --server letsencrypt --email you@example.com --accept-tos",
		Description: "Registers an account for --server and --email (RFC 8555 section 7.3) and stores its key,\n" +
			"with external account binding when --eab-kid and --eab-hmac are given. When a usable\n" +
			"account is stored already, it is kept and nothing is sent. A stored account that is\n" +
			"deactivated or revoked is moved to an archived-<time> directory first.",
		Flags: withCommonFlags(append(caFlags(), accountJSONFlag())),
		Action: func(cctx *cli.Context) error {
			return runAccountRegister(cctx, streams)
		},
	}
}

func accountDeactivateCommand(streams Streams) *cli.Command {
	flags := append(caFlags(), accountJSONFlag(), &cli.BoolFlag{
		Name:  flagYes,
		Usage: "confirm the deactivation, which cannot be undone",
	})
	return &cli.Command{
		Name:      "deactivate",
		Usage:     "deactivate the stored account of --server and --email at the CA, for good",
		UsageText: "dnscert account deactivate --server letsencrypt --email you@example.com --yes",
		Description: "Asks the CA to deactivate the account (RFC 8555 section 7.3.6). The CA then rejects\n" +
			"every request signed by the account key, including revocations, and this cannot be\n" +
			"undone. Certificates already issued stay valid. The stored account is kept, marked\n" +
			"deactivated; run account register to register a new one.",
		Flags: withCommonFlags(flags),
		Action: func(cctx *cli.Context) error {
			return runAccountDeactivate(cctx, streams)
		},
	}
}

func accountListCommand(streams Streams) *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list every stored account with its stored status, without asking the CAs",
		Flags: withCommonFlags([]cli.Flag{accountJSONFlag()}),
		Action: func(cctx *cli.Context) error {
			return runAccountList(cctx, streams)
		},
	}
}

// accountView is one account as the account commands print it.
type accountView struct {
	// Result is the outcome of register or deactivate: registered,
	// existing, deactivated or already_deactivated.
	Result string `json:"result,omitempty"`
	// CA is the --server shortcut of DirectoryURL, or DirectoryURL itself.
	CA           string   `json:"ca"`
	DirectoryURL string   `json:"directory_url"`
	URL          string   `json:"url"`
	Email        string   `json:"email,omitempty"`
	Contact      []string `json:"contact,omitempty"`
	// Status is the status the CA reported during this run for show and
	// deactivate, and the stored status for register and list.
	Status               string    `json:"status"`
	CreatedAt            time.Time `json:"created_at"`
	TermsOfServiceAgreed bool      `json:"terms_of_service_agreed"`
	// ArchivedTo is the directory that register moved a deactivated
	// account to.
	ArchivedTo string `json:"archived_to,omitempty"`
}

func newAccountView(a storage.Account) *accountView {
	v := &accountView{
		CA:                   caDisplayName(a.DirectoryURL),
		DirectoryURL:         a.DirectoryURL,
		URL:                  a.URL,
		Email:                a.Email,
		Status:               a.Status,
		CreatedAt:            a.CreatedAt,
		TermsOfServiceAgreed: a.TermsOfServiceAgreed,
	}
	if a.Email != "" {
		v.Contact = []string{"mailto:" + a.Email}
	}
	return v
}

func writeAccountView(w io.Writer, v *accountView) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "account\t%s\n", v.URL)
	fmt.Fprintf(tw, "  CA\t%s\n", v.CA)
	if v.CA != v.DirectoryURL {
		fmt.Fprintf(tw, "  directory\t%s\n", v.DirectoryURL)
	}
	fmt.Fprintf(tw, "  e-mail\t%s\n", orDash(v.Email))
	for _, c := range v.Contact {
		fmt.Fprintf(tw, "  contact\t%s\n", c)
	}
	fmt.Fprintf(tw, "  status\t%s\n", orDash(v.Status))
	fmt.Fprintf(tw, "  created\t%s\n", v.CreatedAt.UTC().Format(time.RFC3339))
	fmt.Fprintf(tw, "  terms of service agreed\t%t\n", v.TermsOfServiceAgreed)
	if v.ArchivedTo != "" {
		fmt.Fprintf(tw, "  replaced account moved to\t%s\n", v.ArchivedTo)
	}
	_ = tw.Flush()
}

// parseAccountCAOptions checks the CA flags of an account command without
// any network request.
func parseAccountCAOptions(cctx *cli.Context, extra ...error) (*caOptions, error) {
	ca, errs := parseCAOptions(cctx)
	errs = append(errs, extra...)
	if len(errs) > 0 {
		return nil, joinUsageErrors(errs)
	}
	return ca, nil
}

// registerHint is the command line that registers an account for ca.
func registerHint(ca *caOptions) string {
	hint := "dnscert account register --server " + caDisplayName(ca.directory)
	if ca.email != "" {
		hint += " --email " + ca.email
	}
	return hint + " --accept-tos"
}

// loadStoredAccount loads the account of ca, reporting a missing one as
// input to fix.
func loadStoredAccount(store *storage.Store, ca *caOptions) (storage.Account, error) {
	account, err := store.LoadAccount(ca.directory, ca.email)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Account{}, usageErrorf("no account stored for %s with e-mail %q in %s; register one with: %s",
			ca.directory, ca.email, store.Root(), registerHint(ca))
	}
	return account, err
}

// lockAccount takes the lock of the account of ca, so that two account
// commands do not both change it.
func lockAccount(ctx context.Context, store *storage.Store, ca *caOptions) (func() error, error) {
	unlock, err := store.Lock(ctx, storage.AccountLockName(ca.directory, ca.email), false)
	if errors.Is(err, storage.ErrLocked) {
		return nil, &lockedError{err: fmt.Errorf("account for %s with e-mail %q: %w", ca.directory, ca.email, err)}
	}
	return unlock, err
}

// accountCommandSetup checks the arguments and CA flags of an account
// subcommand, then opens its logger and the storage directory.
func accountCommandSetup(cctx *cli.Context, streams Streams) (*slog.Logger, *caOptions, *storage.Store, error) {
	if err := checkNoArguments(cctx, ""); err != nil {
		return nil, nil, nil, err
	}
	logger, err := newLogger(cctx, streams.Stderr)
	if err != nil {
		return nil, nil, nil, err
	}
	ca, err := parseAccountCAOptions(cctx)
	if err != nil {
		return nil, nil, nil, err
	}
	store, err := openStore(commonString(cctx, flagPath), logger)
	if err != nil {
		return nil, nil, nil, err
	}
	return logger, ca, store, nil
}

func runAccountShow(cctx *cli.Context, streams Streams) error {
	ctx := cctx.Context
	logger, ca, store, err := accountCommandSetup(cctx, streams)
	if err != nil {
		return err
	}
	stored, err := loadStoredAccount(store, ca)
	if err != nil {
		return err
	}

	view := newAccountView(stored)
	client, retry := newACMEClient(ca.directory, ca.roots, logger)
	current, err := issuer.FetchAccount(ctx, client, stored)
	var problem acme.Problem
	switch {
	case err == nil:
		view.Status = current.Status
		view.Contact = current.Contact
		if current.Location != "" && current.Location != stored.URL {
			logger.Warn("the CA reports another URL for the account key than the stored one",
				slog.String("stored", stored.URL), slog.String("ca", current.Location))
		}
		if err := recordAccountStatus(ctx, store, ca, stored, current.Status); err != nil {
			logger.Warn("could not store the account status the CA reported", slog.Any("error", err))
		}
	case stored.Status == acme.StatusDeactivated && errors.As(err, &problem) && problem.Type == acme.ProblemTypeUnauthorized:
		// RFC 8555 section 7.3.6 has the CA reject every request signed
		// by a deactivated account's key, this lookup included.
		logger.Debug("the CA rejects the deactivated account's key", slog.Any("error", err))
		view.Status = acme.StatusDeactivated
	default:
		return withRetryAfter(err, retry)
	}

	if cctx.Bool(flagJSON) {
		writeJSON(streams.Stdout, view)
		return nil
	}
	writeAccountView(streams.Stdout, view)
	return nil
}

// recordAccountStatus stores a deactivated or revoked status that the CA
// reported, so later runs see that the account is unusable. Other statuses
// leave the stored account unchanged.
func recordAccountStatus(ctx context.Context, store *storage.Store, ca *caOptions, stored storage.Account, status string) error {
	if status == stored.Status || (status != acme.StatusDeactivated && status != acme.StatusRevoked) {
		return nil
	}
	unlock, err := lockAccount(ctx, store, ca)
	if err != nil {
		return err
	}
	defer unlock()
	stored.Status = status
	return store.SaveAccount(stored)
}

func runAccountRegister(cctx *cli.Context, streams Streams) error {
	ctx := cctx.Context
	logger, ca, store, err := accountCommandSetup(cctx, streams)
	if err != nil {
		return err
	}
	unlock, err := lockAccount(ctx, store, ca)
	if err != nil {
		return err
	}
	defer unlock()

	var archivedTo string
	stored, err := store.LoadAccount(ca.directory, ca.email)
	switch {
	case err == nil && issuer.CheckAccountUsable(stored) == nil:
		view := newAccountView(stored)
		view.Result = "existing"
		if cctx.Bool(flagJSON) {
			writeJSON(streams.Stdout, view)
			return nil
		}
		fmt.Fprintf(streams.Stdout, "Using the account already stored for %s with e-mail %q; nothing was sent to the CA.\n", view.CA, ca.email)
		writeAccountView(streams.Stdout, view)
		return nil
	case err == nil:
		if archivedTo, err = store.ArchiveAccount(ca.directory, ca.email); err != nil {
			return err
		}
		logger.Info("moved the unusable account away to register a new one", slog.String("account", stored.URL),
			slog.String("status", stored.Status), slog.String("moved_to", archivedTo))
	case !errors.Is(err, storage.ErrNotFound):
		return err
	}

	client, retry := newACMEClient(ca.directory, ca.roots, logger)
	if _, err := ca.account(ctx, client, store, logger); err != nil {
		return withRetryAfter(err, retry)
	}
	registered, err := store.LoadAccount(ca.directory, ca.email)
	if err != nil {
		return err
	}
	view := newAccountView(registered)
	view.Result = "registered"
	view.ArchivedTo = archivedTo
	if cctx.Bool(flagJSON) {
		writeJSON(streams.Stdout, view)
		return nil
	}
	fmt.Fprintf(streams.Stdout, "Registered a new account at %s with e-mail %q.\n", view.CA, ca.email)
	writeAccountView(streams.Stdout, view)
	return nil
}

func runAccountDeactivate(cctx *cli.Context, streams Streams) error {
	if err := checkNoArguments(cctx, ""); err != nil {
		return err
	}
	ctx := cctx.Context
	logger, err := newLogger(cctx, streams.Stderr)
	if err != nil {
		return err
	}
	var confirm []error
	if !cctx.Bool(flagYes) {
		confirm = append(confirm, errors.New("deactivating an account cannot be undone; add --yes to confirm"))
	}
	ca, err := parseAccountCAOptions(cctx, confirm...)
	if err != nil {
		return err
	}
	store, err := openStore(commonString(cctx, flagPath), logger)
	if err != nil {
		return err
	}
	unlock, err := lockAccount(ctx, store, ca)
	if err != nil {
		return err
	}
	defer unlock()
	stored, err := loadStoredAccount(store, ca)
	if err != nil {
		return err
	}

	view := newAccountView(stored)
	if stored.Status == acme.StatusDeactivated {
		view.Result = "already_deactivated"
		if cctx.Bool(flagJSON) {
			writeJSON(streams.Stdout, view)
			return nil
		}
		fmt.Fprintf(streams.Stdout, "Account %s is already deactivated; nothing was sent to the CA.\n", stored.URL)
		return nil
	}

	client, retry := newACMEClient(ca.directory, ca.roots, logger)
	deactivated, err := issuer.DeactivateAccount(ctx, client, store, stored)
	if err != nil {
		return withRetryAfter(err, retry)
	}
	logger.Info("deactivated account", slog.String("account", deactivated.URL))
	view = newAccountView(deactivated)
	view.Result = "deactivated"
	if cctx.Bool(flagJSON) {
		writeJSON(streams.Stdout, view)
		return nil
	}
	fmt.Fprintf(streams.Stdout, "Account %s is deactivated at %s. The CA rejects every further request signed by it.\n", deactivated.URL, view.CA)
	fmt.Fprintf(streams.Stdout, "To order certificates again, register a new account with: %s\n", registerHint(ca))
	return nil
}

// accountListOutput is the --json output of account list.
type accountListOutput struct {
	Accounts []*accountView `json:"accounts"`
	Errors   []string       `json:"errors"`
}

func runAccountList(cctx *cli.Context, streams Streams) error {
	if err := checkNoArguments(cctx, ""); err != nil {
		return err
	}
	logger, err := newLogger(cctx, streams.Stderr)
	if err != nil {
		return err
	}
	store, err := openStoreReadOnly(commonString(cctx, flagPath), logger)
	if err != nil {
		return err
	}
	accounts, listErr := store.ListAccounts()
	sort.SliceStable(accounts, func(i, j int) bool {
		a, b := accounts[i], accounts[j]
		if a.DirectoryURL != b.DirectoryURL {
			return a.DirectoryURL < b.DirectoryURL
		}
		if a.Email != b.Email {
			return a.Email < b.Email
		}
		return a.CreatedAt.Before(b.CreatedAt)
	})
	out := accountListOutput{Accounts: []*accountView{}, Errors: []string{}}
	for _, a := range accounts {
		out.Accounts = append(out.Accounts, newAccountView(a))
	}
	damaged := joinedErrors(listErr)
	for _, err := range damaged {
		out.Errors = append(out.Errors, err.Error())
	}

	switch {
	case cctx.Bool(flagJSON):
		writeJSON(streams.Stdout, out)
	case len(accounts) == 0 && len(damaged) == 0:
		fmt.Fprintf(streams.Stdout, "No accounts stored in %s.\n", store.Root())
	case len(accounts) > 0:
		tw := tabwriter.NewWriter(streams.Stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "CA\tE-MAIL\tSTATUS\tCREATED\tURL")
		for _, v := range out.Accounts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.CA, orDash(v.Email), orDash(v.Status),
				v.CreatedAt.UTC().Format(time.RFC3339), v.URL)
		}
		_ = tw.Flush()
	}

	for _, err := range damaged {
		fmt.Fprintf(streams.Stderr, "dnscert: cannot read account: %v\n", err)
	}
	if len(damaged) > 0 {
		return fmt.Errorf("%d stored accounts cannot be read: %w", len(damaged), errReported)
	}
	return nil
}

// withRetryAfter adds the time the CA asked to come back at to a CA error,
// when the CA turned a request away with a Retry-After too long to wait
// for.
func withRetryAfter(err error, retry *issuer.RetryTransport) error {
	at := retry.LastRetryAfter()
	if at.IsZero() || ExitCode(err) != ExitCA {
		return err
	}
	return fmt.Errorf("%w; the CA asks to retry after %s", err, at.UTC().Format(time.RFC3339))
}

// joinedErrors returns the errors inside an errors.Join result, or err
// alone.
func joinedErrors(err error) []error {
	if err == nil {
		return nil
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		return joined.Unwrap()
	}
	return []error{err}
}
