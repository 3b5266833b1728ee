package dns01

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/libdns/libdns"
	"github.com/miekg/dns"
	"golang.org/x/sync/errgroup"

	"github.com/dnscert/dnscert/propagation"
)

// Provider is the part of a DNS provider that dnscert uses: adding values
// without touching others, and deleting exact values.
type Provider interface {
	libdns.RecordAppender
	libdns.RecordDeleter
}

// Challenge is one dns-01 challenge of an authorization.
type Challenge struct {
	Domain string // certificate name as requested, "*.example.com" for a wildcard
	Value  string // TXT value, see TXTValue
}

// Record is one TXT value that a provider publishes in one zone.
type Record struct {
	Provider  string `json:"provider"`
	Zone      string `json:"zone"`      // apex, lower case with trailing dot
	Name      string `json:"name"`      // owner, lower case with trailing dot
	Value     string `json:"value"`     // TXT value
	Challenge string `json:"challenge"` // _acme-challenge name the record is for
}

// Group is the set of records one provider call publishes.
type Group struct {
	Provider string
	Zone     string
	Records  []Record
}

// Plan is the zone and owner name of each challenge value, with the
// nameservers that must serve it.
type Plan struct {
	Records []Record
	zones   map[string]propagation.Zone // by apex
}

// Groups splits the plan by provider and zone, in a stable order.
func (p *Plan) Groups() []Group {
	index := make(map[string]int)
	var groups []Group
	for _, r := range p.Records {
		key := r.Provider + "|" + r.Zone
		i, ok := index[key]
		if !ok {
			i = len(groups)
			index[key] = i
			groups = append(groups, Group{Provider: r.Provider, Zone: r.Zone})
		}
		groups[i].Records = append(groups[i].Records, r)
	}
	return groups
}

// Planner decides where each challenge record lives.
type Planner struct {
	// DNS finds zones and follows CNAMEs on the authoritative servers.
	DNS *propagation.Client
	// ProviderFor returns the provider name for a certificate name.
	ProviderFor func(domain string) string
	// Providers by name, for the zone-list fallback.
	Providers map[string]Provider
	// Zone, when set, is used for every record instead of the zone found in
	// DNS. It must contain each record's final name.
	Zone   string
	Logger *slog.Logger
}

func (pl *Planner) logger() *slog.Logger {
	if pl.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return pl.Logger
}

// Plan resolves every challenge name (CNAMEs included), finds its zone and
// returns the records for the challenges. It is Locate followed by
// Targets.Plan.
func (pl *Planner) Plan(ctx context.Context, challenges []Challenge) (*Plan, error) {
	domains := make([]string, 0, len(challenges))
	for _, ch := range challenges {
		domains = append(domains, ch.Domain)
	}
	targets, err := pl.Locate(ctx, domains)
	if err != nil {
		return nil, err
	}
	return targets.Plan(challenges)
}

// target is the provider and location of one challenge name's record.
type target struct {
	provider string
	result   propagation.Target
}

// Targets are the located challenge names of a certificate's domains.
type Targets struct {
	byName map[string]*target
	zones  map[string]propagation.Zone
}

// Locate resolves the challenge name of every domain (CNAMEs included) and
// finds the zone and nameservers of each record, without needing the
// record values. Running it before the ACME order is created means a DNS
// setup that cannot work fails before the CA hands out authorizations.
func (pl *Planner) Locate(ctx context.Context, domains []string) (*Targets, error) {
	logger := pl.logger()
	byName := make(map[string]*target)
	var order []string
	for _, domain := range domains {
		name := ChallengeName(domain)
		provider := pl.ProviderFor(domain)
		if t, ok := byName[name]; ok {
			if t.provider != provider {
				return nil, fmt.Errorf("%s and another name share the record %s but are assigned different providers (%s and %s); assign them the same provider", domain, name, t.provider, provider)
			}
			continue
		}
		byName[name] = &target{provider: provider}
		order = append(order, name)
	}

	var mu sync.Mutex
	zones := make(map[string]propagation.Zone)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, name := range order {
		t := byName[name]
		g.Go(func() error {
			res, err := pl.locate(gctx, name, t.provider)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			t.result = res
			zones[res.Zone.Name] = res.Zone
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, name := range order {
		t := byName[name]
		attrs := []slog.Attr{
			slog.String("challenge", name), slog.String("zone", t.result.Zone.Name),
			slog.String("provider", t.provider), slog.String("nameservers", nameserverList(t.result.Zone)),
		}
		if len(t.result.Chain) > 0 {
			attrs = append(attrs, slog.String("cname_chain", strings.Join(t.result.Chain, " -> ")))
		}
		logger.LogAttrs(ctx, slog.LevelInfo, "planned challenge record", attrs...)
	}
	return &Targets{byName: byName, zones: zones}, nil
}

// Plan returns the records of the challenges. Challenges sharing a name,
// such as an apex and its wildcard, become records with the same name and
// different values. Every challenge's domain must have been located.
func (t *Targets) Plan(challenges []Challenge) (*Plan, error) {
	plan := &Plan{zones: t.zones}
	for _, ch := range challenges {
		name := ChallengeName(ch.Domain)
		tg, ok := t.byName[name]
		if !ok {
			return nil, fmt.Errorf("the CA asked for a challenge at %s, which is not among the requested names", name)
		}
		rec := Record{
			Provider:  tg.provider,
			Zone:      tg.result.Zone.Name,
			Name:      tg.result.Name,
			Value:     ch.Value,
			Challenge: name,
		}
		if !slices.Contains(plan.Records, rec) {
			plan.Records = append(plan.Records, rec)
		}
	}
	return plan, nil
}

// locate finds the final name and zone of a challenge record: from DNS,
// from the --zone setting, or from the provider's zone list when DNS cannot
// tell.
func (pl *Planner) locate(ctx context.Context, name, provider string) (propagation.Target, error) {
	res, err := pl.DNS.Resolve(ctx, name)
	if pl.Zone != "" {
		zone := canonical(pl.Zone)
		final := name
		if err == nil {
			final = res.Name
		}
		if !dns.IsSubDomain(zone, final) {
			return propagation.Target{}, &ZoneOptionError{Zone: zone, Msg: fmt.Sprintf("the record %s is not inside it; drop --zone or give the zone that holds the record", final)}
		}
		if err == nil && res.Zone.Name == zone {
			return res, nil
		}
		if err == nil && dns.IsSubDomain(zone, res.Zone.Name) {
			// Records written into the parent of a delegated zone are
			// never served: resolvers follow the delegation.
			return propagation.Target{}, &ZoneOptionError{Zone: zone, Msg: fmt.Sprintf("the record %s belongs to the zone %s, which is delegated below it, so a record written to %s would never be served; drop --zone", final, res.Zone.Name, zone)}
		}
		z, zerr := pl.DNS.Nameservers(ctx, zone)
		if zerr != nil {
			return propagation.Target{}, fmt.Errorf("zone %s given by --zone: %w", zone, zerr)
		}
		return propagation.Target{Name: final, Zone: z, Chain: res.Chain}, nil
	}
	if err == nil {
		return res, nil
	}
	zone, lerr := pl.zoneFromProvider(ctx, name, provider)
	if lerr != nil {
		return propagation.Target{}, errors.Join(err, lerr)
	}
	pl.logger().LogAttrs(ctx, slog.LevelWarn, "zone not found in DNS, using the provider's zone list",
		slog.String("challenge", name), slog.String("zone", zone), slog.Any("dns_error", err))
	z, zerr := pl.DNS.Nameservers(ctx, zone)
	if zerr != nil {
		return propagation.Target{}, errors.Join(err, zerr)
	}
	return propagation.Target{Name: name, Zone: z}, nil
}

// ZoneOptionError reports a --zone setting that cannot hold a record. It is
// found before any change is made, so the fix is to the command line.
type ZoneOptionError struct {
	Zone string
	Msg  string
}

func (e *ZoneOptionError) Error() string {
	return fmt.Sprintf("invalid --zone %s: %s", e.Zone, e.Msg)
}

// zoneFromProvider picks the longest zone of the provider's list that
// contains name.
func (pl *Planner) zoneFromProvider(ctx context.Context, name, provider string) (string, error) {
	lister, ok := pl.Providers[provider].(libdns.ZoneLister)
	if !ok {
		return "", fmt.Errorf("provider %s cannot list its zones; give the zone with --zone", provider)
	}
	zones, err := lister.ListZones(ctx)
	if err != nil {
		return "", fmt.Errorf("listing the zones of provider %s: %w", provider, err)
	}
	var names []string
	for _, z := range zones {
		names = append(names, zoneASCII(z.Name))
	}
	sort.Slice(names, func(i, j int) bool { return dns.CountLabel(names[i]) > dns.CountLabel(names[j]) })
	for _, z := range names {
		if dns.IsSubDomain(z, name) {
			return z, nil
		}
	}
	return "", fmt.Errorf("provider %s has no zone containing %s (zones: %s)", provider, name, strings.Join(names, ", "))
}

// zoneASCII returns a zone name as the provider lists it in the form used
// for comparison: A-labels, lower case, trailing dot. Some APIs list
// internationalized zones by their U-labels.
func zoneASCII(name string) string {
	ascii, err := idnaProfile.ToASCII(strings.TrimSuffix(name, "."))
	if err != nil {
		return canonical(name)
	}
	return canonical(ascii)
}

// Expectations returns what the propagation check must see: every value of
// each record name, on every nameserver of its zone.
func (p *Plan) Expectations() []propagation.Record {
	index := make(map[string]int)
	var out []propagation.Record
	for _, r := range p.Records {
		i, ok := index[r.Name]
		if !ok {
			i = len(out)
			index[r.Name] = i
			out = append(out, propagation.Record{Name: r.Name, Zone: p.zones[r.Zone]})
		}
		out[i].Values = append(out[i].Values, r.Value)
	}
	return out
}

func nameserverList(z propagation.Zone) string {
	var parts []string
	for _, ns := range z.Nameservers {
		var addrs []string
		for _, a := range ns.Addrs {
			addrs = append(addrs, a.String())
		}
		parts = append(parts, ns.Name+" ("+strings.Join(addrs, ", ")+")")
	}
	return strings.Join(parts, ", ")
}

// canonical returns name in lower case with a trailing dot.
func canonical(name string) string {
	return strings.ToLower(dns.Fqdn(name))
}

// RelativeName returns name relative to zone as libdns expects it: "@" for
// the apex, otherwise the labels left of the zone. It matches whole labels,
// so "xexample.com." is never treated as inside "example.com.".
func RelativeName(name, zone string) (string, error) {
	name, zone = canonical(name), canonical(zone)
	if name == zone {
		return "@", nil
	}
	if !dns.IsSubDomain(zone, name) {
		return "", fmt.Errorf("%s is not inside zone %s", name, zone)
	}
	return strings.TrimSuffix(name, "."+zone), nil
}
