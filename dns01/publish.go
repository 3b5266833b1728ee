package dns01

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/libdns/libdns"
)

// DefaultTTL is the TTL of published challenge records. It is short so that
// resolvers do not keep a value long after it has been replaced.
const DefaultTTL = 60 * time.Second

// CleanupTimeout bounds the removal of records. Removal runs on a context
// detached from the caller's, so an interrupt that cancels the run still
// removes what it published.
const CleanupTimeout = 2 * time.Minute

// Publisher adds and removes the records of a plan through the providers,
// one provider call per zone in each direction.
type Publisher struct {
	Providers map[string]Provider
	Journal   *Journal
	TTL       time.Duration // zero means DefaultTTL
	Logger    *slog.Logger

	mu    sync.Mutex
	calls int
}

// Calls returns the number of provider calls made so far.
func (p *Publisher) Calls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls
}

func (p *Publisher) logger() *slog.Logger {
	if p.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Logger
}

func (p *Publisher) countCall() {
	p.mu.Lock()
	p.calls++
	p.mu.Unlock()
}

// Publish writes the plan's records to the journal, then adds each zone's
// records in one call, all zones in parallel. When any zone fails, the
// records of every zone are removed again before the error is returned, so a
// failed publish leaves nothing behind.
func (p *Publisher) Publish(ctx context.Context, plan *Plan) error {
	if err := p.Journal.Add(plan.Records); err != nil {
		return err
	}
	groups := plan.Groups()
	errs := make([]error, len(groups))
	var wg sync.WaitGroup
	for i, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.append(ctx, g)
		}()
	}
	wg.Wait()
	err := errors.Join(errs...)
	if err == nil {
		return nil
	}

	// Roll back every group that may have changed its zone. A group whose
	// provider reported its zone unchanged has nothing to remove, and is
	// dropped from the journal so later runs do not try again.
	var rollback, unchanged []Record
	for i, g := range groups {
		var u zoneUnchanged
		if errs[i] != nil && errors.As(errs[i], &u) && u.ZoneUnchanged() {
			unchanged = append(unchanged, g.Records...)
			continue
		}
		rollback = append(rollback, g.Records...)
	}
	if len(unchanged) > 0 {
		if jerr := p.Journal.Remove(unchanged); jerr != nil {
			err = errors.Join(err, jerr)
		}
	}
	if len(rollback) == 0 {
		return err
	}
	p.logger().LogAttrs(ctx, slog.LevelWarn, "publishing failed, removing the records added so far",
		slog.Int("records", len(rollback)))
	if cerr := p.Cleanup(ctx, rollback); cerr != nil {
		return errors.Join(err, fmt.Errorf("rolling back: %w", cerr))
	}
	return err
}

// zoneUnchanged is implemented by provider errors after which the zone is
// known to be as it was, such as an RFC 2136 update that the server
// rejected: a server applies an update message as a whole or not at all.
type zoneUnchanged interface {
	ZoneUnchanged() bool
}

func (p *Publisher) append(ctx context.Context, g Group) error {
	provider, ok := p.Providers[g.Provider]
	if !ok {
		return fmt.Errorf("no provider named %q is configured", g.Provider)
	}
	recs, err := p.libdnsRecords(g)
	if err != nil {
		return err
	}
	start := time.Now()
	p.countCall()
	if _, err := provider.AppendRecords(ctx, g.Zone, recs); err != nil {
		return &ProviderError{Provider: g.Provider, Zone: g.Zone, Op: "adding", Count: len(recs), Err: err}
	}
	p.logger().LogAttrs(ctx, slog.LevelInfo, "published challenge records",
		slog.String("provider", g.Provider), slog.String("zone", g.Zone),
		slog.Int("records", len(recs)), slog.Duration("took", time.Since(start)))
	for _, r := range g.Records {
		p.logger().LogAttrs(ctx, slog.LevelDebug, "published record",
			slog.String("name", r.Name), slog.String("value", r.Value))
	}
	return nil
}

// Cleanup deletes exactly the given values, one call per zone, on a context
// that survives the cancellation of ctx, and drops each zone's records from
// the journal once its call succeeded. Values that are already gone count
// as removed.
func (p *Publisher) Cleanup(ctx context.Context, records []Record) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CleanupTimeout)
	defer cancel()
	plan := &Plan{Records: records}
	groups := plan.Groups()
	errs := make([]error, len(groups))
	var wg sync.WaitGroup
	for i, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.delete(ctx, g)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (p *Publisher) delete(ctx context.Context, g Group) error {
	provider, ok := p.Providers[g.Provider]
	if !ok {
		return fmt.Errorf("cannot remove %d records from zone %s: provider %q is not configured in this run; set its variables and run dnscert cleanup", len(g.Records), g.Zone, g.Provider)
	}
	recs, err := p.libdnsRecords(g)
	if err != nil {
		return err
	}
	p.countCall()
	if _, err := provider.DeleteRecords(ctx, g.Zone, recs); err != nil {
		p.logger().LogAttrs(ctx, slog.LevelError, "removing challenge records failed; they stay in the journal for the next run or dnscert cleanup",
			slog.String("provider", g.Provider), slog.String("zone", g.Zone), slog.Any("error", err))
		return &ProviderError{Provider: g.Provider, Zone: g.Zone, Op: "removing", Count: len(recs), Err: err}
	}
	p.logger().LogAttrs(ctx, slog.LevelInfo, "removed challenge records",
		slog.String("provider", g.Provider), slog.String("zone", g.Zone), slog.Int("records", len(recs)))
	if p.Journal != nil {
		return p.Journal.Remove(g.Records)
	}
	return nil
}

func (p *Publisher) libdnsRecords(g Group) ([]libdns.Record, error) {
	ttl := p.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	recs := make([]libdns.Record, 0, len(g.Records))
	for _, r := range g.Records {
		rel, err := RelativeName(r.Name, g.Zone)
		if err != nil {
			return nil, err
		}
		recs = append(recs, libdns.TXT{Name: rel, TTL: ttl, Text: r.Value})
	}
	return recs, nil
}

// ProviderError reports a failed provider call with the provider and zone.
type ProviderError struct {
	Provider string
	Zone     string
	Op       string // "adding" or "removing"
	Count    int
	Err      error
}

func (e *ProviderError) Error() string {
	return fmt.Sprintf("provider %s: %s %d TXT records in zone %s: %v", e.Provider, e.Op, e.Count, e.Zone, e.Err)
}

func (e *ProviderError) Unwrap() error { return e.Err }

// RecoverStale removes the records listed in journals left by runs that
// ended without cleaning up, using providers built by providerFor. Journals
// whose records are all removed are deleted; the others stay for the next
// attempt. It returns the number of records removed.
func RecoverStale(ctx context.Context, dir string, providerFor func(name string) (Provider, error), logger *slog.Logger) (int, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	stale, err := FindStale(dir)
	if err != nil {
		return 0, err
	}
	removed := 0
	var errs []error
	for _, j := range stale {
		records := j.Records()
		providers := make(map[string]Provider)
		for _, r := range records {
			if _, ok := providers[r.Provider]; ok {
				continue
			}
			p, err := providerFor(r.Provider)
			if err != nil {
				errs = append(errs, fmt.Errorf("journal %s: %w", j.Path(), err))
				continue
			}
			providers[r.Provider] = p
		}
		logger.LogAttrs(ctx, slog.LevelInfo, "removing records left by an earlier run",
			slog.String("journal", j.Path()), slog.Int("pid", j.PID),
			slog.Time("started", j.Started), slog.Int("records", len(records)))
		pub := &Publisher{Providers: providers, Journal: &j.Journal, Logger: logger}
		if err := pub.Cleanup(ctx, records); err != nil {
			errs = append(errs, err)
		}
		removed += len(records) - len(j.Records())
		if err := j.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return removed, errors.Join(errs...)
}
