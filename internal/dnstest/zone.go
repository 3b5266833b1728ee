package dnstest

import (
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// defaultTTL applies to zone-file records without a TTL and without a $TTL
// directive.
const defaultTTL = 300

// zone is the data of one hosted zone. Methods do no locking: the Server
// guards every zone with its mutex.
type zone struct {
	// origin is the apex in canonical form (lower case, fully qualified).
	origin string
	// nodes maps a canonical owner name to its records, kept in the order
	// they were added.
	nodes map[string][]dns.RR
}

// parseZone parses zone-file text with $ORIGIN origin and checks that the
// result is a zone: exactly one SOA, at the apex, and only records of class
// IN at or below the apex.
func parseZone(origin, text string) (*zone, error) {
	if _, ok := dns.IsDomainName(origin); !ok || origin == "" {
		return nil, fmt.Errorf("invalid zone origin %q: use a domain name such as example.test.", origin)
	}
	z := &zone{origin: dns.CanonicalName(origin), nodes: make(map[string][]dns.RR)}

	zp := dns.NewZoneParser(strings.NewReader(text), z.origin, "")
	zp.SetDefaultTTL(defaultTTL)
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		hdr := rr.Header()
		if !dns.IsSubDomain(z.origin, hdr.Name) {
			return nil, fmt.Errorf("record %q is outside zone %s: remove it or host it in its own zone", rr.String(), z.origin)
		}
		if hdr.Class != dns.ClassINET {
			return nil, fmt.Errorf("record %q in zone %s has class %s: only class IN is served", rr.String(), z.origin, dns.ClassToString[hdr.Class])
		}
		if hdr.Rrtype == dns.TypeSOA && dns.CanonicalName(hdr.Name) != z.origin {
			return nil, fmt.Errorf("SOA record %q is not at the apex of zone %s", rr.String(), z.origin)
		}
		z.add(rr)
	}
	if err := zp.Err(); err != nil {
		return nil, fmt.Errorf("parse zone %s: %w", z.origin, err)
	}
	if n := len(z.rrset(z.origin, dns.TypeSOA)); n != 1 {
		return nil, fmt.Errorf("zone %s has %d SOA records at its apex: it needs exactly one", z.origin, n)
	}
	return z, nil
}

// clone returns a deep copy of z.
func (z *zone) clone() *zone {
	c := &zone{origin: z.origin, nodes: make(map[string][]dns.RR, len(z.nodes))}
	for name, rrs := range z.nodes {
		c.nodes[name] = copyRRs(rrs)
	}
	return c
}

// add stores a copy of rr and reports whether the zone changed. A record
// whose data equals a stored one replaces it only when the TTL differs.
func (z *zone) add(rr dns.RR) bool {
	rr = dns.Copy(rr)
	rr.Header().Class = dns.ClassINET
	key := dns.CanonicalName(rr.Header().Name)
	node := z.nodes[key]
	for i, old := range node {
		if dns.IsDuplicate(old, rr) {
			if old.Header().Ttl == rr.Header().Ttl {
				return false
			}
			node[i] = rr
			return true
		}
	}
	z.nodes[key] = append(node, rr)
	return true
}

// remove deletes the records at name for which drop returns true and
// reports how many it deleted.
func (z *zone) remove(name string, drop func(dns.RR) bool) int {
	key := dns.CanonicalName(name)
	node := z.nodes[key]
	kept := node[:0:0]
	for _, rr := range node {
		if !drop(rr) {
			kept = append(kept, rr)
		}
	}
	if len(kept) == 0 {
		delete(z.nodes, key)
	} else {
		z.nodes[key] = kept
	}
	return len(node) - len(kept)
}

// rrset returns the stored records of type t at name without copying them.
// Type ANY selects every record.
func (z *zone) rrset(name string, t uint16) []dns.RR {
	var out []dns.RR
	for _, rr := range z.nodes[dns.CanonicalName(name)] {
		if t == dns.TypeANY || rr.Header().Rrtype == t {
			out = append(out, rr)
		}
	}
	return out
}

// hasDescendants reports whether a record exists strictly below name, which
// makes a name without records an empty non-terminal rather than
// nonexistent (RFC 8020).
func (z *zone) hasDescendants(name string) bool {
	name = dns.CanonicalName(name)
	for owner := range z.nodes {
		if owner != name && dns.IsSubDomain(name, owner) {
			return true
		}
	}
	return false
}

// delegation returns the NS records of the highest zone cut between the
// apex (exclusive) and name (inclusive), or nil when name is not delegated.
// A DS query at the cut itself is answered by the parent (RFC 4035),
// so it is not a delegation.
func (z *zone) delegation(name string, qtype uint16) []dns.RR {
	name = dns.CanonicalName(name)
	labels := dns.Split(name)
	apexLabels := dns.CountLabel(z.origin)
	// name[labels[i]:] has len(labels)-i labels. Walk from the label just
	// below the apex down to name itself.
	for i := len(labels) - apexLabels - 1; i >= 0; i-- {
		ancestor := name[labels[i]:]
		if i == 0 && qtype == dns.TypeDS {
			break
		}
		if ns := z.rrset(ancestor, dns.TypeNS); len(ns) > 0 {
			return ns
		}
	}
	return nil
}

// glue returns copies of the A and AAAA records the zone holds for the
// targets of ns (RFC 1034).
func (z *zone) glue(ns []dns.RR) []dns.RR {
	var out []dns.RR
	for _, rr := range ns {
		target := rr.(*dns.NS).Ns
		if !dns.IsSubDomain(z.origin, target) {
			continue
		}
		out = append(out, copyRRs(z.rrset(target, dns.TypeA))...)
		out = append(out, copyRRs(z.rrset(target, dns.TypeAAAA))...)
	}
	return out
}

// soa returns the stored apex SOA record.
func (z *zone) soa() *dns.SOA {
	return z.rrset(z.origin, dns.TypeSOA)[0].(*dns.SOA)
}

// negativeSOA returns the SOA record for the authority section of a
// negative answer, with the TTL set to min(SOA TTL, MINIMUM) (RFC 2308).
func (z *zone) negativeSOA() dns.RR {
	soa := dns.Copy(z.soa()).(*dns.SOA)
	soa.Hdr.Ttl = min(soa.Hdr.Ttl, soa.Minttl)
	return soa
}

// setSerial replaces the SOA serial.
func (z *zone) setSerial(serial uint32) {
	z.soa().Serial = serial
}

func copyRRs(rrs []dns.RR) []dns.RR {
	if rrs == nil {
		return nil
	}
	out := make([]dns.RR, len(rrs))
	for i, rr := range rrs {
		out[i] = dns.Copy(rr)
	}
	return out
}

// serialNewer reports whether serial a is newer than b in RFC 1982 serial
// number arithmetic.
func serialNewer(a, b uint32) bool {
	return a != b && int32(a-b) > 0
}
