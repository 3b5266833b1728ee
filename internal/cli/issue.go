package cli

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/dnscert/dnscert/dns01"
	"github.com/dnscert/dnscert/issuer"
	"github.com/dnscert/dnscert/storage"
)

const (
	flagDomain   = "domain"
	flagCertName = "cert-name"
	flagCSR      = "csr"
	flagKey      = "key"
)

func issueFlags() []cli.Flag {
	flags := []cli.Flag{
		&cli.StringSliceFlag{
			Name:    flagDomain,
			Aliases: []string{"d"},
			Usage:   "name to certify: apex, *. wildcard or any host name; repeat the flag, or separate names with commas (up to 100)",
			EnvVars: []string{"DNSCERT_DOMAINS", "DNSCERT_DOMAIN"},
		},
		&cli.StringFlag{
			Name:    flagCertName,
			Usage:   "name of the stored certificate; default: the first domain, with * written as _",
			EnvVars: envName(flagCertName),
		},
		&cli.StringFlag{
			Name:    flagCSR,
			Usage:   "PEM or DER certificate request to send; the names come from it and its key stays with you",
			EnvVars: envName(flagCSR),
		},
		&cli.StringFlag{
			Name:    flagKey,
			Usage:   "PEM private key file to certify instead of a new key (with --csr: the CSR's key, stored with the certificate)",
			EnvVars: envName(flagKey),
		},
		&cli.BoolFlag{
			Name:    flagWait,
			Usage:   "wait for another run on the same certificate to finish instead of stopping",
			EnvVars: envName(flagWait),
		},
	}
	flags = append(flags, caFlags()...)
	return append(flags, orderFlags()...)
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
	ca          *caOptions
	order       *orderOptions
	req         certRequest
	wait        bool
	storagePath string
}

// parseIssueOptions checks every flag without any network request, and
// reports every problem at once.
func parseIssueOptions(cctx *cli.Context) (*issueOptions, error) {
	ca, errs := parseCAOptions(cctx)
	order, orderErrs := parseOrderOptions(cctx)
	errs = append(errs, orderErrs...)
	o := &issueOptions{
		ca:          ca,
		order:       order,
		wait:        cctx.Bool(flagWait),
		storagePath: commonString(cctx, flagPath),
	}
	req := certRequest{
		providerName:   order.providerName,
		providerFor:    order.providerFor,
		keyType:        order.keyType,
		zone:           order.zone,
		profile:        order.profile,
		preferredChain: order.preferredChain,
		combined:       order.combined,
	}
	if req.keyType == "" {
		req.keyType = storage.DefaultKeyType
	}
	if req.providerName == "" {
		errs = append(errs, errors.New("no DNS provider given; add --dns NAME (see dnscert providers)"))
	}

	names := cctx.StringSlice(flagDomain)
	if path := cctx.String(flagCSR); path != "" {
		csr, err := readCSR(path)
		if err != nil {
			errs = append(errs, err)
		} else {
			req.csr = csr.Raw
			if len(names) == 0 {
				names = csrNames(csr)
			} else if err := sameNames(names, csrNames(csr)); err != nil {
				errs = append(errs, fmt.Errorf("--csr %s: %w", path, err))
			}
		}
	}
	var err error
	if req.names, err = dns01.NormalizeNames(names); err != nil {
		errs = append(errs, err)
	}
	for name := range order.providerFor {
		if !slices.Contains(req.names, name) {
			errs = append(errs, fmt.Errorf("--dns-for names %s, which is not among the requested names", name))
		}
	}
	if path := cctx.String(flagKey); path != "" {
		key, err := readKey(path)
		if err != nil {
			errs = append(errs, err)
		} else {
			req.key = key
			if kt, err := storage.KeyTypeOf(key.Public()); err == nil {
				req.keyType = kt
			}
		}
		if req.csr != nil && key != nil {
			if csr, err := x509.ParseCertificateRequest(req.csr); err == nil && !publicKeysEqual(csr.PublicKey, key.Public()) {
				errs = append(errs, fmt.Errorf("--key %s is not the key of the --csr request; give the matching key or leave --key out", path))
			}
		}
	}

	if req.certName = cctx.String(flagCertName); req.certName != "" {
		if err := storage.ValidateName(req.certName); err != nil {
			errs = append(errs, fmt.Errorf("invalid --cert-name: %w", err))
		}
	} else if len(req.names) > 0 {
		if req.certName, err = storage.DefaultName(req.names[0]); err != nil {
			errs = append(errs, err)
		}
	}
	o.req = req
	if len(errs) > 0 {
		return nil, &usageError{msg: errors.Join(errs...).Error()}
	}
	return o, nil
}

func readCSR(path string) (*x509.CertificateRequest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("invalid --csr: %w", err)
	}
	if block, _ := pem.Decode(data); block != nil {
		data = block.Bytes
	}
	csr, err := x509.ParseCertificateRequest(data)
	if err != nil {
		return nil, fmt.Errorf("invalid --csr %s: %w; give a PEM or DER PKCS #10 request", path, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("invalid --csr %s: bad signature: %w", path, err)
	}
	if len(csr.IPAddresses)+len(csr.EmailAddresses)+len(csr.URIs) > 0 {
		return nil, fmt.Errorf("invalid --csr %s: it requests IP addresses, e-mail addresses or URIs, which dns-01 cannot validate; request DNS names only", path)
	}
	return csr, nil
}

// csrNames returns the DNS names a CSR requests: its SANs, and the subject
// common name when it is not among them.
func csrNames(csr *x509.CertificateRequest) []string {
	names := slices.Clone(csr.DNSNames)
	if cn := csr.Subject.CommonName; cn != "" && !slices.Contains(names, cn) {
		names = append([]string{cn}, names...)
	}
	return names
}

// sameNames fails when the -d names and the CSR's names differ as sets.
func sameNames(given, inCSR []string) error {
	a, errA := dns01.NormalizeNames(given)
	b, errB := dns01.NormalizeNames(inCSR)
	if errA != nil || errB != nil {
		return errors.Join(errA, errB)
	}
	slices.Sort(a)
	slices.Sort(b)
	if !slices.Equal(a, b) {
		return fmt.Errorf("the request names %s but -d gives %s; drop -d to take the names from the request", strings.Join(b, ", "), strings.Join(a, ", "))
	}
	return nil
}

func readKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("invalid --key: %w", err)
	}
	key, err := storage.DecodeKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("invalid --key %s: %w", path, err)
	}
	return key, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
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
	if _, err := buildProviders(opts.req, logger); err != nil {
		return err
	}
	store, err := openStore(opts.storagePath, logger)
	if err != nil {
		return err
	}
	unlock, err := lockCertificate(ctx, store, opts.req.certName, opts.wait, logger)
	if err != nil {
		return err
	}
	defer unlock()

	s := newSession(store, logger, opts.ca, opts.order)
	timings := issuer.NewTimings()
	meta, res, stats, err := s.obtain(ctx, opts.req, timings)
	out := newCertResult(opts.req, timings, stats)
	if err != nil && meta.Name == "" {
		out.fail(err)
		logger.Error("issuance failed", slog.String("certificate", opts.req.certName),
			slog.Any("error", err), slog.String("steps", formatSteps(timings.Steps())))
		return printResult(streams, opts.order.json, out, err)
	}
	// The certificate is stored; err can still report records that could
	// not be removed.
	out.succeed(store, meta, res)
	err = errors.Join(err, runDeployHook(ctx, opts.order.deployHook, store, meta, logger))
	if err != nil {
		out.fail(err)
		out.OK = true
	}
	return printResult(streams, opts.order.json, out, err)
}

// openStore opens the storage directory, reporting a bad one as input to fix.
func openStore(path string, logger *slog.Logger) (*storage.Store, error) {
	store, err := storage.Open(path)
	if err != nil {
		return nil, &usageError{msg: fmt.Sprintf("storage directory: %v (set --path or DNSCERT_PATH to a writable directory)", err)}
	}
	for _, w := range store.Warnings() {
		logger.Warn(w)
	}
	return store, nil
}

// lockCertificate takes the certificate's lock, waiting for another run
// when wait is set.
func lockCertificate(ctx context.Context, store *storage.Store, certName string, wait bool, logger *slog.Logger) (func() error, error) {
	unlock, err := store.Lock(ctx, "cert-"+certName, false)
	if err == nil {
		return unlock, nil
	}
	if !errors.Is(err, storage.ErrLocked) || !wait {
		return nil, &lockedError{err: fmt.Errorf("certificate %s: %w; wait for the other run to finish, or pass --wait", certName, err)}
	}
	logger.Info("waiting for another run on the same certificate", slog.String("certificate", certName), slog.Any("holder", err))
	unlock, err = store.Lock(ctx, "cert-"+certName, true)
	if err != nil {
		return nil, &lockedError{err: fmt.Errorf("certificate %s: %w", certName, err)}
	}
	return unlock, nil
}
