package dnstest

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestServerAnswerShapes(t *testing.T) {
	s := startServer(t, "127.0.0.11", 0, "example.test.", exampleZone)

	tests := []struct {
		name      string
		qname     string
		qtype     uint16
		rcode     int
		aa        bool
		answer    []string // "owner type" of each answer record
		nsSOA     bool     // SOA expected in the authority section
		nsRecords int      // records expected in the authority section
	}{
		{name: "answer", qname: "www.example.test.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, aa: true,
			answer: []string{"www.example.test. A"}},
		{name: "nodata", qname: "www.example.test.", qtype: dns.TypeAAAA, rcode: dns.RcodeSuccess, aa: true,
			nsSOA: true, nsRecords: 1},
		{name: "nxdomain", qname: "nope.example.test.", qtype: dns.TypeA, rcode: dns.RcodeNameError, aa: true,
			nsSOA: true, nsRecords: 1},
		{name: "empty non-terminal", qname: "b.c.example.test.", qtype: dns.TypeTXT, rcode: dns.RcodeSuccess, aa: true,
			nsSOA: true, nsRecords: 1},
		{name: "cname chased in zone", qname: "alias2.example.test.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, aa: true,
			answer: []string{"alias2.example.test. CNAME", "alias.example.test. CNAME", "www.example.test. A"}},
		{name: "cname query type", qname: "alias.example.test.", qtype: dns.TypeCNAME, rcode: dns.RcodeSuccess, aa: true,
			answer: []string{"alias.example.test. CNAME"}},
		{name: "cname out of zone", qname: "outside.example.test.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, aa: true,
			answer: []string{"outside.example.test. CNAME"}},
		{name: "cname to nxdomain", qname: "dangling.example.test.", qtype: dns.TypeA, rcode: dns.RcodeNameError, aa: true,
			answer: []string{"dangling.example.test. CNAME"}, nsSOA: true, nsRecords: 1},
		{name: "any", qname: "www.example.test.", qtype: dns.TypeANY, rcode: dns.RcodeSuccess, aa: true,
			answer: []string{"www.example.test. A", "www.example.test. TXT"}},
		{name: "out of zone", qname: "www.example.invalid.", qtype: dns.TypeA, rcode: dns.RcodeRefused},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := query(t, s.Addr(), tc.qname, tc.qtype)
			if resp.Rcode != tc.rcode {
				t.Errorf("rcode = %s, expected %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[tc.rcode])
			}
			if resp.Authoritative != tc.aa {
				t.Errorf("AA = %v, expected %v", resp.Authoritative, tc.aa)
			}
			var got []string
			for _, rr := range resp.Answer {
				got = append(got, rr.Header().Name+" "+dns.TypeToString[rr.Header().Rrtype])
			}
			if strings.Join(got, ", ") != strings.Join(tc.answer, ", ") {
				t.Errorf("answer = %v, expected %v", got, tc.answer)
			}
			if len(resp.Ns) != tc.nsRecords {
				t.Errorf("authority section has %d records, expected %d: %v", len(resp.Ns), tc.nsRecords, resp.Ns)
			}
			if tc.nsSOA && len(resp.Ns) > 0 {
				soa, ok := resp.Ns[0].(*dns.SOA)
				if !ok {
					t.Fatalf("authority record is %T, expected *dns.SOA", resp.Ns[0])
				}
				// min(SOA TTL 3600, MINIMUM 300), RFC 2308.
				if soa.Hdr.Ttl != 300 {
					t.Errorf("negative TTL = %d, expected 300", soa.Hdr.Ttl)
				}
			}
		})
	}
}

func TestServerReferralWithGlue(t *testing.T) {
	s := startServer(t, "127.0.0.11", 0, "example.test.", exampleZone)

	for _, qname := range []string{"sub.example.test.", "host.sub.example.test.", "ns.sub.example.test."} {
		resp := query(t, s.Addr(), qname, dns.TypeA)
		if resp.Rcode != dns.RcodeSuccess {
			t.Errorf("%s: rcode = %s, expected NOERROR", qname, dns.RcodeToString[resp.Rcode])
		}
		if resp.Authoritative {
			t.Errorf("%s: AA set on a referral", qname)
		}
		if len(resp.Answer) != 0 {
			t.Errorf("%s: referral has answer records: %v", qname, resp.Answer)
		}
		if len(resp.Ns) != 1 || resp.Ns[0].Header().Rrtype != dns.TypeNS || resp.Ns[0].Header().Name != "sub.example.test." {
			t.Errorf("%s: authority = %v, expected the NS record of sub.example.test.", qname, resp.Ns)
		}
		if len(resp.Extra) != 1 {
			t.Fatalf("%s: additional section has %d records, expected the glue A record", qname, len(resp.Extra))
		}
		glue, ok := resp.Extra[0].(*dns.A)
		if !ok || glue.Hdr.Name != "ns.sub.example.test." || glue.A.String() != "127.0.0.12" {
			t.Errorf("%s: glue = %v, expected ns.sub.example.test. A 127.0.0.12", qname, resp.Extra[0])
		}
	}

	// The parent answers DS at the cut itself (RFC 4035).
	resp := query(t, s.Addr(), "sub.example.test.", dns.TypeDS)
	if !resp.Authoritative || len(resp.Ns) != 1 || resp.Ns[0].Header().Rrtype != dns.TypeSOA {
		t.Errorf("DS at the cut: AA=%v authority=%v, expected an authoritative NODATA", resp.Authoritative, resp.Ns)
	}
}

func TestServerMostSpecificZone(t *testing.T) {
	const subZone = `
@    IN SOA ns.sub.example.test. hostmaster.example.test. 7 3600 600 86400 60
@    IN NS  ns.sub.example.test.
ns   IN A   127.0.0.12
host IN A   192.0.2.77
`
	s := startServer(t, "127.0.0.11", 0, "example.test.", exampleZone, "sub.example.test.", subZone)

	resp := query(t, s.Addr(), "host.sub.example.test.", dns.TypeA)
	if !resp.Authoritative {
		t.Errorf("AA not set for a name in the hosted subzone")
	}
	if len(resp.Answer) != 1 || resp.Answer[0].(*dns.A).A.String() != "192.0.2.77" {
		t.Errorf("answer = %v, expected host.sub.example.test. A 192.0.2.77", resp.Answer)
	}

	resp = query(t, s.Addr(), "nope.sub.example.test.", dns.TypeA)
	if resp.Rcode != dns.RcodeNameError || len(resp.Ns) != 1 || resp.Ns[0].Header().Name != "sub.example.test." {
		t.Errorf("rcode %s with authority %v, expected NXDOMAIN with the SOA of sub.example.test.", dns.RcodeToString[resp.Rcode], resp.Ns)
	}
}

func TestServerCasePreserved(t *testing.T) {
	s := startServer(t, "127.0.0.11", 0, "example.test.", exampleZone)

	const qname = "WwW.ExAmPlE.tEsT."
	resp := query(t, s.Addr(), qname, dns.TypeA)
	if resp.Question[0].Name != qname {
		t.Errorf("question = %s, expected %s", resp.Question[0].Name, qname)
	}
	if len(resp.Answer) != 1 {
		t.Fatalf("answer has %d records, expected 1", len(resp.Answer))
	}
	if resp.Answer[0].Header().Name != qname {
		t.Errorf("answer owner = %s, expected %s", resp.Answer[0].Header().Name, qname)
	}
}

func TestServerEDNS(t *testing.T) {
	s := startServer(t, "127.0.0.11", 0, "example.test.", exampleZone)

	m := new(dns.Msg)
	m.SetQuestion("www.example.test.", dns.TypeA)
	m.SetEdns0(4096, true)
	resp := exchange(t, "udp", s.Addr(), m)
	opt := resp.IsEdns0()
	if opt == nil {
		t.Fatal("response has no OPT record")
	}
	if opt.UDPSize() != ednsUDPSize {
		t.Errorf("OPT UDP size = %d, expected %d", opt.UDPSize(), ednsUDPSize)
	}
	if !opt.Do() {
		t.Errorf("DO bit not echoed")
	}

	m = new(dns.Msg)
	m.SetQuestion("www.example.test.", dns.TypeA)
	resp = exchange(t, "udp", s.Addr(), m)
	if resp.IsEdns0() != nil {
		t.Errorf("response to a query without EDNS0 has an OPT record")
	}

	m = new(dns.Msg)
	m.SetQuestion("www.example.test.", dns.TypeA)
	m.SetEdns0(1232, false)
	m.IsEdns0().SetVersion(1)
	resp = exchange(t, "udp", s.Addr(), m)
	if resp.Rcode != dns.RcodeBadVers {
		t.Errorf("rcode = %s, expected BADVERS for EDNS version 1", dns.RcodeToString[resp.Rcode])
	}
}

func TestServerTruncation(t *testing.T) {
	var zone strings.Builder
	zone.WriteString("@ IN SOA ns1 hostmaster 1 3600 600 86400 60\n@ IN NS ns1\nns1 IN A 127.0.0.11\n")
	for i := range 30 {
		// 43 characters each: ~1700 bytes for the full RRset.
		zone.WriteString("big IN TXT \"" + strings.Repeat(string(rune('a'+i%26)), 41) + itoa2(i) + "\"\n")
	}
	s := startServer(t, "127.0.0.11", 0, "example.test.", zone.String())
	const qname = "big.example.test."

	tests := []struct {
		name      string
		network   string
		udpSize   uint16 // 0: no EDNS0
		truncated bool
		maxWire   int
	}{
		{name: "udp without edns0", network: "udp", truncated: true, maxWire: 512},
		{name: "udp edns0 1232", network: "udp", udpSize: 1232, truncated: true, maxWire: 1232},
		{name: "udp edns0 4096", network: "udp", udpSize: 4096},
		{name: "tcp without edns0", network: "tcp"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := new(dns.Msg)
			m.SetQuestion(qname, dns.TypeTXT)
			if tc.udpSize > 0 {
				m.SetEdns0(tc.udpSize, false)
			}
			resp := exchange(t, tc.network, s.Addr(), m)
			if resp.Truncated != tc.truncated {
				t.Errorf("TC = %v, expected %v", resp.Truncated, tc.truncated)
			}
			if tc.truncated {
				if n := len(resp.Answer); n == 0 || n >= 30 {
					t.Errorf("truncated answer has %d records, expected between 1 and 29", n)
				}
				resp.Compress = true
				if n := resp.Len(); n > tc.maxWire {
					t.Errorf("truncated response is %d bytes, expected at most %d", n, tc.maxWire)
				}
				return
			}
			if n := len(resp.Answer); n != 30 {
				t.Errorf("answer has %d records, expected 30", n)
			}
		})
	}
}

// itoa2 formats 0..99 as two digits.
func itoa2(i int) string {
	return string([]byte{byte('0' + i/10), byte('0' + i%10)})
}

func TestServerQueryLog(t *testing.T) {
	s := startServer(t, "127.0.0.11", 0, "example.test.", exampleZone)

	m := new(dns.Msg)
	m.SetQuestion("WWW.example.test.", dns.TypeA)
	m.RecursionDesired = false
	exchange(t, "tcp", s.Addr(), m)
	query(t, s.Addr(), "nope.example.test.", dns.TypeTXT)

	got := s.Queries()
	if len(got) != 2 {
		t.Fatalf("query log has %d entries, expected 2: %+v", len(got), got)
	}
	first, second := got[0], got[1]
	if first.Name != "WWW.example.test." || first.Type != dns.TypeA || first.Transport != "tcp" || first.RD || first.Rcode != dns.RcodeSuccess {
		t.Errorf("first entry = %+v, expected WWW.example.test. A over tcp, RD=0, NOERROR", first)
	}
	if second.Name != "nope.example.test." || second.Transport != "udp" || !second.RD || second.Rcode != dns.RcodeNameError {
		t.Errorf("second entry = %+v, expected nope.example.test. over udp, RD=1, NXDOMAIN", second)
	}
	if first.Opcode != dns.OpcodeQuery {
		t.Errorf("opcode = %d, expected QUERY", first.Opcode)
	}
	if first.Time.IsZero() || second.Time.Before(first.Time) {
		t.Errorf("times %v, %v are not in arrival order", first.Time, second.Time)
	}

	s.ResetQueries()
	if n := len(s.Queries()); n != 0 {
		t.Errorf("query log has %d entries after ResetQueries", n)
	}
}

func TestServerLookup(t *testing.T) {
	s := startServer(t, "127.0.0.11", 0, "example.test.", exampleZone)

	rrs := s.Lookup("WWW.example.test", dns.TypeA)
	if len(rrs) != 1 || rrs[0].(*dns.A).A.String() != "192.0.2.10" {
		t.Errorf("Lookup(www A) = %v, expected 192.0.2.10", rrs)
	}
	if rrs := s.Lookup("www.example.test.", dns.TypeANY); len(rrs) != 2 {
		t.Errorf("Lookup(www ANY) returned %d records, expected 2", len(rrs))
	}
	if rrs := s.Lookup("nope.example.test.", dns.TypeA); rrs != nil {
		t.Errorf("Lookup(nope A) = %v, expected nil", rrs)
	}
	if rrs := s.Lookup("www.other.invalid.", dns.TypeA); rrs != nil {
		t.Errorf("Lookup outside every zone = %v, expected nil", rrs)
	}

	// Lookup returns copies: changing them leaves the zone alone.
	rrs[0].(*dns.A).A[3] = 99
	if again := s.Lookup("www.example.test.", dns.TypeA); again[0].(*dns.A).A.String() != "192.0.2.10" {
		t.Errorf("zone data changed through a Lookup result: %v", again)
	}
}

func TestAddZoneErrors(t *testing.T) {
	s := startServer(t, "127.0.0.11", 0, "example.test.", exampleZone)

	tests := []struct {
		name   string
		origin string
		text   string
		want   string
	}{
		{name: "duplicate zone", origin: "EXAMPLE.test", text: exampleZone, want: "already hosted"},
		{name: "missing soa", origin: "nosoa.test.", text: "@ IN NS ns1\n", want: "0 SOA records"},
		{name: "record outside zone", origin: "x.test.", text: "@ IN SOA a b 1 2 3 4 5\nwww.other.test. IN A 192.0.2.1\n", want: "outside zone"},
		{name: "soa below apex", origin: "y.test.", text: "@ IN SOA a b 1 2 3 4 5\nsub IN SOA a b 1 2 3 4 5\n", want: "not at the apex"},
		{name: "parse error", origin: "z.test.", text: "@ IN SOA a b 1 2 3 4 5\nwww IN A not-an-ip\n", want: "parse zone"},
		{name: "bad origin", origin: "", text: "", want: "invalid zone origin"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.AddZone(tc.origin, tc.text)
			if err == nil {
				t.Fatalf("AddZone(%q) succeeded, expected an error containing %q", tc.origin, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("AddZone(%q) error = %q, expected it to contain %q", tc.origin, err, tc.want)
			}
		})
	}
}

func TestServerDefaultTTL(t *testing.T) {
	s := startServer(t, "127.0.0.11", 0, "ttl.test.", "@ IN SOA a b 1 2 3 4 5\nhost IN A 192.0.2.1\n")
	rrs := s.Lookup("host.ttl.test.", dns.TypeA)
	if len(rrs) != 1 || rrs[0].Header().Ttl != 300 {
		t.Errorf("record without TTL = %v, expected TTL 300", rrs)
	}
}
