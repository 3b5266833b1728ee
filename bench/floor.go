package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mholt/acmez/v3/acme"
	"github.com/miekg/dns"
	"golang.org/x/sync/errgroup"

	"github.com/dnscert/dnscert/storage"
)

// The floor's checks of the nameservers: rounds floorPollInterval apart, so
// it notices a late server within that time, with at most
// floorParallelQueries queries in flight.
const (
	floorPollInterval    = 10 * time.Millisecond
	floorParallelQueries = 64
)

// floorOptions is the command line of the floor subcommand.
type floorOptions struct {
	directory string
	caCert    string
	path      string
	email     string
	profile   string
	timeout   time.Duration
	idleConns int
	zones     []string
	names     []string
	wait      []string
}

// floorChallenge is the dns-01 challenge of one authorization.
type floorChallenge struct {
	authz     acme.Authorization
	challenge acme.Challenge
	record    string // _acme-challenge owner name, fully qualified
	value     string
}

// runFloor is the "floor" subcommand: a minimal dns-01 client that makes
// the ACME round trips only. It loads the account the benchmark registered,
// creates the order and fetches every authorization in parallel. It
// publishes the TXT values with one RFC 2136 UPDATE per zone to the
// primary and waits until the nameservers given with -wait serve them.
// Then it responds to every challenge in parallel, polls,
// finalizes and downloads the chain. It never removes its records, because
// every order has zones of its own. The result is one JSON object on
// stdout, shaped like dnscert's --json output.
func runFloor(args []string) int {
	start := time.Now()
	o, err := parseFloorOptions(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench floor:", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	steps := &stepTimer{}
	err = floorObtain(ctx, o, steps)
	out := processOutput{OK: err == nil, Steps: steps.steps, TotalSeconds: time.Since(start).Seconds()}
	if err != nil {
		out.Error = err.Error()
	}
	enc := json.NewEncoder(os.Stdout)
	if encErr := enc.Encode(out); encErr != nil {
		fmt.Fprintln(os.Stderr, "bench floor:", encErr)
		return 1
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench floor:", err)
		return 1
	}
	return 0
}

func parseFloorOptions(args []string) (*floorOptions, error) {
	fs := flag.NewFlagSet("floor", flag.ContinueOnError)
	o := &floorOptions{}

	fs.StringVar(&o.directory, "directory", "", "ACME directory URL")
	fs.StringVar(&o.caCert, "ca-cert", "", "PEM file with the certificate of the CA's HTTPS listener")
	fs.StringVar(&o.path, "path", "", "dnscert storage directory that holds the account")
	fs.StringVar(&o.email, "email", "", "contact e-mail of the stored account")
	fs.StringVar(&o.profile, "profile", "", "ACME profile to order")
	fs.DurationVar(&o.timeout, "timeout", 3*time.Minute, "limit for the whole order")
	fs.IntVar(&o.idleConns, "idle-conns", 0, "idle HTTP connections kept to the CA; 0 means one per name")
	fs.Func("zone", "zone that holds challenge records (repeatable); each name goes to the longest zone containing it", func(s string) error {
		o.zones = append(o.zones, dns.CanonicalName(s))
		return nil
	})
	fs.Func("d", "name to certify (repeatable)", func(s string) error {
		o.names = append(o.names, s)
		return nil
	})
	fs.Func("wait", "nameserver ip:port that must serve every value before the floor responds to the challenges (repeatable)", func(s string) error {
		o.wait = append(o.wait, s)
		return nil
	})

	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case o.directory == "" || o.caCert == "" || o.path == "":
		return nil, errors.New("missing -directory, -ca-cert or -path")
	case len(o.names) == 0 || len(o.zones) == 0:
		return nil, errors.New("missing -d or -zone")
	case o.timeout <= 0:
		return nil, fmt.Errorf("invalid -timeout %s: give a positive duration", o.timeout)
	case o.idleConns < 0:
		return nil, fmt.Errorf("invalid -idle-conns %d: give 0 or more", o.idleConns)
	}
	return o, nil
}

// stepTimer records step durations in the order the steps ran.
type stepTimer struct {
	steps []stepTime
}

func (t *stepTimer) time(step string, f func() error) error {
	start := time.Now()
	err := f()
	t.steps = append(t.steps, stepTime{Step: step, Seconds: time.Since(start).Seconds()})
	return err
}

func floorObtain(ctx context.Context, o *floorOptions, steps *stepTimer) error {
	var client *acme.Client
	var account acme.Account
	err := steps.time("account", func() error {
		var err error
		client, err = floorClient(o)
		if err != nil {
			return err
		}
		account, err = loadFloorAccount(o)
		return err
	})
	if err != nil {
		return err
	}

	var order acme.Order
	err = steps.time("order", func() error {
		ids := make([]acme.Identifier, 0, len(o.names))
		for _, n := range o.names {
			ids = append(ids, acme.Identifier{Type: "dns", Value: n})
		}
		var err error
		order, err = client.NewOrder(ctx, account, acme.Order{Identifiers: ids, Profile: o.profile})
		return err
	})
	if err != nil {
		return fmt.Errorf("creating the order: %w", err)
	}

	var challenges []floorChallenge
	err = steps.time("authorizations", func() error {
		var err error
		challenges, err = fetchChallenges(ctx, client, account, order.Authorizations)
		return err
	})
	if err != nil {
		return err
	}
	if err := steps.time("publish", func() error { return publishUpdates(ctx, o.zones, challenges) }); err != nil {
		return err
	}
	if len(o.wait) > 0 {
		if err := steps.time("propagation", func() error { return waitServed(ctx, o.wait, challenges) }); err != nil {
			return err
		}
	}
	if err := steps.time("validation", func() error { return validateAll(ctx, client, account, challenges) }); err != nil {
		return err
	}
	return steps.time("finalize", func() error { return finalize(ctx, client, account, order, o.names) })
}

// floorClient returns an ACME client that trusts the CA's HTTPS
// certificate. By default it keeps one idle connection per name, as many
// as requests in flight, so each wave of parallel requests reuses the
// connections of the one before instead of opening new ones.
func floorClient(o *floorOptions) (*acme.Client, error) {
	pemData, err := os.ReadFile(o.caCert)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemData) {
		return nil, fmt.Errorf("no PEM certificate in %s", o.caCert)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	transport.MaxIdleConnsPerHost = o.idleConns
	if o.idleConns == 0 {
		transport.MaxIdleConnsPerHost = max(len(o.names), 2)
	}
	return &acme.Client{
		Directory:   o.directory,
		HTTPClient:  &http.Client{Transport: transport, Timeout: time.Minute},
		PollTimeout: o.timeout,
	}, nil
}

func loadFloorAccount(o *floorOptions) (acme.Account, error) {
	store, err := storage.Open(o.path)
	if err != nil {
		return acme.Account{}, err
	}
	stored, err := store.LoadAccount(o.directory, o.email)
	if err != nil {
		return acme.Account{}, fmt.Errorf("loading the account: %w", err)
	}
	return acme.Account{
		Status:               stored.Status,
		TermsOfServiceAgreed: stored.TermsOfServiceAgreed,
		Location:             stored.URL,
		PrivateKey:           stored.Key,
	}, nil
}

// fetchChallenges fetches every authorization at once and returns the
// dns-01 challenge of each.
func fetchChallenges(ctx context.Context, client *acme.Client, account acme.Account, urls []string) ([]floorChallenge, error) {
	out := make([]floorChallenge, len(urls))
	g, gctx := errgroup.WithContext(ctx)
	for i, url := range urls {
		g.Go(func() error {
			authz, err := client.GetAuthorization(gctx, account, url)
			if err != nil {
				return fmt.Errorf("fetching %s: %w", url, err)
			}
			for _, ch := range authz.Challenges {
				if ch.Type == acme.ChallengeTypeDNS01 {
					sum := sha256.Sum256([]byte(ch.KeyAuthorization))
					out[i] = floorChallenge{
						authz:     authz,
						challenge: ch,
						record:    dns.Fqdn("_acme-challenge." + authz.Identifier.Value),
						value:     base64.RawURLEncoding.EncodeToString(sum[:]),
					}
					return nil
				}
			}
			return fmt.Errorf("authorization %s offers no dns-01 challenge", url)
		})
	}
	return out, g.Wait()
}

// publishUpdates sends one TSIG-signed UPDATE per zone to the primary named
// by RFC2136_NAMESERVER, all zones at once. The primary applies an update
// before it sends the response, so the values are in place when this
// returns.
func publishUpdates(ctx context.Context, zones []string, challenges []floorChallenge) error {
	server := os.Getenv("RFC2136_NAMESERVER")
	keyName := dns.CanonicalName(os.Getenv("RFC2136_TSIG_KEY"))
	secret := os.Getenv("RFC2136_TSIG_SECRET")
	algorithm := dns.CanonicalName(os.Getenv("RFC2136_TSIG_ALGORITHM"))
	if server == "" || keyName == "." || secret == "" {
		return errors.New("missing RFC2136_NAMESERVER, RFC2136_TSIG_KEY or RFC2136_TSIG_SECRET")
	}
	if algorithm == "." {
		algorithm = dns.HmacSHA256
	}
	byZone := make(map[string][]dns.RR)
	for _, ch := range challenges {
		zone := zoneOf(zones, ch.record)
		if zone == "" {
			return fmt.Errorf("no -zone contains %s", ch.record)
		}
		byZone[zone] = append(byZone[zone], &dns.TXT{
			Hdr: dns.RR_Header{Name: ch.record, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60},
			Txt: []string{ch.value},
		})
	}
	g, gctx := errgroup.WithContext(ctx)
	for zone, rrs := range byZone {
		g.Go(func() error {
			m := new(dns.Msg)
			m.SetUpdate(zone)
			m.Insert(rrs)
			m.SetTsig(keyName, algorithm, 300, time.Now().Unix())
			c := &dns.Client{Net: "tcp", TsigSecret: map[string]string{keyName: secret}, Timeout: 10 * time.Second}
			r, _, err := c.ExchangeContext(gctx, m, server)
			if err != nil {
				return fmt.Errorf("update of zone %s: %w", zone, err)
			}
			if r.Rcode != dns.RcodeSuccess {
				return fmt.Errorf("update of zone %s: %s", zone, dns.RcodeToString[r.Rcode])
			}
			return nil
		})
	}
	return g.Wait()
}

// zoneOf returns the longest zone that contains name, or "".
func zoneOf(zones []string, name string) string {
	best := ""
	for _, z := range zones {
		if dns.IsSubDomain(z, name) && dns.CountLabel(z) > dns.CountLabel(best) {
			best = z
		}
	}
	return best
}

// waitServed returns once every server serves every value of each record
// name. Each round sends all outstanding queries at once, at most
// floorParallelQueries at a time, and rounds are floorPollInterval apart.
func waitServed(ctx context.Context, servers []string, challenges []floorChallenge) error {
	type check struct {
		server, name string
		want         []string
	}
	values := make(map[string][]string)
	for _, ch := range challenges {
		values[ch.record] = append(values[ch.record], ch.value)
	}
	var pending []check
	for _, server := range servers {
		for name, want := range values {
			pending = append(pending, check{server, name, want})
		}
	}
	c := &dns.Client{Timeout: time.Second}
	for {
		done := make([]bool, len(pending))
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(floorParallelQueries)
		for i, ch := range pending {
			g.Go(func() error {
				done[i] = served(gctx, c, ch.server, ch.name, ch.want)
				return nil
			})
		}
		_ = g.Wait()
		var next []check
		for i, ch := range pending {
			if !done[i] {
				next = append(next, ch)
			}
		}
		if pending = next; len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s at %s: %w", pending[0].name, pending[0].server, ctx.Err())
		case <-time.After(floorPollInterval):
		}
	}
}

// served reports whether server returns every value of want for name.
func served(ctx context.Context, c *dns.Client, server, name string, want []string) bool {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeTXT)
	r, _, err := c.ExchangeContext(ctx, m, server)
	if err != nil || r.Rcode != dns.RcodeSuccess {
		return false
	}
	var have []string
	for _, rr := range r.Answer {
		if txt, ok := rr.(*dns.TXT); ok {
			have = append(have, strings.Join(txt.Txt, ""))
		}
	}
	for _, v := range want {
		if !slices.Contains(have, v) {
			return false
		}
	}
	return true
}

// validateAll responds to every challenge and polls its authorization, all
// at once, with the library's polling: a first wait of 250 ms, then the
// server's Retry-After.
func validateAll(ctx context.Context, client *acme.Client, account acme.Account, challenges []floorChallenge) error {
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, ch := range challenges {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := client.InitiateChallenge(ctx, account, ch.challenge)
			if err == nil {
				_, err = client.PollAuthorization(ctx, account, ch.authz)
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", ch.authz.IdentifierValue(), err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// finalize sends a CSR for a new P-256 key, the default key type of
// dnscert, and downloads the chain.
func finalize(ctx context.Context, client *acme.Client, account acme.Account, order acme.Order, names []string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.CertificateRequest{DNSNames: names}
	if len(names[0]) <= 64 {
		tmpl.Subject = pkix.Name{CommonName: names[0]}
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return err
	}
	order, err = client.FinalizeOrder(ctx, account, order, csr)
	if err != nil {
		return fmt.Errorf("finalizing: %w", err)
	}
	chains, err := client.GetCertificateChain(ctx, account, order.Certificate)
	if err != nil {
		return fmt.Errorf("downloading the chain: %w", err)
	}
	if len(chains) == 0 {
		return errors.New("the CA returned no chain")
	}
	return nil
}
