package issuer

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/mholt/acmez/v3/acme"
	"golang.org/x/sync/errgroup"

	"github.com/dnscert/dnscert/dns01"
	"github.com/dnscert/dnscert/propagation"
)

// DefaultPropagationTimeout bounds the wait for authoritative nameservers.
// It stays well under the one-hour lifetime of pending authorizations in
// Let's Encrypt's short-lived profiles.
const DefaultPropagationTimeout = 10 * time.Minute

// deactivateTimeout bounds the deactivation of pending authorizations after
// a failure; it runs on a context detached from the cancelled run.
const deactivateTimeout = 20 * time.Second

// Issuer runs one ACME order through the dns-01 challenge.
type Issuer struct {
	Client    *acme.Client
	Account   acme.Account
	Planner   *dns01.Planner
	Publisher *dns01.Publisher
	DNS       *propagation.Client

	// PropagationTimeout bounds the wait for nameservers. Zero means
	// DefaultPropagationTimeout.
	PropagationTimeout time.Duration

	// Logger receives progress at Info and details at Debug. Nil discards.
	Logger *slog.Logger
}

// Request is the certificate to order. Names must already be normalized
// (see dns01.NormalizeNames).
type Request struct {
	Names          []string
	Key            crypto.Signer // key of the new certificate; nil when CSR is set
	CSR            []byte        // DER certificate request to send instead of one made from Key
	Profile        string        // ACME profile, empty for the CA's default
	Replaces       string        // ARI certificate ID of the predecessor (RFC 9773 section 5)
	PreferredChain string        // common name of the preferred root or intermediate
}

// Result is an issued certificate with what it took.
type Result struct {
	Names    []string
	ChainPEM []byte // leaf first, then intermediates
	CertURL  string
	OrderURL string
	Profile  string
	Chains   int // number of chains the CA offered
	Timings  *Timings
	// RenewalInfo is the CA's renewal window, when it serves ARI.
	RenewalInfo *acme.RenewalInfo
}

// pendingChallenge is a dns-01 challenge to respond to and the
// authorization it belongs to.
type pendingChallenge struct {
	authz     acme.Authorization
	challenge acme.Challenge
	domain    string
	value     string
}

func (is *Issuer) logger() *slog.Logger {
	if is.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return is.Logger
}

// Obtain creates the order, publishes and checks every challenge record,
// responds to all challenges at once, finalizes the order and downloads the
// chain. The records it published are removed whatever happens, including
// when ctx is cancelled. A removal that fails is returned as a *CleanupError,
// and its values stay in the journal. Pending authorizations are
// deactivated when the run fails. Timings are filled in as steps complete,
// also on failure.
func (is *Issuer) Obtain(ctx context.Context, req Request, timings *Timings) (res *Result, err error) {
	if timings == nil {
		timings = NewTimings()
	}
	logger := is.logger()

	// Finding every record's zone and nameservers comes first: a DNS setup
	// that cannot work then fails before the CA creates authorizations.
	stop := timings.Start(StepPlan)
	targets, err := is.Planner.Locate(ctx, req.Names)
	stop()
	if err != nil {
		return nil, &PlanError{Err: err}
	}

	stop = timings.Start(StepOrder)
	order, err := is.Client.NewOrder(ctx, is.Account, newOrder(req))
	stop()
	if err != nil {
		return nil, &CAError{Op: "creating the order", Err: err}
	}
	logger.LogAttrs(ctx, slog.LevelInfo, "order created",
		slog.String("order", order.Location), slog.Int("authorizations", len(order.Authorizations)),
		slog.String("profile", order.Profile))

	stop = timings.Start(StepAuthorizations)
	pending, err := is.pendingChallenges(ctx, order)
	stop()
	if err != nil {
		is.deactivate(ctx, order.Authorizations)
		return nil, err
	}

	if len(pending) > 0 {
		var waitCleanup func() error
		waitCleanup, err = is.solve(ctx, pending, targets, timings)
		if err != nil {
			is.deactivate(ctx, order.Authorizations)
			return nil, err
		}
		// The result is returned only once the records are gone, so a
		// caller that exits next leaves nothing behind. A failed removal
		// comes back as a *CleanupError next to the certificate.
		defer func() {
			if cerr := waitCleanup(); cerr != nil {
				err = errors.Join(err, cerr)
			}
		}()
	}

	stop = timings.Start(StepFinalize)
	csr := req.CSR
	if csr == nil {
		if csr, err = makeCSR(req.Key, req.Names); err != nil {
			stop()
			return nil, err
		}
	}
	order, err = is.Client.FinalizeOrder(ctx, is.Account, order, csr)
	if err != nil {
		stop()
		return nil, &CAError{Op: "finalizing the order " + order.Location, Err: err}
	}
	chains, err := is.Client.GetCertificateChain(ctx, is.Account, order.Certificate)
	stop()
	if err != nil {
		return nil, &CAError{Op: "downloading the certificate " + order.Certificate, Err: err}
	}
	chosen, err := chooseChain(chains, req.PreferredChain, logger)
	if err != nil {
		return nil, err
	}
	logger.LogAttrs(ctx, slog.LevelInfo, "certificate issued",
		slog.String("url", chosen.URL), slog.Int("chains", len(chains)))
	return &Result{
		Names:       req.Names,
		ChainPEM:    chosen.ChainPEM,
		CertURL:     chosen.URL,
		OrderURL:    order.Location,
		Profile:     order.Profile,
		Chains:      len(chains),
		Timings:     timings,
		RenewalInfo: chosen.RenewalInfo,
	}, nil
}

func newOrder(req Request) acme.Order {
	ids := make([]acme.Identifier, 0, len(req.Names))
	for _, n := range req.Names {
		ids = append(ids, acme.Identifier{Type: "dns", Value: n})
	}
	return acme.Order{Identifiers: ids, Profile: req.Profile, Replaces: req.Replaces}
}

// pendingChallenges fetches every authorization in parallel and picks the
// dns-01 challenge of each pending one. Authorizations that are already
// valid (reused by the CA) need nothing.
func (is *Issuer) pendingChallenges(ctx context.Context, order acme.Order) ([]pendingChallenge, error) {
	results := make([]*pendingChallenge, len(order.Authorizations))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i, url := range order.Authorizations {
		g.Go(func() error {
			authz, err := is.Client.GetAuthorization(gctx, is.Account, url)
			if err != nil {
				return &CAError{Op: "fetching authorization " + url, Err: err}
			}
			switch authz.Status {
			case acme.StatusValid:
				is.logger().LogAttrs(gctx, slog.LevelInfo, "authorization already valid",
					slog.String("name", authz.IdentifierValue()), slog.String("authorization", url))
				return nil
			case acme.StatusPending:
			default:
				return &CAError{Op: "authorization for " + authz.IdentifierValue(),
					Err: fmt.Errorf("status is %s, not pending; create a new order", authz.Status)}
			}
			for _, ch := range authz.Challenges {
				if ch.Type == acme.ChallengeTypeDNS01 {
					results[i] = &pendingChallenge{
						authz:     authz,
						challenge: ch,
						domain:    authz.IdentifierValue(),
						value:     dns01.TXTValue(ch.KeyAuthorization),
					}
					return nil
				}
			}
			return &CAError{Op: "authorization for " + authz.IdentifierValue(),
				Err: fmt.Errorf("the CA offers no dns-01 challenge (offered: %s)", challengeTypes(authz))}
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out []pendingChallenge
	for _, p := range results {
		if p != nil {
			out = append(out, *p)
		}
	}
	return out, nil
}

// solve publishes, waits for, responds to and polls every challenge. When
// it fails, it removes the records before returning. When it succeeds, the
// authorizations are final, so the records are removed in the background:
// a slow provider (Route 53 waits until its servers are in sync) must not
// hold up finalization. The returned function waits for that removal.
func (is *Issuer) solve(ctx context.Context, pending []pendingChallenge, targets *dns01.Targets, timings *Timings) (waitCleanup func() error, err error) {
	challenges := make([]dns01.Challenge, 0, len(pending))
	for _, p := range pending {
		challenges = append(challenges, dns01.Challenge{Domain: p.domain, Value: p.value})
	}

	plan, err := targets.Plan(challenges)
	if err != nil {
		return nil, &PlanError{Err: err}
	}

	stop := timings.Start(StepPublish)
	err = is.Publisher.Publish(ctx, plan)
	stop()
	if err != nil {
		return nil, err
	}
	cleanup := func() error {
		stop := timings.Start(StepCleanup)
		defer stop()
		if err := is.Publisher.Cleanup(ctx, plan.Records); err != nil {
			return &CleanupError{Err: err}
		}
		return nil
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, cleanup())
		}
	}()

	stop = timings.Start(StepPropagation)
	err = is.DNS.Wait(ctx, plan.Expectations(), is.propagationTimeout())
	stop()
	if err != nil {
		return nil, err
	}

	stop = timings.Start(StepValidation)
	err = is.validate(ctx, pending, plan)
	stop()
	if err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cleanup() }()
	return func() error { return <-done }, nil
}

func (is *Issuer) propagationTimeout() time.Duration {
	if is.PropagationTimeout == 0 {
		return DefaultPropagationTimeout
	}
	return is.PropagationTimeout
}

// validate answers every challenge, then polls every authorization until it
// is final. All run in parallel; Retry-After is honoured by the polling.
func (is *Issuer) validate(ctx context.Context, pending []pendingChallenge, plan *dns01.Plan) error {
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, p := range pending {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := is.validateOne(ctx, p, plan); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (is *Issuer) validateOne(ctx context.Context, p pendingChallenge, plan *dns01.Plan) error {
	if _, err := is.Client.InitiateChallenge(ctx, is.Account, p.challenge); err != nil {
		return &CAError{Op: "responding to the challenge for " + p.domain, Err: err}
	}
	authz, err := is.Client.PollAuthorization(ctx, is.Account, p.authz)
	if err == nil {
		is.logger().LogAttrs(ctx, slog.LevelInfo, "authorization valid",
			slog.String("name", p.domain), slog.String("authorization", p.authz.Location))
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return &ValidationError{
		Domain:        p.domain,
		Authorization: p.authz.Location,
		Record:        recordFor(plan, p),
		Err:           err,
		Status:        authz.Status,
	}
}

func recordFor(plan *dns01.Plan, p pendingChallenge) string {
	for _, r := range plan.Records {
		if r.Value == p.value {
			if r.Name != r.Challenge {
				return fmt.Sprintf("%s (CNAME to %s) TXT %q", r.Challenge, r.Name, r.Value)
			}
			return fmt.Sprintf("%s TXT %q", r.Name, r.Value)
		}
	}
	return dns01.ChallengeName(p.domain)
}

// deactivate gives up the order's pending authorizations after a failure
// (RFC 8555 section 7.5.2), so they do not linger at the CA. It runs on a
// context that survives the cancellation of ctx.
func (is *Issuer) deactivate(ctx context.Context, urls []string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deactivateTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, url := range urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			authz, err := is.Client.GetAuthorization(ctx, is.Account, url)
			if err != nil || authz.Status != acme.StatusPending {
				return
			}
			if _, err := is.Client.DeactivateAuthorization(ctx, is.Account, url); err != nil {
				is.logger().LogAttrs(ctx, slog.LevelWarn, "deactivating authorization failed",
					slog.String("authorization", url), slog.Any("error", err))
				return
			}
			is.logger().LogAttrs(ctx, slog.LevelInfo, "deactivated pending authorization",
				slog.String("name", authz.IdentifierValue()), slog.String("authorization", url))
		}()
	}
	wg.Wait()
}

func challengeTypes(authz acme.Authorization) string {
	var types []string
	for _, ch := range authz.Challenges {
		types = append(types, ch.Type)
	}
	return strings.Join(types, ", ")
}

// makeCSR builds the certificate request. The first name also goes into the
// subject common name when it fits the 64-character limit of RFC 5280.
func makeCSR(key crypto.Signer, names []string) ([]byte, error) {
	tmpl := &x509.CertificateRequest{DNSNames: names}
	if len(names[0]) <= 64 {
		tmpl.Subject = pkix.Name{CommonName: names[0]}
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return nil, fmt.Errorf("creating the certificate request: %w", err)
	}
	return csr, nil
}

// chooseChain picks the chain whose root or intermediate has the preferred
// common name, or the CA's default chain (the first).
func chooseChain(chains []acme.Certificate, preferred string, logger *slog.Logger) (acme.Certificate, error) {
	if len(chains) == 0 {
		return acme.Certificate{}, errors.New("the CA returned no certificate chain")
	}
	if preferred == "" {
		return chains[0], nil
	}
	var offered []string
	for _, ch := range chains {
		names := issuerNames(ch.ChainPEM)
		for _, n := range names {
			if n == preferred {
				return ch, nil
			}
		}
		offered = append(offered, strings.Join(names, " < "))
	}
	logger.Warn("preferred chain not offered, using the default chain",
		slog.String("preferred", preferred), slog.String("offered", strings.Join(offered, "; ")))
	return chains[0], nil
}

// issuerNames returns the issuer common names along a PEM chain, from the
// leaf's issuer to the top.
func issuerNames(chainPEM []byte) []string {
	var names []string
	rest := chainPEM
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return names
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			continue
		}
		names = append(names, cert.Issuer.CommonName)
	}
}
