package cli

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"

	"github.com/mholt/acmez/v3/acme"
	"github.com/urfave/cli/v2"

	"github.com/dnscert/dnscert/issuer"
	"github.com/dnscert/dnscert/storage"
)

const (
	flagDays     = "days"
	flagForce    = "force"
	flagReuseKey = "reuse-key"
)

func renewCommand(streams Streams) *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{
			Name:    flagCertName,
			Usage:   "renew only this stored certificate; default: every stored certificate",
			EnvVars: envName(flagCertName),
		},
		&cli.IntFlag{
			Name:    flagDays,
			Usage:   "renew when fewer than this many days remain, instead of following the CA's renewal window",
			EnvVars: envName(flagDays),
		},
		&cli.BoolFlag{
			Name:    flagForce,
			Usage:   "renew now, whatever the expiry",
			EnvVars: envName(flagForce),
		},
		&cli.BoolFlag{
			Name:    flagReuseKey,
			Usage:   "keep the certificate's private key instead of generating a new one",
			EnvVars: envName(flagReuseKey),
		},
	}
	flags = append(flags, caFlags()...)
	flags = append(flags, orderFlags()...)
	return &cli.Command{
		Name:      "renew",
		Usage:     "renew the stored certificates that are due",
		UsageText: "dnscert renew [--cert-name NAME] [--deploy-hook 'systemctl reload nginx']",
		Description: "Checks every stored certificate (or --cert-name). A certificate is due when the CA's\n" +
			"renewal information (RFC 9773) says so, at a random time inside its suggested window;\n" +
			"without it, when a third of its lifetime remains. Run it daily from a timer: when nothing\n" +
			"is due it exits 0 after one line. Renewals repeat the stored order (names, provider,\n" +
			"profile, key type) unless flags override it, and tell the CA which certificate they replace.",
		Flags: withCommonFlags(flags),
		Action: func(cctx *cli.Context) error {
			return runRenew(cctx, streams)
		},
	}
}

// renewSummary is the --json output of renew: one object for the run.
type renewSummary struct {
	OK      bool `json:"ok"`
	Renewed int  `json:"renewed"`
	NotDue  int  `json:"not_due"`
	// Failed counts the certificates that were not renewed because of an
	// error. A certificate renewed and stored counts as renewed, also when
	// a later step such as its deploy hook failed.
	Failed       int           `json:"failed"`
	Certificates []*certResult `json:"certificates"`
	// Error is the error that decides ExitCode, empty on success.
	Error    string `json:"error,omitempty"`
	ExitCode int    `json:"exit_code"`
}

// failedSummary is the summary of a run that failed before it checked any
// certificate, such as on invalid input.
func failedSummary(err error) *renewSummary {
	s := &renewSummary{Certificates: []*certResult{}}
	s.setError(err)
	return s
}

func (s *renewSummary) setError(err error) {
	s.OK = err == nil
	s.ExitCode = ExitCode(err)
	if err != nil {
		s.Error = err.Error()
	}
}

// renewArgumentHint is the fix for a stray word after renew's flags.
const renewArgumentHint = "dnscert renew takes no arguments; renew one certificate with --cert-name NAME, and put flags before any other word"

func runRenew(cctx *cli.Context, streams Streams) error {
	asJSON := wantsJSON(cctx)
	summary, err := renew(cctx, streams)
	if summary == nil {
		summary = failedSummary(err)
	}
	if asJSON {
		writeJSON(streams.Stdout, summary)
	}
	return err
}

// renew runs the renew command line. It returns a nil summary when it
// stopped before checking any certificate.
func renew(cctx *cli.Context, streams Streams) (*renewSummary, error) {
	ctx := cctx.Context
	if err := checkNoArguments(cctx, renewArgumentHint); err != nil {
		return nil, err
	}
	logger, err := newLogger(cctx, streams.Stderr)
	if err != nil {
		return nil, err
	}
	ca, errs := parseCAOptions(cctx)
	order, orderErrs := parseOrderOptions(cctx)
	errs = append(errs, orderErrs...)
	certName := cctx.String(flagCertName)
	if certName != "" {
		if err := storage.ValidateName(certName); err != nil {
			errs = append(errs, fmt.Errorf("invalid --cert-name: %w", err))
		}
	}
	policy := issuer.RenewalPolicy{Days: cctx.Int(flagDays), Force: cctx.Bool(flagForce)}
	if policy.Days < 0 {
		errs = append(errs, fmt.Errorf("invalid --days %d: give a positive number of days", policy.Days))
	}
	if len(errs) > 0 {
		return nil, joinUsageErrors(errs)
	}
	store, err := openStore(commonString(cctx, flagPath), logger)
	if err != nil {
		return nil, err
	}

	var metas []storage.Metadata
	if certName != "" {
		c, err := store.LoadCertificate(certName)
		if err != nil {
			return nil, &usageError{msg: fmt.Sprintf("certificate %s: %v; see dnscert list", certName, err)}
		}
		metas = append(metas, c.Meta)
	} else {
		metas, err = store.ListCertificates()
		if err != nil {
			logger.Error("some stored certificates cannot be read", slog.Any("error", err))
		}
	}

	r := &renewer{
		store: store, logger: logger, streams: streams, ca: ca, order: order,
		policy: policy, reuseKey: cctx.Bool(flagReuseKey), sessions: make(map[string]*session),
	}
	summary := &renewSummary{Certificates: []*certResult{}}
	var runErrs []error
	if err != nil {
		runErrs = append(runErrs, err)
	}
	for _, meta := range metas {
		if ctx.Err() != nil {
			runErrs = append(runErrs, &interruptedError{err: ctx.Err(), detail: "the certificates not yet checked were skipped"})
			break
		}
		if meta.Replaced {
			continue
		}
		res, err := r.renewOne(ctx, meta)
		summary.Certificates = append(summary.Certificates, res)
		if err != nil {
			runErrs = append(runErrs, err)
		}
		switch {
		case res.Status == "renewed":
			summary.Renewed++
		case err != nil:
			summary.Failed++
		default:
			summary.NotDue++
		}
	}
	runErr := worstError(runErrs)
	summary.setError(runErr)
	if !order.json {
		switch {
		case len(metas) == 0:
			fmt.Fprintln(streams.Stdout, "No certificates stored; nothing to renew.")
		case summary.Renewed == 0 && summary.Failed == 0 && runErr == nil:
			fmt.Fprintf(streams.Stdout, "No certificate is due for renewal (%d checked).\n", summary.NotDue)
		default:
			fmt.Fprintf(streams.Stdout, "%d renewed, %d not due, %d failed.\n", summary.Renewed, summary.NotDue, summary.Failed)
		}
	}
	return summary, runErr
}

// worstError picks the error whose exit code a script most needs to see:
// the first one, unless a later one is an interrupt.
func worstError(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	for _, err := range errs {
		if ExitCode(err) == ExitInterrupted {
			return err
		}
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return fmt.Errorf("%w (and %d more failures, see above)", errs[0], len(errs)-1)
}

// renewer renews certificates one after another, sharing one session per
// CA and account.
type renewer struct {
	store    *storage.Store
	logger   *slog.Logger
	streams  Streams
	ca       *caOptions
	order    *orderOptions
	policy   issuer.RenewalPolicy
	reuseKey bool
	sessions map[string]*session
}

// sessionFor returns the session of the CA and account a certificate was
// issued with, unless flags name another. The stored account e-mail is kept
// unless --email is given, also when --server names the certificate's own
// CA: otherwise the run would register a new account without an e-mail.
func (r *renewer) sessionFor(meta storage.Metadata) *session {
	ca := *r.ca
	if meta.DirectoryURL != "" && !r.caGiven() {
		ca.directory = meta.DirectoryURL
		ca.requireEAB = false
	}
	if ca.email == "" && ca.directory == meta.DirectoryURL {
		ca.email = meta.AccountEmail
	}
	key := ca.directory + "|" + ca.email
	if s, ok := r.sessions[key]; ok {
		return s
	}
	s := newSession(r.store, r.logger, &ca, r.order)
	r.sessions[key] = s
	return s
}

// caGiven reports whether the user chose a CA on this command line rather
// than leaving the default.
func (r *renewer) caGiven() bool {
	return r.ca.explicit
}

func (r *renewer) renewOne(ctx context.Context, meta storage.Metadata) (*certResult, error) {
	logger := r.logger.With(slog.String("certificate", meta.Name))
	unlock, _, err := lockCertificate(ctx, r.store, meta.Name, true, logger)
	if err != nil {
		res := &certResult{Certificate: meta.Name, Names: meta.Names}
		res.fail(err)
		return res, err
	}
	defer unlock()

	// Another run may have renewed it while this one waited for the lock.
	stored, err := r.store.LoadCertificate(meta.Name)
	if err != nil {
		res := &certResult{Certificate: meta.Name, Names: meta.Names}
		res.fail(err)
		return res, err
	}
	meta = stored.Meta
	leaf, err := parseLeafPEM(stored.LeafPEM)
	if err != nil {
		res := &certResult{Certificate: meta.Name, Names: meta.Names}
		res.fail(err)
		return res, err
	}

	s := r.sessionFor(meta)
	// DecideRenewal names the certificate in its log lines itself.
	decision := issuer.DecideRenewal(ctx, s.client, meta, leaf, r.policy, r.logger)
	if decision.Window != nil && !sameWindow(meta.RenewalWindow, decision.Window) {
		if err := r.store.UpdateMetadata(meta.Name, func(m *storage.Metadata) { m.RenewalWindow = decision.Window }); err != nil {
			logger.Warn("could not store the renewal window", slog.Any("error", err))
		}
		meta.RenewalWindow = decision.Window
	}
	if !decision.Due {
		logger.Info("not due for renewal", slog.String("reason", decision.Reason))
		res := &certResult{OK: true, Status: "not_due", Reason: decision.Reason, Certificate: meta.Name, Names: meta.Names}
		res.succeed(r.store, meta, nil)
		res.Status, res.Reason = "not_due", decision.Reason
		return res, nil
	}
	logger.Info("renewing", slog.String("reason", decision.Reason))

	req := r.requestFor(meta, decision, stored, logger)
	timings := issuer.NewTimings()
	newMeta, result, stats, err := s.obtain(ctx, req, timings)
	var problem acme.Problem
	if err != nil && req.replaces != "" && errors.As(err, &problem) && problem.Type == acme.ProblemTypeAlreadyReplaced {
		// The predecessor was already replaced by another order (RFC 9773
		// section 5); order again as a plain renewal.
		logger.Warn("the CA reports the certificate as already replaced; ordering without replaces")
		req.replaces = ""
		timings = issuer.NewTimings()
		newMeta, result, stats, err = s.obtain(ctx, req, timings)
	}
	res := newCertResult(req, timings, stats)
	res.Reason = decision.Reason
	if err != nil && newMeta.Name == "" {
		res.fail(err)
		logger.Error("renewal failed; the current certificate stays in place", slog.Any("error", err),
			slog.String("steps", formatSteps(timings.Steps())))
		return res, err
	}
	// The new certificate is stored; err can still report records that
	// could not be removed.
	res.succeed(r.store, newMeta, result)
	res.Status = "renewed"
	if !r.order.json {
		writeSummary(r.streams.Stdout, res)
	}
	if hookErr := runDeployHook(ctx, r.order.deployHook, r.store, newMeta, logger); hookErr != nil {
		logger.Error("deploy hook failed", slog.Any("error", hookErr))
		err = errors.Join(err, hookErr)
	}
	if err != nil {
		res.setError(err)
	}
	return res, err
}

// requestFor repeats the stored order, with command line flags taking
// precedence.
func (r *renewer) requestFor(meta storage.Metadata, d issuer.Decision, stored storage.Certificate, logger *slog.Logger) certRequest {
	o := r.order
	req := certRequest{
		certName:       meta.Name,
		names:          meta.Names,
		providerName:   firstNonEmpty(o.providerName, meta.Provider),
		providerFor:    meta.ProviderOverrides,
		keyType:        firstNonEmpty(o.keyType, meta.KeyType, storage.DefaultKeyType),
		zone:           firstNonEmpty(o.zone, meta.Zone),
		profile:        firstNonEmpty(o.profile, meta.Profile),
		preferredChain: firstNonEmpty(o.preferredChain, meta.PreferredChain),
		replaces:       d.Replaces,
		combined:       o.combined || meta.Combined,
	}
	if len(o.providerFor) > 0 {
		req.providerFor = o.providerFor
	}
	if meta.Revoked {
		// A revoked certificate has nothing left to replace.
		req.replaces = ""
	}
	if meta.ExternalKey {
		req.csr = meta.CSR
	}
	// A key that was reported compromised (RFC 5280 reason 1) must not
	// be certified again.
	compromised := meta.Revoked && meta.RevocationReason == 1
	if r.reuseKey && !meta.ExternalKey && compromised {
		logger.Warn("not reusing the key although --reuse-key is set: the certificate was revoked for keyCompromise, so the renewal uses a new key")
	}
	if r.reuseKey && !meta.ExternalKey && !compromised {
		if key, err := storage.DecodeKeyPEM(stored.KeyPEM); err == nil {
			req.key = key
		}
	}
	return req
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

func sameWindow(a, b *storage.RenewalWindow) bool {
	return a != nil && b != nil && a.Start.Equal(b.Start) && a.End.Equal(b.End) && a.SelectedTime.Equal(b.SelectedTime)
}

func parseLeafPEM(data []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("stored certificate holds no PEM block")
	}
	return x509.ParseCertificate(block.Bytes)
}
