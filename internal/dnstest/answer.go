package dnstest

import (
	"github.com/miekg/dns"
)

// maxCNAMEChain bounds the CNAME records a Server adds to one answer and a
// Resolver follows for one query.
const maxCNAMEChain = 10

// answerQuery fills resp with the authoritative response to q, following
// RFC 1034 §4.3.2 without wildcards:
//   - a name outside every hosted zone gets REFUSED;
//   - a name at or below a zone cut gets a referral: AA=0, the NS records in
//     the authority section and their glue in the additional section;
//   - matching records are returned with AA=1 and the owner name written as
//     in the question;
//   - a CNAME is returned and followed while its target stays in the zone
//     and outside any zone cut;
//   - otherwise the response is NXDOMAIN, or NODATA for an existing name or
//     an empty non-terminal, with the zone SOA in the authority section.
func (s *Server) answerQuery(q dns.Question, resp *dns.Msg) {
	s.mu.RLock()
	defer s.mu.RUnlock()

	z := s.zoneFor(q.Name)
	if z == nil || (q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY) {
		resp.Rcode = dns.RcodeRefused
		return
	}
	if ns := z.delegation(q.Name, q.Qtype); ns != nil {
		resp.Ns = copyRRs(ns)
		resp.Extra = z.glue(ns)
		return
	}
	resp.Authoritative = true

	name := q.Name
	seen := map[string]bool{}
	for {
		seen[dns.CanonicalName(name)] = true
		node := z.rrset(name, dns.TypeANY)
		if len(node) == 0 {
			if !z.hasDescendants(name) {
				resp.Rcode = dns.RcodeNameError
			}
			resp.Ns = []dns.RR{z.negativeSOA()}
			return
		}
		if matches := z.rrset(name, q.Qtype); len(matches) > 0 {
			resp.Answer = append(resp.Answer, withOwner(matches, name)...)
			return
		}
		cnames := z.rrset(name, dns.TypeCNAME)
		if len(cnames) == 0 {
			resp.Ns = []dns.RR{z.negativeSOA()}
			return
		}
		resp.Answer = append(resp.Answer, withOwner(cnames[:1], name)...)

		// RFC 1034 §4.3.2 step 3a: restart with the CNAME target if this
		// zone is authoritative for it. Otherwise the CNAME alone is the
		// answer, and the resolver continues with the target.
		target := cnames[0].(*dns.CNAME).Target
		if !dns.IsSubDomain(z.origin, target) || z.delegation(target, q.Qtype) != nil {
			return
		}
		if seen[dns.CanonicalName(target)] || len(resp.Answer) >= maxCNAMEChain {
			return
		}
		name = target
	}
}

// withOwner returns copies of rrs with the owner name set to name, so that
// answers repeat the case of the question, as resolvers that randomize the
// case of query names (DNS 0x20) expect.
func withOwner(rrs []dns.RR, name string) []dns.RR {
	out := copyRRs(rrs)
	for _, rr := range out {
		rr.Header().Name = name
	}
	return out
}
