package rfc2136

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/libdns/libdns"
	"github.com/miekg/dns"
)

// maxTXTString is the maximum length in bytes of one character-string in
// TXT RDATA, whose length prefix is one byte (RFC 1035 section 3.3.14).
const maxTXTString = 255

// canonicalZone returns zone as a lower-case FQDN.
func canonicalZone(zone string) (string, error) {
	if strings.TrimSpace(zone) == "" {
		return "", errorf("zone name is empty; give the zone that contains the records, such as \"example.test.\"")
	}
	if _, ok := dns.IsDomainName(zone); !ok || strings.ContainsAny(zone, " \t\r\n") {
		return "", errorf("invalid zone name %q; give a domain name such as \"example.test.\"", zone)
	}
	return dns.CanonicalName(zone), nil
}

// ownerName converts a libdns record name to a lower-case FQDN inside
// origin, and returns it with its name relative to origin.
//
// A relative name that already ends with the zone at a label boundary
// ("www.example.test" in "example.test.") is taken as absolute, so the
// zone is never appended twice. NOTE: this departs from libdns, where that
// name means "www.example.test.example.test.".
func ownerName(name, origin string) (fqdn, relative string, err error) {
	switch {
	case name == "":
		return "", "", errorf("record name is empty; use \"@\" for the zone apex of %q", origin)
	case strings.ContainsAny(name, " \t\r\n"):
		return "", "", errorf("invalid record name %q: contains white space", name)
	case name == "@":
		fqdn = origin
	case dns.IsFqdn(name):
		fqdn = dns.CanonicalName(name)
		if !dns.IsSubDomain(origin, fqdn) {
			return "", "", errorf("record name %q is not in zone %q; give it relative to the zone, or choose the zone that contains it", name, origin)
		}
	default:
		fqdn = dns.CanonicalName(name)
		if !dns.IsSubDomain(origin, fqdn) {
			fqdn += origin
		}
	}
	if _, ok := dns.IsDomainName(fqdn); !ok {
		return "", "", errorf("invalid record name %q in zone %q: labels must be at most 63 bytes and the name at most 255", name, origin)
	}
	return fqdn, relativeName(fqdn, origin), nil
}

// relativeName returns fqdn relative to origin, or "@" for the apex. Both
// must be canonical and fqdn must lie inside origin.
func relativeName(fqdn, origin string) string {
	if dns.CanonicalName(fqdn) == origin {
		return "@"
	}
	if origin == "." {
		return strings.TrimSuffix(fqdn, ".")
	}
	// dns.Split returns the start of each label and honors escaped dots,
	// so the cut falls on the label boundary before the zone.
	starts := dns.Split(fqdn)
	cut := starts[len(starts)-dns.CountLabel(origin)]
	return fqdn[:cut-1]
}

// convertRecords builds the update RRs for recs and the libdns records to
// return. For deletion every record needs a type and a value, because an
// empty one would delete a whole RRset.
func convertRecords(origin string, recs []libdns.Record, deletion bool) ([]dns.RR, []libdns.Record, error) {
	rrs := make([]dns.RR, 0, len(recs))
	out := make([]libdns.Record, 0, len(recs))
	for i, rec := range recs {
		if rec == nil {
			return nil, nil, errorf("record %d is nil", i)
		}
		rr, sent, err := convertRecord(origin, rec.RR(), deletion)
		if err != nil {
			return nil, nil, err
		}
		rrs = append(rrs, rr)
		out = append(out, sent)
	}
	return rrs, out, nil
}

func convertRecord(origin string, in libdns.RR, deletion bool) (dns.RR, libdns.Record, error) {
	fqdn, relative, err := ownerName(in.Name, origin)
	if err != nil {
		return nil, nil, err
	}
	typ := strings.ToUpper(strings.TrimSpace(in.Type))
	if deletion && typ == "" {
		return nil, nil, errorf("record %q has no type; deleting without a type would remove every record at the name, so give the type and value of each record to delete", in.Name)
	}
	if deletion && in.Data == "" {
		return nil, nil, errorf("%s record %q has no value; deleting without a value would remove the whole RRset, so give the value of each record to delete", typ, in.Name)
	}
	if typ == "" {
		return nil, nil, errorf("record %q has no type; set the record type, such as TXT", in.Name)
	}
	if in.TTL < 0 || in.TTL/time.Second > math.MaxInt32 {
		return nil, nil, errorf("%s record %q has TTL %s, outside 0 to %d seconds (RFC 2181 section 8)", typ, in.Name, in.TTL, math.MaxInt32)
	}
	ttl := uint32(in.TTL / time.Second)

	var rr dns.RR
	if typ == "TXT" {
		rr = &dns.TXT{
			Hdr: dns.RR_Header{Name: fqdn, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: ttl},
			Txt: splitTXT(in.Data),
		}
	} else {
		rr, err = parseRR(fqdn, ttl, typ, in)
		if err != nil {
			return nil, nil, err
		}
	}

	sent := libdns.RR{Name: relative, TTL: time.Duration(ttl) * time.Second, Type: typ, Data: in.Data}
	typed, err := sent.Parse()
	if err != nil {
		// miekg/dns parsed the data, so the record is still sent. Only
		// its returned form stays untyped.
		typed = sent
	}
	return rr, typed, nil
}

// parseRR builds a non-TXT record from its zone-file data. The data of
// these types has no free text, so the zone-file parser reads it as libdns
// wrote it.
func parseRR(fqdn string, ttl uint32, typ string, in libdns.RR) (dns.RR, error) {
	rrtype, ok := dns.StringToType[typ]
	if !ok {
		return nil, errorf("record %q has unknown type %q", in.Name, in.Type)
	}
	switch rrtype {
	case dns.TypeANY, dns.TypeAXFR, dns.TypeIXFR, dns.TypeOPT, dns.TypeTSIG, dns.TypeSOA:
		return nil, errorf("record %q has type %s, which cannot be added or deleted by an update of individual records", in.Name, typ)
	}
	if strings.ContainsAny(in.Data, "\r\n") {
		return nil, errorf("%s record %q has a line break in its value %q", typ, in.Name, in.Data)
	}
	rr, err := dns.NewRR(fmt.Sprintf("%s %d IN %s %s", fqdn, ttl, typ, in.Data))
	if err != nil {
		return nil, errorf("invalid %s record %q with value %q: %w", typ, in.Name, in.Data, err)
	}
	if rr == nil || rr.Header().Rrtype != rrtype || dns.CanonicalName(rr.Header().Name) != fqdn {
		return nil, errorf("invalid %s record %q: value %q does not parse as %s data", typ, in.Name, in.Data, typ)
	}
	return rr, nil
}

// splitTXT cuts raw text into character-strings of at most 255 bytes and
// escapes each one, because miekg/dns reads backslash escapes in TXT
// strings when packing. Cutting before escaping keeps every wire string at
// 255 bytes or less. Empty text gives one empty string.
func splitTXT(text string) []string {
	if text == "" {
		return []string{""}
	}
	parts := make([]string, 0, (len(text)+maxTXTString-1)/maxTXTString)
	for len(text) > 0 {
		n := min(len(text), maxTXTString)
		parts = append(parts, escapeTXT(text[:n]))
		text = text[n:]
	}
	return parts
}

// escapeTXT escapes raw bytes as miekg/dns presents unpacked TXT strings.
// '"' and '\' get a backslash, and bytes outside printable ASCII become
// \DDD. Packing needs only the backslash escaped. The rest makes the
// strings equal to those a miekg/dns peer unpacks, and readable in logs.
func escapeTXT(raw string) string {
	var b strings.Builder
	b.Grow(len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < ' ' || c > '~':
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// unescapeTXT reverses the presentation escapes of a miekg/dns TXT string:
// \DDD is a byte in decimal and \X is X.
func unescapeTXT(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		if i+2 < len(s) && isDigit(s[i]) && isDigit(s[i+1]) && isDigit(s[i+2]) {
			b.WriteByte((s[i]-'0')*100 + (s[i+1]-'0')*10 + (s[i+2] - '0'))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// dnssecTypes lists the types that GetRecords leaves out, because the
// server maintains them and libdns providers usually omit them.
var dnssecTypes = map[uint16]bool{
	dns.TypeRRSIG:      true,
	dns.TypeNSEC:       true,
	dns.TypeNSEC3:      true,
	dns.TypeNSEC3PARAM: true,
	dns.TypeDNSKEY:     true,
	dns.TypeCDS:        true,
	dns.TypeCDNSKEY:    true,
}

// zoneRecords converts the records of a zone transfer to libdns records.
// Records of other classes or outside origin are skipped.
func (s settings) zoneRecords(origin string, rrs []dns.RR) []libdns.Record {
	recs := make([]libdns.Record, 0, len(rrs))
	for _, rr := range rrs {
		hdr := rr.Header()
		name := dns.CanonicalName(hdr.Name)
		if hdr.Class != dns.ClassINET || dnssecTypes[hdr.Rrtype] || !dns.IsSubDomain(origin, name) {
			continue
		}

		var data string
		if txt, ok := rr.(*dns.TXT); ok {
			// Escapes never span character-strings, so unescaping the
			// joined strings is the same as joining the unescaped ones.
			data = unescapeTXT(strings.Join(txt.Txt, ""))
		} else {
			data = strings.TrimPrefix(rr.String(), hdr.String())
		}

		rec := libdns.RR{
			Name: relativeName(name, origin),
			TTL:  time.Duration(hdr.Ttl) * time.Second,
			Type: dns.Type(hdr.Rrtype).String(),
			Data: data,
		}
		typed, err := rec.Parse()
		if err != nil {
			s.logger.Debug("rfc2136: record returned as libdns.RR because libdns cannot parse it", "name", rec.Name, "type", rec.Type, "error", err)
			typed = rec
		}
		recs = append(recs, typed)
	}
	return recs
}
