package dnstest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/miekg/dns"
)

const (
	// maxReferrals bounds the referrals followed for one name.
	maxReferrals = 16
	// maxNSDepth bounds nested resolutions of name server names that came
	// without glue, which also ends circular delegations.
	maxNSDepth = 4
	// maxUpstreamQueries bounds the queries one client query can cause.
	maxUpstreamQueries = 100
)

// resolution is the state of resolving one client query.
type resolution struct {
	r       *Resolver
	queries int
}

// referral is the next zone to ask and the addresses of its name servers.
type referral struct {
	zone    string
	servers []string
}

type responseKind int

const (
	responseUnusable responseKind = iota // lame or failed: try another server
	responseFinal                        // answer, NXDOMAIN or NODATA
	responseReferral
)

// resolve resolves name and qtype, following CNAME chains across zones.
// depth counts the nested resolutions of glueless name server names.
func (res *resolution) resolve(ctx context.Context, name string, qtype uint16, depth int) (*dns.Msg, error) {
	out := new(dns.Msg)
	current := name
	seen := map[string]bool{dns.CanonicalName(name): true}
	cnames := 0
	for {
		resp, err := res.iterate(ctx, current, qtype, depth)
		if err != nil {
			return nil, err
		}

		// An authoritative server may have followed CNAMEs inside its zone
		// already, so walk the answer section name by name.
		start := current
		for {
			if rrs := recordsAt(resp.Answer, current, qtype); len(rrs) > 0 {
				out.Answer = append(out.Answer, rrs...)
				return out, nil
			}
			cname := cnameAt(resp.Answer, current)
			if cname == nil {
				break
			}
			out.Answer = append(out.Answer, cname)
			cnames++
			if cnames > maxCNAMEChain {
				return nil, fmt.Errorf("resolve %s: cname chain longer than %d records", name, maxCNAMEChain)
			}
			target := dns.CanonicalName(cname.Target)
			if seen[target] {
				return nil, fmt.Errorf("resolve %s: cname loop at %s", name, cname.Target)
			}
			seen[target] = true
			current = cname.Target
		}

		// The negative part of the response applies to the last name of
		// the chain when the server answered for that name's zone
		// (RFC 6604). Otherwise the chain left the zone, and resolution
		// restarts from the roots with the CNAME target.
		soa := soaIn(resp.Ns)
		if current == start || (soa != nil && dns.IsSubDomain(soa.Hdr.Name, current)) {
			out.Rcode = resp.Rcode
			if soa != nil {
				out.Ns = []dns.RR{soa}
			}
			return out, nil
		}
	}
}

// iterate asks the root servers for name and follows referrals until a
// server sends an answer, NXDOMAIN or NODATA.
func (res *resolution) iterate(ctx context.Context, name string, qtype uint16, depth int) (*dns.Msg, error) {
	zoneName := "."
	servers := res.r.roots
	for range maxReferrals {
		resp, next, err := res.queryZone(ctx, zoneName, servers, name, qtype, depth)
		if err != nil {
			return nil, err
		}
		if next == nil {
			return resp, nil
		}
		zoneName, servers = next.zone, next.servers
	}
	return nil, fmt.Errorf("resolve %s %s: more than %d referrals", name, dns.TypeToString[qtype], maxReferrals)
}

// queryZone asks the servers of zoneName in order until one sends a usable
// response, which is either final or a referral.
func (res *resolution) queryZone(ctx context.Context, zoneName string, servers []string, name string, qtype uint16, depth int) (*dns.Msg, *referral, error) {
	var errs []error
	for _, server := range servers {
		resp, err := res.exchange(ctx, server, name, qtype)
		if err != nil {
			res.r.logger.Debug("name server failed", "server", server, "zone", zoneName, "name", name, "error", err)
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		kind, cut := classify(resp, zoneName, name)
		switch kind {
		case responseFinal:
			return resp, nil, nil
		case responseReferral:
			next, err := res.followReferral(ctx, resp, cut, zoneName, depth)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			return nil, next, nil
		default:
			err := fmt.Errorf("name server %s sent an unusable response (rcode %s) for %s", server, dns.RcodeToString[resp.Rcode], name)
			res.r.logger.Debug("name server failed", "server", server, "zone", zoneName, "name", name, "error", err)
			errs = append(errs, err)
		}
	}
	return nil, nil, fmt.Errorf("all name servers of zone %s failed for %s %s: %w",
		zoneName, name, dns.TypeToString[qtype], errors.Join(errs...))
}

// classify sorts a response from a server of zoneName. A referral must
// delegate a zone strictly below zoneName that contains name; NS records
// pointing up or sideways make the server lame. The AA bit is not required,
// so answers from servers that fail to set it are still accepted.
func classify(resp *dns.Msg, zoneName, name string) (responseKind, string) {
	switch resp.Rcode {
	case dns.RcodeNameError:
		return responseFinal, ""
	case dns.RcodeSuccess:
	default:
		return responseUnusable, ""
	}
	if len(resp.Answer) > 0 {
		return responseFinal, ""
	}
	for _, rr := range resp.Ns {
		if rr.Header().Rrtype != dns.TypeNS {
			continue
		}
		owner := rr.Header().Name
		if dns.CountLabel(owner) > dns.CountLabel(zoneName) && dns.IsSubDomain(zoneName, owner) && dns.IsSubDomain(owner, name) {
			return responseReferral, owner
		}
	}
	if soaIn(resp.Ns) != nil || resp.Authoritative {
		return responseFinal, ""
	}
	return responseUnusable, ""
}

// followReferral returns the name server addresses of the delegated zone
// cut. Glue is used only for name servers inside zoneName, the zone of the
// server that sent it (the bailiwick rule, see RFC 2181). When no glue
// is usable, the name server names are resolved from the roots.
func (res *resolution) followReferral(ctx context.Context, resp *dns.Msg, cut, zoneName string, depth int) (*referral, error) {
	var nsNames []string
	for _, rr := range resp.Ns {
		if ns, ok := rr.(*dns.NS); ok && dns.CanonicalName(ns.Hdr.Name) == dns.CanonicalName(cut) {
			nsNames = append(nsNames, ns.Ns)
		}
	}

	var servers []string
	for _, ns := range nsNames {
		if dns.IsSubDomain(zoneName, ns) {
			servers = append(servers, res.addressesAt(resp.Extra, ns)...)
		}
	}
	if len(servers) > 0 {
		return &referral{zone: dns.CanonicalName(cut), servers: servers}, nil
	}

	if depth >= maxNSDepth {
		return nil, fmt.Errorf("name servers %v of zone %s need more than %d nested lookups", nsNames, cut, maxNSDepth)
	}
	var errs []error
	for _, ns := range nsNames {
		for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA} {
			msg, err := res.resolve(ctx, ns, qtype, depth+1)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			servers = append(servers, res.addressesAt(msg.Answer, ns)...)
		}
	}
	if len(servers) == 0 {
		return nil, fmt.Errorf("no address found for the name servers %v of zone %s: %w", nsNames, cut, errors.Join(errs...))
	}
	return &referral{zone: dns.CanonicalName(cut), servers: servers}, nil
}

// addressesAt returns host:port addresses built from the A and AAAA records
// of host in rrs and the resolver's name server port.
func (res *resolution) addressesAt(rrs []dns.RR, host string) []string {
	port := strconv.Itoa(res.r.port)
	var out []string
	for _, rr := range rrs {
		if !equalNames(rr.Header().Name, host) {
			continue
		}
		switch rr := rr.(type) {
		case *dns.A:
			out = append(out, net.JoinHostPort(rr.A.String(), port))
		case *dns.AAAA:
			out = append(out, net.JoinHostPort(rr.AAAA.String(), port))
		}
	}
	return out
}

// exchange sends one non-recursive query to server, over UDP first and over
// TCP when the UDP response is truncated.
func (res *resolution) exchange(ctx context.Context, server, name string, qtype uint16) (*dns.Msg, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("query %s %s to %s: %w", name, dns.TypeToString[qtype], server, err)
	}
	host, _, err := net.SplitHostPort(server)
	if err != nil {
		return nil, fmt.Errorf("invalid name server address %q: %w", server, err)
	}
	if err := checkLoopback(host); err != nil {
		return nil, fmt.Errorf("name server %s not contacted: %w", server, err)
	}
	res.queries++
	if res.queries > maxUpstreamQueries {
		return nil, fmt.Errorf("resolve %s %s: more than %d queries to name servers", name, dns.TypeToString[qtype], maxUpstreamQueries)
	}

	query := new(dns.Msg)
	query.SetQuestion(name, qtype)
	query.RecursionDesired = false
	query.SetEdns0(ednsUDPSize, false)

	resp, err := res.r.send(ctx, "udp", server, query)
	// A lost UDP datagram is repeated over TCP, as real resolvers retry:
	// bursts of parallel lookups can overflow a socket's receive buffer on
	// loopback, and one lost packet must not fail a whole resolution.
	if (err == nil && resp.Truncated) || (err != nil && ctx.Err() == nil) {
		resp, err = res.r.send(ctx, "tcp", server, query)
	}
	if err != nil {
		return nil, err
	}
	if len(resp.Question) != 1 || !equalNames(resp.Question[0].Name, name) || resp.Question[0].Qtype != qtype {
		return nil, fmt.Errorf("name server %s answered another question than %s %s", server, name, dns.TypeToString[qtype])
	}
	return resp, nil
}

// send performs one exchange with its own deadline.
func (r *Resolver) send(ctx context.Context, network, server string, query *dns.Msg) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, r.upstreamTimeout)
	defer cancel()
	client := dns.Client{Net: network, Timeout: r.upstreamTimeout}
	resp, _, err := client.ExchangeContext(ctx, query, server)
	if err != nil {
		q := query.Question[0]
		return nil, fmt.Errorf("query %s %s over %s to %s: %w", q.Name, dns.TypeToString[q.Qtype], network, server, err)
	}
	return resp, nil
}

// recordsAt returns the records of type qtype (any type for dns.TypeANY)
// owned by name.
func recordsAt(rrs []dns.RR, name string, qtype uint16) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		h := rr.Header()
		if equalNames(h.Name, name) && (qtype == dns.TypeANY || h.Rrtype == qtype) {
			out = append(out, rr)
		}
	}
	return out
}

func cnameAt(rrs []dns.RR, name string) *dns.CNAME {
	for _, rr := range rrs {
		if cname, ok := rr.(*dns.CNAME); ok && equalNames(cname.Hdr.Name, name) {
			return cname
		}
	}
	return nil
}

func soaIn(rrs []dns.RR) *dns.SOA {
	for _, rr := range rrs {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa
		}
	}
	return nil
}

// equalNames compares domain names case-insensitively (RFC 4343).
func equalNames(a, b string) bool {
	return dns.CanonicalName(a) == dns.CanonicalName(b)
}
