package dnstest

import (
	"github.com/miekg/dns"
)

// rrsetKey identifies an RRset by canonical owner name and type.
type rrsetKey struct {
	name   string
	rrtype uint16
}

// handleUpdate processes an RFC 2136 dynamic update and sets the rcode of
// resp. The update is atomic: either every change applies or none does.
func (s *Server) handleUpdate(req, resp *dns.Msg) {
	zq := req.Question[0]
	if s.tsig.required() && req.IsTsig() == nil {
		resp.Rcode = dns.RcodeRefused
		s.logger.Warn("unsigned update rejected with REFUSED: the server requires tsig", "zone", zq.Name)
		return
	}
	// RFC 2136: the zone section names the zone with type SOA.
	// Anything else is a format error.
	if zq.Qtype != dns.TypeSOA {
		resp.Rcode = dns.RcodeFormatError
		return
	}

	snapshot, rcode := s.applyUpdate(req)
	resp.Rcode = rcode
	if rcode != dns.RcodeSuccess {
		s.logger.Info("update rejected", "zone", zq.Name, "rcode", dns.RcodeToString[rcode])
	}
	if snapshot != nil {
		s.repl.schedule(snapshot)
	}
}

// applyUpdate checks and applies req under the write lock. It returns the
// rcode and, when the zone changed, a snapshot of the new zone for the
// secondaries.
func (s *Server) applyUpdate(req *dns.Msg) (*zone, int) {
	zq := req.Question[0]
	s.mu.Lock()
	defer s.mu.Unlock()

	// RFC 2136: a zone the server is not authoritative for gets
	// NOTAUTH. Every hosted zone has class IN.
	z := s.zones[dns.CanonicalName(zq.Name)]
	if z == nil || zq.Qclass != dns.ClassINET {
		return nil, dns.RcodeNotAuth
	}
	if rcode := checkPrerequisites(z, req.Answer); rcode != dns.RcodeSuccess {
		return nil, rcode
	}
	if rcode := prescanUpdates(z, req.Ns); rcode != dns.RcodeSuccess {
		return nil, rcode
	}

	changes := 0
	soaSet := false
	for _, rr := range req.Ns {
		changed, setsSOA := applyUpdateRR(z, rr)
		if changed {
			changes++
		}
		soaSet = soaSet || setsSOA
	}
	if changes == 0 {
		return nil, dns.RcodeSuccess
	}
	// RFC 2136: every change increments the serial, unless the update
	// itself installed a newer SOA.
	if !soaSet {
		z.setSerial(z.soa().Serial + 1)
	}
	s.logger.Info("zone updated", "zone", z.origin, "changes", changes, "serial", z.soa().Serial)
	return z.clone(), dns.RcodeSuccess
}

// checkPrerequisites evaluates the prerequisite section (RFC 2136 §3.2).
func checkPrerequisites(z *zone, prereqs []dns.RR) int {
	valueDependent := make(map[rrsetKey][]dns.RR)
	for _, rr := range prereqs {
		h := rr.Header()
		if h.Ttl != 0 {
			return dns.RcodeFormatError
		}
		if !dns.IsSubDomain(z.origin, h.Name) {
			return dns.RcodeNotZone
		}
		switch h.Class {
		case dns.ClassANY:
			// "Name is in use" (type ANY) or "RRset exists".
			if h.Rdlength != 0 {
				return dns.RcodeFormatError
			}
			if len(z.rrset(h.Name, h.Rrtype)) > 0 {
				continue
			}
			if h.Rrtype == dns.TypeANY {
				return dns.RcodeNameError
			}
			return dns.RcodeNXRrset
		case dns.ClassNONE:
			// "Name is not in use" (type ANY) or "RRset does not
			// exist".
			if h.Rdlength != 0 {
				return dns.RcodeFormatError
			}
			if len(z.rrset(h.Name, h.Rrtype)) == 0 {
				continue
			}
			if h.Rrtype == dns.TypeANY {
				return dns.RcodeYXDomain
			}
			return dns.RcodeYXRrset
		case dns.ClassINET:
			// "RRset exists (value dependent)", compared as whole
			// RRsets after all prerequisites are collected.
			if h.Rrtype == dns.TypeANY {
				return dns.RcodeFormatError
			}
			key := rrsetKey{name: dns.CanonicalName(h.Name), rrtype: h.Rrtype}
			valueDependent[key] = append(valueDependent[key], rr)
		default:
			return dns.RcodeFormatError
		}
	}
	for key, want := range valueDependent {
		if !sameRRset(z.rrset(key.name, key.rrtype), want) {
			return dns.RcodeNXRrset
		}
	}
	return dns.RcodeSuccess
}

// sameRRset reports whether a and b hold the same records, ignoring TTLs and
// duplicates.
func sameRRset(a, b []dns.RR) bool {
	return containsAll(a, b) && containsAll(b, a)
}

func containsAll(set, items []dns.RR) bool {
	for _, item := range items {
		found := false
		for _, rr := range set {
			if dns.IsDuplicate(rr, item) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// prescanUpdates checks the update section before any change (RFC 2136
// §3.4.1).
func prescanUpdates(z *zone, updates []dns.RR) int {
	for _, rr := range updates {
		h := rr.Header()
		if !dns.IsSubDomain(z.origin, h.Name) {
			return dns.RcodeNotZone
		}
		switch h.Class {
		case dns.ClassINET:
			if isMetaType(h.Rrtype) {
				return dns.RcodeFormatError
			}
		case dns.ClassANY:
			if h.Ttl != 0 || h.Rdlength != 0 || (isMetaType(h.Rrtype) && h.Rrtype != dns.TypeANY) {
				return dns.RcodeFormatError
			}
		case dns.ClassNONE:
			if h.Ttl != 0 || isMetaType(h.Rrtype) {
				return dns.RcodeFormatError
			}
		default:
			return dns.RcodeFormatError
		}
	}
	return dns.RcodeSuccess
}

// isMetaType reports whether t is a query or meta type that never appears in
// zone data.
func isMetaType(t uint16) bool {
	switch t {
	case dns.TypeANY, dns.TypeAXFR, dns.TypeIXFR, dns.TypeMAILA, dns.TypeMAILB,
		dns.TypeOPT, dns.TypeTSIG, dns.TypeTKEY:
		return true
	}
	return false
}

// applyUpdateRR applies one record of the update section (RFC 2136 §3.4.2).
// It reports whether the zone changed and whether the record installed a new
// SOA.
func applyUpdateRR(z *zone, rr dns.RR) (changed, soaSet bool) {
	h := rr.Header()
	apex := dns.CanonicalName(h.Name) == z.origin
	switch h.Class {
	case dns.ClassINET:
		return insertRR(z, rr)
	case dns.ClassANY:
		if h.Rrtype == dns.TypeANY {
			// Delete every RRset at the name, except the SOA and
			// NS RRsets at the apex.
			removed := z.remove(h.Name, func(old dns.RR) bool {
				t := old.Header().Rrtype
				return !apex || (t != dns.TypeSOA && t != dns.TypeNS)
			})
			return removed > 0, false
		}
		if apex && (h.Rrtype == dns.TypeSOA || h.Rrtype == dns.TypeNS) {
			return false, false
		}
		removed := z.remove(h.Name, func(old dns.RR) bool {
			return old.Header().Rrtype == h.Rrtype
		})
		return removed > 0, false
	default: // dns.ClassNONE, checked by prescanUpdates
		// The SOA and the last apex NS record are never deleted.
		if h.Rrtype == dns.TypeSOA {
			return false, false
		}
		if apex && h.Rrtype == dns.TypeNS && len(z.rrset(h.Name, dns.TypeNS)) <= 1 {
			return false, false
		}
		target := withClassIN(rr)
		removed := z.remove(h.Name, func(old dns.RR) bool {
			return dns.IsDuplicate(old, target)
		})
		return removed > 0, false
	}
}

// insertRR adds a record with the CNAME and SOA rules of RFC 2136 §3.4.2.
// A CNAME is ignored at a name with other data and replaces an existing
// CNAME. Other data is ignored at a name with a CNAME. A SOA replaces the
// current one only when its serial is newer.
func insertRR(z *zone, rr dns.RR) (changed, soaSet bool) {
	h := rr.Header()
	node := z.rrset(h.Name, dns.TypeANY)
	hasCNAME := len(z.rrset(h.Name, dns.TypeCNAME)) > 0
	switch h.Rrtype {
	case dns.TypeSOA:
		if dns.CanonicalName(h.Name) != z.origin {
			return false, false
		}
		if !serialNewer(rr.(*dns.SOA).Serial, z.soa().Serial) {
			return false, false
		}
		z.remove(h.Name, func(old dns.RR) bool { return old.Header().Rrtype == dns.TypeSOA })
		z.add(rr)
		return true, true
	case dns.TypeCNAME:
		if len(node) > 0 && !hasCNAME {
			return false, false
		}
		for _, old := range node {
			if dns.IsDuplicate(old, withClassIN(rr)) && old.Header().Ttl == h.Ttl {
				return false, false
			}
		}
		z.remove(h.Name, func(old dns.RR) bool { return old.Header().Rrtype == dns.TypeCNAME })
		z.add(rr)
		return true, false
	default:
		if hasCNAME {
			return false, false
		}
		return z.add(rr), false
	}
}

func withClassIN(rr dns.RR) dns.RR {
	c := dns.Copy(rr)
	c.Header().Class = dns.ClassINET
	return c
}
