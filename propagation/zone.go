package propagation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// MaxCNAMEs is the longest alias chain Resolve follows from a challenge name.
const MaxCNAMEs = 8

// maxReferrals bounds the delegations followed below an enclosing zone.
const maxReferrals = 10

// Nameserver is one authoritative server of a zone.
type Nameserver struct {
	Name  string       // host name from the NS record, with trailing dot
	Addrs []netip.Addr // every address that will be queried
}

// Zone is a DNS zone and its authoritative nameservers.
type Zone struct {
	Name        string // apex, lower case with trailing dot
	Nameservers []Nameserver
}

// Target is the final owner name and zone of a challenge record.
type Target struct {
	Name  string   // final owner name after following CNAMEs, lower case, trailing dot
	Zone  Zone     // zone that holds Name
	Chain []string // aliases followed, starting with the requested name; empty without CNAMEs
}

// Resolve finds where the TXT record for name must live: it follows CNAMEs
// from name on the authoritative servers, with loop and depth limits, and
// returns the final name and its zone.
//
// The enclosing zone is found by an SOA walk through the bootstrap resolvers.
// The walk starts at the parent of each name, never at the name itself, so
// the challenge name never enters a shared resolver's negative cache before
// it is published (RFC 2308). From there, referrals are followed downwards on
// the authoritative servers, so a delegated _acme-challenge or acme-dns zone
// is found too.
func (c *Client) Resolve(ctx context.Context, name string) (Target, error) {
	name = canonical(name)
	target := Target{Name: name}
	seen := map[string]bool{name: true}
	for {
		zone, alias, err := c.locate(ctx, target.Name)
		if err != nil {
			return Target{}, err
		}
		if alias == "" {
			target.Zone = zone
			return target, nil
		}
		if len(target.Chain) == 0 {
			target.Chain = append(target.Chain, name)
		}
		target.Chain = append(target.Chain, alias)
		if seen[alias] {
			return Target{}, fmt.Errorf("CNAME loop at %s: %s", name, strings.Join(target.Chain, " -> "))
		}
		if len(target.Chain) > MaxCNAMEs {
			return Target{}, fmt.Errorf("more than %d CNAMEs from %s: %s", MaxCNAMEs, name, strings.Join(target.Chain, " -> "))
		}
		seen[alias] = true
		c.logger().LogAttrs(ctx, slog.LevelInfo, "following CNAME",
			slog.String("from", target.Name), slog.String("to", alias), slog.String("zone", zone.Name))
		target.Name = alias
	}
}

// locate finds the zone that holds name and, when name is an alias, the
// CNAME target.
func (c *Client) locate(ctx context.Context, name string) (Zone, string, error) {
	apex, err := c.enclosingZone(ctx, parentName(name))
	if err != nil {
		return Zone{}, "", fmt.Errorf("finding the zone of %s: %w", name, err)
	}
	zone, err := c.Nameservers(ctx, apex)
	if err != nil {
		return Zone{}, "", err
	}
	for range maxReferrals {
		r, err := c.askZone(ctx, zone, name, dns.TypeTXT)
		if err != nil {
			return Zone{}, "", err
		}
		if child, ok := referral(r, zone.Name, name); ok {
			c.logger().LogAttrs(ctx, slog.LevelDebug, "following delegation",
				slog.String("name", name), slog.String("from", zone.Name), slog.String("to", child.Name))
			if zone, err = c.completeDelegation(ctx, child, r); err != nil {
				return Zone{}, "", err
			}
			continue
		}
		for _, rr := range r.Answer {
			if cname, ok := rr.(*dns.CNAME); ok && strings.EqualFold(cname.Hdr.Name, name) {
				return zone, canonical(cname.Target), nil
			}
		}
		c.warnNegativeTTL(ctx, zone, name, r)
		return zone, "", nil
	}
	return Zone{}, "", fmt.Errorf("more than %d delegations below %s while looking for %s", maxReferrals, apex, name)
}

// LongNegativeTTL is the negative caching time above which a warning is
// logged: a resolver that looked the name up before the record existed can
// keep answering NXDOMAIN for that long (RFC 2308 section 5).
const LongNegativeTTL = 300 * time.Second

// warnNegativeTTL logs when the negative answer for name may be cached
// for long.
func (c *Client) warnNegativeTTL(ctx context.Context, zone Zone, name string, r *dns.Msg) {
	if len(r.Answer) > 0 {
		return
	}
	for _, rr := range r.Ns {
		soa, ok := rr.(*dns.SOA)
		if !ok {
			continue
		}
		ttl := time.Duration(min(soa.Hdr.Ttl, soa.Minttl)) * time.Second
		if ttl > LongNegativeTTL {
			c.logger().LogAttrs(ctx, slog.LevelWarn, "the zone lets resolvers cache negative answers for long; a resolver that asked for the record before it existed may miss it until then",
				slog.String("name", name), slog.String("zone", zone.Name), slog.Duration("negative_ttl", ttl))
		}
	}
}

// enclosingZone walks from name towards the root and returns the first
// name that owns an SOA record. A candidate whose answer is a CNAME is
// skipped: asking a resolver for the SOA of an alias returns the SOA of the
// alias target's zone, which is not the zone of the name.
func (c *Client) enclosingZone(ctx context.Context, name string) (string, error) {
	for cand := name; cand != "."; cand = parentName(cand) {
		r, err := c.recursive(ctx, cand, dns.TypeSOA)
		if err != nil {
			return "", err
		}
		if ownsCNAME(r.Answer, cand) {
			continue
		}
		for _, rr := range r.Answer {
			if soa, ok := rr.(*dns.SOA); ok && strings.EqualFold(soa.Hdr.Name, cand) {
				return canonical(cand), nil
			}
		}
		// A negative answer carries the SOA of the zone that would hold the
		// name (RFC 2308 section 2), which saves walking every label.
		for _, rr := range r.Ns {
			if soa, ok := rr.(*dns.SOA); ok && dns.IsSubDomain(soa.Hdr.Name, cand) && len(r.Answer) == 0 {
				return canonical(soa.Hdr.Name), nil
			}
		}
	}
	return "", fmt.Errorf("no zone found above %s; check that the domain is delegated and that the resolver can reach it", name)
}

// Nameservers returns the zone with the union of the NS sets that the
// bootstrap resolvers and the zone's own servers return, and every
// address of those names. The SOA MNAME is ignored unless it is in that set,
// because a hidden primary is not what the CA asks.
//
// Results are kept for the life of the Client, so a certificate with many
// names in one zone looks the zone up once.
func (c *Client) Nameservers(ctx context.Context, apex string) (Zone, error) {
	apex = canonical(apex)
	c.zonesMu.Lock()
	zone, ok := c.zones[apex]
	c.zonesMu.Unlock()
	if ok {
		return zone, nil
	}
	v, err, _ := c.zoneLookups.Do(apex, func() (any, error) {
		zone, err := c.lookupNameservers(ctx, apex)
		if err != nil {
			return Zone{}, err
		}
		c.zonesMu.Lock()
		if c.zones == nil {
			c.zones = make(map[string]Zone)
		}
		c.zones[apex] = zone
		c.zonesMu.Unlock()
		return zone, nil
	})
	if err != nil {
		return Zone{}, err
	}
	return v.(Zone), nil
}

func (c *Client) lookupNameservers(ctx context.Context, apex string) (Zone, error) {
	r, err := c.recursive(ctx, apex, dns.TypeNS)
	if err != nil {
		return Zone{}, err
	}
	names := nsNames(r.Answer, apex)
	if len(names) == 0 {
		return Zone{}, fmt.Errorf("zone %s has no NS records at the resolver (rcode %s)", apex, dns.RcodeToString[r.Rcode])
	}
	zone := Zone{Name: apex}
	if err := c.addNameservers(ctx, &zone, names, nil); err != nil {
		return Zone{}, err
	}
	c.addApexNameservers(ctx, &zone)
	return zone, nil
}

// completeDelegation builds the child zone of a referral: the NS names from
// the parent's side, addresses from glue or the resolvers, and then any
// further NS names the child's own servers list at its apex.
func (c *Client) completeDelegation(ctx context.Context, child Zone, r *dns.Msg) (Zone, error) {
	names := make([]string, 0, len(child.Nameservers))
	for _, ns := range child.Nameservers {
		names = append(names, ns.Name)
	}
	zone := Zone{Name: child.Name}
	if err := c.addNameservers(ctx, &zone, names, r.Extra); err != nil {
		return Zone{}, err
	}
	c.addApexNameservers(ctx, &zone)
	return zone, nil
}

// addApexNameservers adds the NS names that the zone's own servers list at
// the apex. The parent's delegation and the child's apex may differ, and a
// CA's resolver can use either.
func (c *Client) addApexNameservers(ctx context.Context, zone *Zone) {
	r, err := c.askZone(ctx, *zone, zone.Name, dns.TypeNS)
	if err != nil || !r.Authoritative {
		return
	}
	var extra []string
	for _, name := range nsNames(r.Answer, zone.Name) {
		if !zone.has(name) {
			extra = append(extra, name)
		}
	}
	if len(extra) == 0 {
		return
	}
	if err := c.addNameservers(ctx, zone, extra, r.Extra); err != nil {
		c.logger().LogAttrs(ctx, slog.LevelWarn, "nameserver listed at the zone apex has no usable address",
			slog.String("zone", zone.Name), slog.Any("error", err))
	}
}

// addNameservers resolves names (using glue first) and appends them to
// zone. It fails only when no name of the zone has an address.
func (c *Client) addNameservers(ctx context.Context, zone *Zone, names []string, glue []dns.RR) error {
	var errs []error
	for _, name := range names {
		addrs := addrsFromRRs(glue, name)
		if !c.useIPv6() {
			addrs = slices.DeleteFunc(addrs, func(a netip.Addr) bool { return a.Is6() })
		}
		if len(addrs) == 0 {
			var err error
			if addrs, err = c.lookupAddrs(ctx, name); err != nil {
				errs = append(errs, fmt.Errorf("nameserver %s of %s: %w", name, zone.Name, err))
				continue
			}
		}
		zone.Nameservers = append(zone.Nameservers, Nameserver{Name: canonical(name), Addrs: addrs})
	}
	if len(zone.Nameservers) == 0 {
		return fmt.Errorf("no nameserver of zone %s has a usable address: %w", zone.Name, errors.Join(errs...))
	}
	if len(errs) > 0 {
		c.logger().LogAttrs(ctx, slog.LevelWarn, "skipping nameservers without an address",
			slog.String("zone", zone.Name), slog.Any("error", errors.Join(errs...)))
	}
	return nil
}

// askZone asks the zone's servers in turn, with RD=0, and returns the first
// answer that is authoritative or a referral. Lame, refusing and silent
// servers are skipped and named in the error when none answers.
func (c *Client) askZone(ctx context.Context, zone Zone, name string, qtype uint16) (*dns.Msg, error) {
	var errs []error
	for _, ns := range zone.Nameservers {
		for _, ip := range ns.Addrs {
			addr := c.serverAddr(ip)
			r, err := c.exchange(ctx, c.newQuery(name, qtype, false), addr)
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				errs = append(errs, fmt.Errorf("%s (%s): %w", ns.Name, addr, err))
				continue
			}
			_, isReferral := referral(r, zone.Name, name)
			usable := r.Rcode == dns.RcodeSuccess || r.Rcode == dns.RcodeNameError
			if usable && (r.Authoritative || isReferral) {
				return r, nil
			}
			errs = append(errs, fmt.Errorf("%s (%s): %s", ns.Name, addr, describeAnswer(r)))
		}
	}
	return nil, fmt.Errorf("no nameserver of zone %s answered for %s: %w", zone.Name, name, errors.Join(errs...))
}

// referral reports whether r delegates name to a zone below current, and
// returns that zone with its NS names.
func referral(r *dns.Msg, current, name string) (Zone, bool) {
	if r.Authoritative || r.Rcode != dns.RcodeSuccess || len(r.Answer) > 0 {
		return Zone{}, false
	}
	var child Zone
	for _, rr := range r.Ns {
		ns, ok := rr.(*dns.NS)
		if !ok {
			continue
		}
		owner := canonical(ns.Hdr.Name)
		if owner == canonical(current) || !dns.IsSubDomain(current, owner) || !dns.IsSubDomain(owner, name) {
			continue
		}
		if child.Name != "" && child.Name != owner {
			continue
		}
		child.Name = owner
		if !child.has(ns.Ns) {
			child.Nameservers = append(child.Nameservers, Nameserver{Name: canonical(ns.Ns)})
		}
	}
	return child, child.Name != ""
}

func describeAnswer(r *dns.Msg) string {
	switch {
	case r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError:
		return dns.RcodeToString[r.Rcode]
	case !r.Authoritative:
		return "not authoritative (AA=0): a lame delegation"
	case r.Rcode == dns.RcodeNameError:
		return "NXDOMAIN"
	default:
		return "NOERROR"
	}
}

func (z Zone) has(name string) bool {
	for _, ns := range z.Nameservers {
		if strings.EqualFold(ns.Name, canonical(name)) {
			return true
		}
	}
	return false
}

func nsNames(rrs []dns.RR, owner string) []string {
	var names []string
	for _, rr := range rrs {
		if ns, ok := rr.(*dns.NS); ok && strings.EqualFold(ns.Hdr.Name, owner) {
			names = append(names, canonical(ns.Ns))
		}
	}
	return names
}

func ownsCNAME(rrs []dns.RR, owner string) bool {
	for _, rr := range rrs {
		if _, ok := rr.(*dns.CNAME); ok && strings.EqualFold(rr.Header().Name, owner) {
			return true
		}
	}
	return false
}

// canonical returns name in lower case with a trailing dot.
func canonical(name string) string {
	return strings.ToLower(dns.Fqdn(name))
}

// parentName strips the leftmost label; the parent of a top-level name is ".".
func parentName(name string) string {
	name = dns.Fqdn(name)
	if name == "." {
		return "."
	}
	if i, end := dns.NextLabel(name, 0); !end {
		return name[i:]
	}
	return "."
}
