package cli

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

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
	csrPath := cctx.String(flagCSR)
	csrFailed := false
	if csrPath != "" {
		csr, err := readCSR(csrPath)
		if err != nil {
			errs = append(errs, err)
			csrFailed = true
		} else {
			req.csr = csr.Raw
			errs = append(errs, checkKeyOf(csr.PublicKey, "the key of --csr "+csrPath, order.keyType)...)
			if len(names) == 0 {
				names = csr.DNSNames
			} else if err := sameNames(names, csr.DNSNames); err != nil {
				errs = append(errs, fmt.Errorf("--csr %s: %w", csrPath, err))
			}
		}
	}
	// A request that could not be read already has its error, and the
	// names would have come from it.
	if !csrFailed || len(names) > 0 {
		var err error
		if req.names, err = dns01.NormalizeNames(names); err != nil {
			errs = append(errs, err)
		}
	}
	for name := range order.providerFor {
		if !slices.Contains(req.names, name) {
			errs = append(errs, fmt.Errorf("--dns-for names %s, which is not among the requested names", name))
		}
	}
	// An apex and its wildcard share one record name, which one provider
	// must publish.
	byRecord := make(map[string]string)
	for _, name := range req.names {
		record := dns01.ChallengeName(name)
		other, ok := byRecord[record]
		if !ok {
			byRecord[record] = name
			continue
		}
		if p, q := req.providerOf(other), req.providerOf(name); p != q {
			errs = append(errs, fmt.Errorf("%s and %s share the record %s but --dns-for gives them different providers (%s and %s); give both the same provider", other, name, record, p, q))
		}
	}
	if path := cctx.String(flagKey); path != "" {
		key, err := readKey(path)
		if err != nil {
			errs = append(errs, err)
		} else {
			req.key = key
			keyErrs := checkKeyOf(key.Public(), "--key "+path, order.keyType)
			errs = append(errs, keyErrs...)
			if kt, err := storage.KeyTypeOf(key.Public()); err == nil && len(keyErrs) == 0 {
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
		var err error
		if req.certName, err = storage.DefaultName(req.names[0]); err != nil {
			errs = append(errs, err)
		}
	}
	o.req = req
	if len(errs) > 0 {
		return nil, joinUsageErrors(errs)
	}
	return o, nil
}

// readCSR reads a PEM or DER certificate request and checks what a CA
// checks in it, so that a request the CA would reject fails before any
// request is sent.
func readCSR(path string) (*x509.CertificateRequest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("invalid --csr: %w", err)
	}
	if block, _ := pem.Decode(data); block != nil {
		if block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST" {
			return nil, fmt.Errorf("invalid --csr %s: the file contains a PEM %s block, not a CERTIFICATE REQUEST; give the request file, such as the one openssl req -new writes", path, block.Type)
		}
		data = block.Bytes
	}
	csr, err := x509.ParseCertificateRequest(data)
	if err != nil {
		// The parser's ASN.1 details do not help to find the right file.
		return nil, fmt.Errorf("invalid --csr %s: the file is not a PKCS #10 certificate request in PEM or DER form; give the request file, such as the one openssl req -new writes", path)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("invalid --csr %s: bad signature: %w", path, err)
	}
	if len(csr.IPAddresses)+len(csr.EmailAddresses)+len(csr.URIs) > 0 {
		return nil, fmt.Errorf("invalid --csr %s: it requests IP addresses, e-mail addresses or URIs, which dns-01 cannot validate; request DNS names only", path)
	}
	if cn := csr.Subject.CommonName; cn != "" && !slices.ContainsFunc(csr.DNSNames, func(n string) bool { return sameDNSName(n, cn) }) {
		return nil, fmt.Errorf("invalid --csr %s: its common name %q is not in its subjectAltName extension, but CAs require every name as a DNS SAN; create the request again with %q among the subject alternative names", path, cn, cn)
	}
	if len(csr.DNSNames) == 0 {
		return nil, fmt.Errorf("invalid --csr %s: it requests no DNS names; create the request again with the names in its subjectAltName extension", path)
	}
	return csr, nil
}

// sameDNSName compares two DNS names as DNS does: without regard to letter
// case or a trailing dot.
func sameDNSName(a, b string) bool {
	return strings.EqualFold(strings.TrimSuffix(a, "."), strings.TrimSuffix(b, "."))
}

// checkKeyOf rejects a certificate key of a type that --key-type does not
// offer, such as RSA below 2048 bits or an ECDSA curve other than P-256 and
// P-384, and a key that is not of the --key-type given. CAs reject weaker
// keys only at finalization, after every challenge was validated.
func checkKeyOf(pub crypto.PublicKey, what, keyType string) []error {
	offered := storage.KeyTypes()
	kt, err := storage.KeyTypeOf(pub)
	if rsaKey, ok := pub.(*rsa.PublicKey); ok && rsaKey.N.BitLen() < 2048 {
		return []error{fmt.Errorf("%s is a %d-bit RSA key, which is too weak for CAs; use a key of type %s", what, rsaKey.N.BitLen(), strings.Join(offered, ", "))}
	}
	if err != nil {
		return []error{fmt.Errorf("%s: %w", what, err)}
	}
	if !slices.Contains(offered, kt) {
		return []error{fmt.Errorf("%s is an %s key, which CAs do not certify; use a key of type %s", what, kt, strings.Join(offered, ", "))}
	}
	if keyType != "" && keyType != kt {
		return []error{fmt.Errorf("--key-type %s does not match %s, which is an %s key; leave --key-type out or give a key of type %s", keyType, what, kt, keyType)}
	}
	return nil
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

// issueArgumentHint is the fix for a stray word after issue's flags, which
// is most often a second name given without its own -d.
const issueArgumentHint = "repeat -d for each name, and put flags before any other word"

func runIssue(cctx *cli.Context, streams Streams) error {
	asJSON := wantsJSON(cctx)
	if err := checkNoArguments(cctx, issueArgumentHint); err != nil {
		return printResult(streams, asJSON, failedResult(certRequest{}, err), err)
	}
	logger, err := newLogger(cctx, streams.Stderr)
	if err != nil {
		return printResult(streams, asJSON, failedResult(certRequest{}, err), err)
	}
	opts, err := parseIssueOptions(cctx)
	if err != nil {
		return printResult(streams, asJSON, failedResult(certRequest{}, err), err)
	}
	out, err := issue(cctx.Context, opts, logger, streams)
	return printResult(streams, asJSON, out, err)
}

// issue runs a validated issue command line and returns its result.
func issue(ctx context.Context, opts *issueOptions, logger *slog.Logger, streams Streams) (*certResult, error) {
	req := opts.req
	certLogger := logger.With(slog.String("certificate", req.certName))
	// Built once here, before any request: a missing variable fails the run
	// as invalid input, and the order then uses these providers.
	provs, err := buildProviders(req, certLogger)
	if err != nil {
		return failedResult(req, err), err
	}
	req.providers = provs
	store, err := openStore(opts.storagePath, logger)
	if err != nil {
		return failedResult(req, err), err
	}
	lockRequested := time.Now()
	unlock, waited, err := lockCertificate(ctx, store, req.certName, opts.wait, certLogger)
	if err != nil {
		return failedResult(req, err), err
	}
	defer unlock()
	if waited {
		if meta, ok := storedByOtherRun(store, req, opts.order.keyType, lockRequested); ok {
			certLogger.Info("the run this one waited for stored a certificate for the same names; no new order is sent")
			out := newCertResult(req, nil, obtainStats{})
			out.succeed(store, meta, nil)
			out.Status = "issued_by_other_run"
			return out, nil
		}
	}

	s := newSession(store, logger, opts.ca, opts.order)
	timings := issuer.NewTimings()
	meta, res, stats, err := s.obtain(ctx, req, timings)
	out := newCertResult(req, timings, stats)
	if err != nil && meta.Name == "" {
		out.fail(err)
		logger.Error("issuance failed", slog.String("certificate", req.certName),
			slog.Any("error", err), slog.String("steps", formatSteps(timings.Steps())))
		return out, err
	}
	// The certificate is stored: a later error, such as records that could
	// not be removed or a failed deploy hook, leaves ok and the status as
	// they are and sets the error and the exit code.
	out.succeed(store, meta, res)
	err = errors.Join(err, runDeployHook(ctx, opts.order.deployHook, store, meta, certLogger))
	if err != nil {
		out.setError(err)
	}
	return out, err
}

// storedByOtherRun returns the certificate that another run stored under
// req's name after since, when it serves this request as well. It must be
// for exactly the same names, with its key stored, and of the key type and
// profile requested, if any. keyType is the --key-type given, empty when
// none was.
func storedByOtherRun(store *storage.Store, req certRequest, keyType string, since time.Time) (storage.Metadata, bool) {
	if req.key != nil || req.csr != nil {
		return storage.Metadata{}, false
	}
	c, err := store.LoadCertificate(req.certName)
	if err != nil {
		return storage.Metadata{}, false
	}
	meta := c.Meta
	switch {
	case meta.IssuedAt.Before(since), meta.ExternalKey, meta.Revoked, meta.Replaced:
		return storage.Metadata{}, false
	case keyType != "" && keyType != meta.KeyType:
		return storage.Metadata{}, false
	case req.profile != "" && req.profile != meta.Profile:
		return storage.Metadata{}, false
	}
	have, want := slices.Sorted(slices.Values(meta.Names)), slices.Sorted(slices.Values(req.names))
	return meta, slices.Equal(have, want)
}
