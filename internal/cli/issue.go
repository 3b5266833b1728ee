package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
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
	flagDomain             = "domain"
	flagDNS                = "dns"
	flagServer             = "server"
	flagEmail              = "email"
	flagCACert             = "ca-cert"
	flagKeyType            = "key-type"
	flagPropagationTimeout = "propagation-timeout"
	flagResolver           = "resolver"
	flagJSON               = "json"
	flagZone               = "zone"
	flagCertName           = "cert-name"
	flagAcceptTOS          = "accept-tos"
	flagProfile            = "profile"
	flagDNSPort            = "dns-port"
)

// caShortcuts maps --server shortcuts to directory URLs.
var caShortcuts = map[string]string{
	"letsencrypt":         "https://acme-v02.api.letsencrypt.org/directory",
	"letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
}

func issueFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{
			Name:    flagDomain,
			Aliases: []string{"d"},
			Usage:   "name to certify: apex, `*.` wildcard or any host name; repeat the flag, or separate names with commas (up to 100)",
			EnvVars: []string{"DNSCERT_DOMAINS", "DNSCERT_DOMAIN"},
		},
		&cli.StringFlag{
			Name:    flagDNS,
			Usage:   "DNS provider that publishes the records (see dnscert providers)",
			EnvVars: envName(flagDNS),
		},
		&cli.StringFlag{
			Name:    flagServer,
			Usage:   "ACME directory URL, or letsencrypt or letsencrypt-staging",
			EnvVars: envName(flagServer),
			Value:   "letsencrypt",
		},
		&cli.StringFlag{
			Name:    flagEmail,
			Usage:   "contact e-mail for the ACME account; each e-mail gets its own account",
			EnvVars: envName(flagEmail),
		},
		&cli.BoolFlag{
			Name:    flagAcceptTOS,
			Usage:   "agree to the CA's terms of service when registering an account",
			EnvVars: envName(flagAcceptTOS),
		},
		&cli.StringSliceFlag{
			Name:    flagCACert,
			Usage:   "PEM file of extra trusted root certificates for the ACME server's HTTPS (a test CA)",
			EnvVars: envName(flagCACert),
		},
		&cli.StringFlag{
			Name:    flagKeyType,
			Usage:   "certificate key type: " + strings.Join(storage.KeyTypes(), ", "),
			EnvVars: envName(flagKeyType),
			Value:   storage.KeyTypeEC256,
		},
		&cli.DurationFlag{
			Name:    flagPropagationTimeout,
			Usage:   "longest wait for every authoritative nameserver to serve the records",
			EnvVars: envName(flagPropagationTimeout),
			Value:   issuer.DefaultPropagationTimeout,
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
			Name:    flagCertName,
			Usage:   "name of the stored certificate; default: the first domain, with * written as _",
			EnvVars: envName(flagCertName),
		},
		&cli.StringFlag{
			Name:    flagProfile,
			Usage:   "ACME certificate profile offered by the CA, such as classic, tlsserver or shortlived",
			EnvVars: envName(flagProfile),
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

func issueCommand(streams Streams) *cli.Command {
	return &cli.Command{
		Name:      "issue",
		Usage:     "obtain a certificate through the dns-01 challenge",
		UsageText: "dnscert issue -d example.com -d '*.example.com' --dns rfc2136 --email you@example.com --accept-tos",
		Description: "Publishes every _acme-challenge TXT record through the provider (one call per zone),\n" +
			"waits until every authoritative nameserver serves them, completes the ACME order and\n" +
			"removes exactly the records it added, also on failure or Ctrl-C.",
		Flags: withCommonFlags(issueFlags()),
		Action: func(cctx *cli.Context) error {
			return runIssue(cctx, streams)
		},
	}
}

// issueOptions is a validated issue command line.
type issueOptions struct {
	names        []string
	certName     string
	providerName string
	directory    string
	email        string
	acceptTOS    bool
	roots        *x509.CertPool
	keyType      string
	timeout      time.Duration
	resolvers    []string
	zone         string
	profile      string
	json         bool
	dnsPort      int
	storagePath  string
}

// parseIssueOptions checks every flag without any network request.
func parseIssueOptions(cctx *cli.Context) (*issueOptions, error) {
	var errs []error
	o := &issueOptions{
		email:       strings.TrimSpace(cctx.String(flagEmail)),
		acceptTOS:   cctx.Bool(flagAcceptTOS),
		timeout:     cctx.Duration(flagPropagationTimeout),
		profile:     cctx.String(flagProfile),
		json:        cctx.Bool(flagJSON),
		dnsPort:     cctx.Int(flagDNSPort),
		storagePath: commonString(cctx, flagPath),
	}

	var raw []string
	for _, d := range cctx.StringSlice(flagDomain) {
		raw = append(raw, d)
	}
	names, err := dns01.NormalizeNames(raw)
	if err != nil {
		errs = append(errs, err)
	}
	o.names = names

	if o.providerName = cctx.String(flagDNS); o.providerName == "" {
		errs = append(errs, errors.New("no DNS provider given; add --dns NAME (see dnscert providers)"))
	} else if _, ok := providers.Lookup(o.providerName); !ok {
		errs = append(errs, fmt.Errorf("unknown DNS provider %q; known providers: %s", o.providerName, strings.Join(providerNames(), ", ")))
	}

	if o.directory, err = directoryURL(cctx.String(flagServer)); err != nil {
		errs = append(errs, err)
	}
	if o.email != "" {
		if addr, err := mail.ParseAddress(o.email); err != nil || addr.Address != o.email {
			errs = append(errs, fmt.Errorf("invalid --email %q: give a plain address such as admin@example.com", o.email))
		}
	}
	if o.roots, err = loadRoots(cctx.StringSlice(flagCACert)); err != nil {
		errs = append(errs, err)
	}
	if o.keyType, err = storage.ParseKeyType(cctx.String(flagKeyType)); err != nil {
		errs = append(errs, fmt.Errorf("invalid --key-type: %w", err))
	}
	if o.timeout <= 0 {
		errs = append(errs, fmt.Errorf("invalid --propagation-timeout %s: give a positive duration such as 10m", o.timeout))
	}
	for _, r := range cctx.StringSlice(flagResolver) {
		if err := propagation.ValidateResolver(r); err != nil {
			errs = append(errs, err)
			continue
		}
		o.resolvers = append(o.resolvers, r)
	}
	if z := cctx.String(flagZone); z != "" {
		if _, ok := dns.IsDomainName(z); !ok {
			errs = append(errs, fmt.Errorf("invalid --zone %q: give a domain name such as example.com", z))
		}
		o.zone = dns.Fqdn(strings.ToLower(z))
	}
	if o.dnsPort < 1 || o.dnsPort > 65535 {
		errs = append(errs, fmt.Errorf("invalid --%s %d: give a port from 1 to 65535", flagDNSPort, o.dnsPort))
	}

	if o.certName = cctx.String(flagCertName); o.certName != "" {
		if err := storage.ValidateName(o.certName); err != nil {
			errs = append(errs, fmt.Errorf("invalid --cert-name: %w", err))
		}
	} else if len(o.names) > 0 {
		if o.certName, err = storage.DefaultName(o.names[0]); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, &usageError{msg: errors.Join(errs...).Error()}
	}
	return o, nil
}

// directoryURL expands a --server shortcut and checks the URL.
func directoryURL(server string) (string, error) {
	if u, ok := caShortcuts[strings.ToLower(server)]; ok {
		return u, nil
	}
	u, err := url.Parse(server)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", fmt.Errorf("invalid --server %q: give an ACME directory URL (https://...) or one of: letsencrypt, letsencrypt-staging", server)
	}
	if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		return "", fmt.Errorf("invalid --server %q: ACME needs HTTPS except on loopback addresses", server)
	}
	return server, nil
}

func isLoopbackHost(host string) bool {
	return host == "localhost" || strings.HasPrefix(host, "127.") || host == "::1"
}

// loadRoots returns the system roots plus the certificates in files.
func loadRoots(files []string) (*x509.CertPool, error) {
	if len(files) == 0 {
		return nil, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("invalid --ca-cert: %w", err)
		}
		if !pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("invalid --ca-cert %s: no PEM certificate found in the file", f)
		}
	}
	return pool, nil
}

func runIssue(cctx *cli.Context, streams Streams) error {
	ctx := cctx.Context
	logger, err := newLogger(cctx, streams.Stderr)
	if err != nil {
		return err
	}
	opts, err := parseIssueOptions(cctx)
	if err != nil {
		return err
	}
	provider, err := providers.New(opts.providerName, os.LookupEnv)
	if err != nil {
		return &usageError{msg: err.Error()}
	}
	store, err := storage.Open(opts.storagePath)
	if err != nil {
		return &usageError{msg: fmt.Sprintf("storage directory: %v (set --path or DNSCERT_PATH to a writable directory)", err)}
	}
	for _, w := range store.Warnings() {
		logger.Warn(w)
	}

	unlock, err := store.Lock(ctx, "cert-"+opts.certName, false)
	if err != nil {
		return &lockedError{err: fmt.Errorf("certificate %s: %w; wait for the other run to finish", opts.certName, err)}
	}
	defer unlock()

	run := &issueRun{
		opts:     opts,
		store:    store,
		logger:   logger,
		streams:  streams,
		timings:  issuer.NewTimings(),
		provider: provider,
	}
	return run.execute(ctx)
}

// issueRun carries the state of one issue command.
type issueRun struct {
	opts     *issueOptions
	store    *storage.Store
	logger   *slog.Logger
	streams  Streams
	timings  *issuer.Timings
	provider providers.Provider
}

func (r *issueRun) journalDir() string {
	return filepath.Join(r.store.Root(), "journal")
}

func (r *issueRun) execute(ctx context.Context) error {
	opts := r.opts
	logger := r.logger.With(slog.String("certificate", opts.certName))
	logger.LogAttrs(ctx, slog.LevelInfo, "issuing certificate",
		slog.String("names", strings.Join(opts.names, ",")), slog.String("provider", opts.providerName),
		slog.String("server", opts.directory))

	if _, err := dns01.RecoverStale(ctx, r.journalDir(), func(name string) (dns01.Provider, error) {
		return providers.New(name, os.LookupEnv)
	}, logger); err != nil {
		logger.Warn("could not remove every record left by an earlier run", slog.Any("error", err))
	}

	dnsClient := &propagation.Client{Resolvers: opts.resolvers, Port: opts.dnsPort, Logger: logger}
	client := newACMEClient(opts.directory, opts.roots, logger)

	stop := r.timings.Start(issuer.StepAccount)
	account, err := issuer.LoadOrRegister(ctx, client, r.store, issuer.AccountOptions{
		Email: opts.email, AcceptTOS: opts.acceptTOS, Logger: logger,
	})
	stop()
	if err != nil {
		return r.fail(err)
	}
	if opts.profile != "" {
		if err := issuer.CheckProfile(ctx, client, opts.profile); err != nil {
			return r.fail(err)
		}
	}

	key, err := storage.GenerateKey(opts.keyType)
	if err != nil {
		return r.fail(err)
	}
	journal, err := dns01.OpenJournal(r.journalDir())
	if err != nil {
		return r.fail(err)
	}
	defer journal.Close()

	publisher := &dns01.Publisher{
		Providers: map[string]dns01.Provider{opts.providerName: r.provider},
		Journal:   journal,
		Logger:    logger,
	}
	is := &issuer.Issuer{
		Client:  client,
		Account: account,
		Planner: &dns01.Planner{
			DNS:         dnsClient,
			ProviderFor: func(string) string { return opts.providerName },
			Providers:   publisher.Providers,
			Zone:        opts.zone,
			Logger:      logger,
		},
		Publisher:          publisher,
		DNS:                dnsClient,
		PropagationTimeout: opts.timeout,
		Logger:             logger,
	}
	res, err := is.Obtain(ctx, issuer.Request{Names: opts.names, Key: key, Profile: opts.profile}, r.timings)
	if err != nil {
		return r.fail(err)
	}

	stop = r.timings.Start(issuer.StepStore)
	saved, err := issuer.Save(r.store, opts.certName, res, key, opts.directory, account.Location, opts.keyType)
	stop()
	if err != nil {
		return r.fail(err)
	}
	return r.succeed(saved, res, dnsClient.Queries(), publisher.Calls())
}

// newACMEClient builds the ACME client, trusting roots when given.
func newACMEClient(directory string, roots *x509.CertPool, logger *slog.Logger) *acme.Client {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if roots != nil {
		transport.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	return &acme.Client{
		Directory:   directory,
		HTTPClient:  &http.Client{Transport: transport, Timeout: 60 * time.Second},
		UserAgent:   "dnscert/" + Version,
		Logger:      logger.With(slog.String("component", "acme")),
		PollTimeout: 10 * time.Minute,
	}
}
