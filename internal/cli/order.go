package cli

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mholt/acmez/v3/acme"
	"github.com/miekg/dns"
	"github.com/urfave/cli/v2"

	"github.com/dnscert/dnscert/dns01"
	"github.com/dnscert/dnscert/issuer"
	"github.com/dnscert/dnscert/propagation"
	"github.com/dnscert/dnscert/providers"
	"github.com/dnscert/dnscert/storage"
)

const (
	flagDNS                = "dns"
	flagDNSFor             = "dns-for"
	flagKeyType            = "key-type"
	flagPropagationTimeout = "propagation-timeout"
	flagResolver           = "resolver"
	flagJSON               = "json"
	flagZone               = "zone"
	flagProfile            = "profile"
	flagPreferredChain     = "preferred-chain"
	flagDeployHook         = "deploy-hook"
	flagCombined           = "combined"
	flagWait               = "wait"
	flagDNSPort            = "dns-port"
)

// orderFlags are the flags shared by issue and renew.
func orderFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{
			Name:    flagDNS,
			Usage:   "DNS provider that publishes the records (see dnscert providers)",
			EnvVars: envName(flagDNS),
		},
		&cli.StringSliceFlag{
			Name:    flagDNSFor,
			Usage:   "provider for one name, as NAME=PROVIDER (repeatable), for names whose zones live at another DNS host",
			EnvVars: envName(flagDNSFor),
		},
		&cli.StringFlag{
			Name:    flagKeyType,
			Usage:   "certificate key type: " + strings.Join(storage.KeyTypes(), ", ") + " (default " + storage.DefaultKeyType + " for issue; renew keeps the certificate's type)",
			EnvVars: envName(flagKeyType),
		},
		// A string, parsed by parseTimeout, so that whole seconds work as
		// in the providers' timeout variables.
		&cli.StringFlag{
			Name:    flagPropagationTimeout,
			Usage:   "maximum wait for every authoritative nameserver to serve the records, as a Go duration such as 10m or as whole seconds",
			EnvVars: envName(flagPropagationTimeout),
			Value:   issuer.DefaultPropagationTimeout.String(),
		},
		&cli.StringSliceFlag{
			Name:    flagResolver,
			Usage:   "recursive resolver (IP[:port]) for bootstrap lookups; default: those in /etc/resolv.conf",
			EnvVars: []string{"DNSCERT_RESOLVERS", "DNSCERT_RESOLVER"},
		},
		&cli.StringFlag{
			Name:    flagZone,
			Usage:   "zone that holds every challenge record, when DNS cannot tell (split horizon, undelegated zone)",
			EnvVars: envName(flagZone),
		},
		&cli.StringFlag{
			Name:    flagProfile,
			Usage:   "ACME certificate profile offered by the CA, such as classic, tlsserver or shortlived",
			EnvVars: envName(flagProfile),
		},
		&cli.StringFlag{
			Name:    flagPreferredChain,
			Usage:   "common name of a root or intermediate; the chain that contains it is stored when the CA offers it",
			EnvVars: envName(flagPreferredChain),
		},
		&cli.StringFlag{
			Name:    flagDeployHook,
			Usage:   "shell command run after each new certificate is stored, with its paths in DNSCERT_* variables",
			EnvVars: envName(flagDeployHook),
		},
		&cli.BoolFlag{
			Name:    flagCombined,
			Usage:   "also write combined.pem: the private key and the full chain in one file, as HAProxy reads it",
			EnvVars: envName(flagCombined),
		},
		&cli.BoolFlag{
			Name:    flagJSON,
			Usage:   "print the result as one JSON object on stdout",
			EnvVars: envName(flagJSON),
		},
		// Authoritative servers always listen on port 53 in production; the
		// test harness runs them on other ports of loopback addresses.
		&cli.IntFlag{
			Name:    flagDNSPort,
			Usage:   "port of authoritative nameservers (testing only)",
			EnvVars: envName(flagDNSPort),
			Value:   propagation.DefaultPort,
			Hidden:  true,
		},
	}
}

// orderOptions is a validated set of order flags. Empty strings mean "not
// given": renew then keeps what the stored certificate used.
type orderOptions struct {
	providerName   string
	providerFor    map[string]string
	keyType        string
	timeout        time.Duration
	resolvers      []string
	zone           string
	profile        string
	preferredChain string
	deployHook     string
	combined       bool
	json           bool
	dnsPort        int
}

func parseOrderOptions(cctx *cli.Context) (*orderOptions, []error) {
	var errs []error
	o := &orderOptions{
		providerName:   cctx.String(flagDNS),
		providerFor:    make(map[string]string),
		profile:        cctx.String(flagProfile),
		preferredChain: cctx.String(flagPreferredChain),
		deployHook:     cctx.String(flagDeployHook),
		combined:       cctx.Bool(flagCombined),
		json:           cctx.Bool(flagJSON),
		dnsPort:        cctx.Int(flagDNSPort),
	}
	if o.providerName != "" {
		if err := checkProviderName(o.providerName); err != nil {
			errs = append(errs, err)
		}
	}
	for _, spec := range cctx.StringSlice(flagDNSFor) {
		name, provider, ok := strings.Cut(spec, "=")
		if !ok || name == "" || provider == "" {
			errs = append(errs, fmt.Errorf("invalid --dns-for %q: write NAME=PROVIDER, such as www.example.org=route53", spec))
			continue
		}
		norm, err := dns01.NormalizeName(name)
		if err != nil {
			errs = append(errs, fmt.Errorf("invalid --dns-for %q: %w", spec, err))
			continue
		}
		if err := checkProviderName(provider); err != nil {
			errs = append(errs, err)
			continue
		}
		o.providerFor[norm] = provider
	}
	var err error
	if kt := cctx.String(flagKeyType); kt != "" {
		if o.keyType, err = storage.ParseKeyType(kt); err != nil {
			errs = append(errs, fmt.Errorf("invalid --key-type: %w", err))
		}
	}
	if o.timeout, err = parseTimeout(cctx.String(flagPropagationTimeout)); err != nil || o.timeout <= 0 {
		errs = append(errs, fmt.Errorf("invalid propagation timeout %q (--propagation-timeout or DNSCERT_PROPAGATION_TIMEOUT): give a positive Go duration such as 10m or 90s, or whole seconds such as 600",
			cctx.String(flagPropagationTimeout)))
	}
	for _, r := range cctx.StringSlice(flagResolver) {
		if err := propagation.ValidateResolver(r); err != nil {
			errs = append(errs, err)
			continue
		}
		o.resolvers = append(o.resolvers, r)
	}
	if z := cctx.String(flagZone); z != "" {
		if _, ok := dns.IsDomainName(z); !ok || strings.Contains(z, "*") {
			errs = append(errs, fmt.Errorf("invalid --zone %q: give a domain name such as example.com", z))
		}
		o.zone = dns.Fqdn(strings.ToLower(z))
	}
	if o.dnsPort < 1 || o.dnsPort > 65535 {
		errs = append(errs, fmt.Errorf("invalid --%s %d: give a port from 1 to 65535", flagDNSPort, o.dnsPort))
	}
	return o, errs
}

// parseTimeout parses a Go duration, or a number of whole seconds as the
// providers' timeout variables accept.
func parseTimeout(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n > math.MaxInt64/int64(time.Second) || n < 0 {
			return 0, fmt.Errorf("%d seconds is out of range", n)
		}
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(s)
}

func checkProviderName(name string) error {
	if _, ok := providers.Lookup(name); !ok {
		return fmt.Errorf("unknown DNS provider %q; known providers: %s", name, strings.Join(providerNames(), ", "))
	}
	return nil
}

// certRequest is one certificate to order.
type certRequest struct {
	certName       string
	names          []string
	providerName   string
	providerFor    map[string]string
	keyType        string
	key            crypto.Signer // nil: a new key of keyType
	csr            []byte        // DER; the key then stays with the user
	zone           string
	profile        string
	preferredChain string
	replaces       string
	combined       bool
	// providers, when set, are the providers already built from the
	// environment; otherwise the order builds them.
	providers map[string]dns01.Provider
}

// session is the state one command shares across the certificates it
// orders: storage, logger, CA client and account.
type session struct {
	store   *storage.Store
	logger  *slog.Logger
	ca      *caOptions
	order   *orderOptions
	client  *acme.Client
	retry   *issuer.RetryTransport
	account *acme.Account
}

func newSession(store *storage.Store, logger *slog.Logger, ca *caOptions, order *orderOptions) *session {
	client, retry := newACMEClient(ca.directory, ca.roots, logger)
	return &session{
		store:  store,
		logger: logger,
		ca:     ca,
		order:  order,
		client: client,
		retry:  retry,
	}
}

func (s *session) journalDir() string {
	return filepath.Join(s.store.Root(), "journal")
}

// loadAccount loads or registers the account once per session.
func (s *session) loadAccount(ctx context.Context, timings *issuer.Timings) (acme.Account, error) {
	if s.account != nil {
		return *s.account, nil
	}
	stop := timings.Start(issuer.StepAccount)
	defer stop()
	account, err := s.ca.account(ctx, s.client, s.store, s.logger)
	if err != nil {
		return acme.Account{}, err
	}
	s.account = &account
	return account, nil
}

// buildProviders constructs every provider a request uses, from the
// environment, before any request is sent.
func buildProviders(req certRequest, logger *slog.Logger) (map[string]dns01.Provider, error) {
	names := map[string]bool{req.providerName: true}
	for _, p := range req.providerFor {
		names[p] = true
	}
	out := make(map[string]dns01.Provider, len(names))
	for name := range names {
		if name == "" {
			return nil, usageErrorf("no DNS provider given for %s; add --dns NAME (see dnscert providers)", req.certName)
		}
		p, err := providers.New(name, os.LookupEnv, providers.WithLogger(logger))
		if err != nil {
			return nil, &usageError{msg: err.Error()}
		}
		out[name] = p
	}
	return out, nil
}

// obtainStats are counters of one order, for the result output.
type obtainStats struct {
	dnsQueries    int64
	providerCalls int
}

// obtain orders, validates and stores one certificate. The previous
// certificate of the name stays in place unless every step succeeds. When
// ctx is cancelled before the certificate is stored, the error is an
// *interruptedError that describes what became of the records the order
// added.
func (s *session) obtain(ctx context.Context, req certRequest, timings *issuer.Timings) (storage.Metadata, *issuer.Result, obtainStats, error) {
	meta, res, stats, err := s.orderAndStore(ctx, req, timings)
	if err != nil && meta.Name == "" {
		err = describeInterrupt(ctx, err, stats.providerCalls > 0, req.usesProvider("manual"))
	}
	return meta, res, stats, err
}

// describeInterrupt returns err as an *interruptedError when ctx was
// cancelled, and as it is otherwise. published reports whether the order
// had sent records to a provider.
func describeInterrupt(ctx context.Context, err error, published, manual bool) error {
	var interrupted *interruptedError
	if !errors.Is(ctx.Err(), context.Canceled) || errors.As(err, &interrupted) {
		return err
	}
	if !errors.Is(err, context.Canceled) {
		// The step that failed did not report the cancellation itself.
		err = errors.Join(err, ctx.Err())
	}
	var cleanupErr *issuer.CleanupError
	switch {
	case errors.As(err, &cleanupErr):
		return &interruptedError{err: err, detail: cleanupErr.Error()}
	case published && manual:
		// The manual provider only prints the records to remove; the user
		// removes them by hand.
		return &interruptedError{err: err, detail: "the records to remove by hand were listed above"}
	case published:
		return &interruptedError{err: err, detail: "the records added were removed"}
	default:
		return &interruptedError{err: err, detail: "no records had been added"}
	}
}

func (s *session) orderAndStore(ctx context.Context, req certRequest, timings *issuer.Timings) (storage.Metadata, *issuer.Result, obtainStats, error) {
	var stats obtainStats
	logger := s.logger.With(slog.String("certificate", req.certName))
	provs := req.providers
	if provs == nil {
		var err error
		if provs, err = buildProviders(req, logger); err != nil {
			return storage.Metadata{}, nil, stats, err
		}
	}

	if _, err := dns01.RecoverStale(ctx, s.journalDir(), func(name string) (dns01.Provider, error) {
		return providers.New(name, os.LookupEnv, providers.WithLogger(logger))
	}, logger); err != nil {
		logger.Warn("could not remove every record left by an earlier run", slog.Any("error", err))
	}

	account, err := s.loadAccount(ctx, timings)
	if err != nil {
		return storage.Metadata{}, nil, stats, err
	}
	if req.profile != "" {
		if err := issuer.CheckProfile(ctx, s.client, req.profile); err != nil {
			if ctx.Err() == nil {
				err = &usageError{msg: err.Error()}
			}
			return storage.Metadata{}, nil, stats, err
		}
	}

	key := req.key
	if key == nil && req.csr == nil {
		if key, err = storage.GenerateKey(req.keyType); err != nil {
			return storage.Metadata{}, nil, stats, err
		}
	}

	journal, err := dns01.OpenJournal(s.journalDir())
	if err != nil {
		return storage.Metadata{}, nil, stats, err
	}
	defer journal.Close()

	logger.LogAttrs(ctx, slog.LevelInfo, "ordering certificate",
		slog.String("names", strings.Join(req.names, ",")), slog.String("provider", req.providerName),
		slog.String("server", s.ca.directory))
	dnsClient := &propagation.Client{Resolvers: s.order.resolvers, Port: s.order.dnsPort, Logger: logger}
	publisher := &dns01.Publisher{Providers: provs, Journal: journal, Logger: logger}
	is := &issuer.Issuer{
		Client:  s.client,
		Account: account,
		Planner: &dns01.Planner{
			DNS:         dnsClient,
			ProviderFor: req.providerOf,
			Providers:   provs,
			Zone:        req.zone,
			Logger:      logger,
		},
		Publisher:          publisher,
		DNS:                dnsClient,
		PropagationTimeout: s.order.timeout,
		Logger:             logger,
	}
	res, err := is.Obtain(ctx, issuer.Request{
		Names:          req.names,
		Key:            key,
		CSR:            req.csr,
		Profile:        req.profile,
		Replaces:       req.replaces,
		PreferredChain: req.preferredChain,
	}, timings)
	stats = obtainStats{dnsQueries: dnsClient.Queries(), providerCalls: publisher.Calls()}
	var cleanupErr *issuer.CleanupError
	if err != nil && (res == nil || !errors.As(err, &cleanupErr)) {
		return storage.Metadata{}, nil, stats, s.withRetryTime(err)
	}
	// From here on the certificate is issued: it is stored even when its
	// records could not be removed, and that failure is reported after.

	stop := timings.Start(issuer.StepStore)
	meta, err := issuer.Save(s.store, req.certName, res, key, issuer.SaveOptions{
		Directory:         s.ca.directory,
		AccountURL:        account.Location,
		AccountEmail:      s.ca.email,
		Provider:          req.providerName,
		ProviderOverrides: req.providerFor,
		Zone:              req.zone,
		PreferredChain:    req.preferredChain,
		Combined:          req.combined,
		CSR:               req.csr,
	})
	stop()
	if err != nil {
		return storage.Metadata{}, nil, stats, err
	}
	if cleanupErr != nil {
		logger.Error("certificate stored, but its challenge records could not be removed", slog.Any("error", cleanupErr))
		return meta, res, stats, cleanupErr
	}
	return meta, res, stats, nil
}

// withRetryTime adds the time the CA asked to come back at, when it turned
// a request away with a Retry-After too long to wait for.
func (s *session) withRetryTime(err error) error {
	at := s.retry.LastRetryAfter()
	if at.IsZero() || ExitCode(err) != ExitCA {
		return err
	}
	return fmt.Errorf("%w; the CA asks to retry after %s", err, at.UTC().Format(time.RFC3339))
}

// usesProvider reports whether any name of the request goes to provider.
func (r certRequest) usesProvider(provider string) bool {
	if r.providerName == provider {
		return true
	}
	for _, p := range r.providerFor {
		if p == provider {
			return true
		}
	}
	return false
}

// providerOf returns the provider of a certificate name: its --dns-for
// entry, or the default.
func (r certRequest) providerOf(domain string) string {
	if p, ok := r.providerFor[domain]; ok {
		return p
	}
	return r.providerName
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
