package dnstest

import (
	"slices"
	"testing"

	"github.com/miekg/dns"
)

// newUpdate returns an UPDATE message for zone.
func newUpdate(zone string) *dns.Msg {
	m := new(dns.Msg)
	m.SetUpdate(zone)
	return m
}

func update(t *testing.T, addr string, m *dns.Msg) int {
	t.Helper()
	return exchange(t, "udp", addr, m).Rcode
}

func expectRcode(t *testing.T, what string, got, want int) {
	t.Helper()
	if got != want {
		t.Errorf("%s: rcode = %s, expected %s", what, dns.RcodeToString[got], dns.RcodeToString[want])
	}
}

func expectTXT(t *testing.T, s *Server, name string, want ...string) {
	t.Helper()
	resp := query(t, s.Addr(), name, dns.TypeTXT)
	got := txtValues(resp.Answer)
	slices.Sort(got)
	want = slices.Clone(want)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("TXT %s = %q, expected %q", name, got, want)
	}
}

func TestUpdateInsertAndRemove(t *testing.T) {
	s := startServer(t, "127.0.0.11", 0, "example.test.", exampleZone)
	const name = "_acme-challenge.example.test."
	serial := serialOf(t, s, "example.test.")

	m := newUpdate("example.test.")
	m.Insert([]dns.RR{mustRR(t, name+" 60 IN TXT \"first\"")})
	expectRcode(t, "insert", update(t, s.Addr(), m), dns.RcodeSuccess)
	expectTXT(t, s, name, "first")
	if got := serialOf(t, s, "example.test."); got != serial+1 {
		t.Errorf("serial after insert = %d, expected %d", got, serial+1)
	}

	// Inserting the same record again changes nothing, not even the serial.
	m = newUpdate("example.test.")
	m.Insert([]dns.RR{mustRR(t, name+" 60 IN TXT \"first\"")})
	expectRcode(t, "duplicate insert", update(t, s.Addr(), m), dns.RcodeSuccess)
	expectTXT(t, s, name, "first")
	if got := serialOf(t, s, "example.test."); got != serial+1 {
		t.Errorf("serial after duplicate insert = %d, expected %d", got, serial+1)
	}

	m = newUpdate("example.test.")
	m.Insert([]dns.RR{mustRR(t, name+" 60 IN TXT \"second\"")})
	expectRcode(t, "second insert", update(t, s.Addr(), m), dns.RcodeSuccess)
	expectTXT(t, s, name, "first", "second")

	// Removing one record needs an exact rdata match and keeps the other.
	m = newUpdate("example.test.")
	m.Remove([]dns.RR{mustRR(t, name+" 60 IN TXT \"FIRST\"")})
	expectRcode(t, "remove non-matching", update(t, s.Addr(), m), dns.RcodeSuccess)
	expectTXT(t, s, name, "first", "second")

	m = newUpdate("example.test.")
	m.Remove([]dns.RR{mustRR(t, name+" 60 IN TXT \"first\"")})
	expectRcode(t, "remove one", update(t, s.Addr(), m), dns.RcodeSuccess)
	expectTXT(t, s, name, "second")
	if got := serialOf(t, s, "example.test."); got != serial+3 {
		t.Errorf("serial after three changes = %d, expected %d", got, serial+3)
	}

	m = newUpdate("example.test.")
	m.RemoveRRset([]dns.RR{mustRR(t, name+" 0 IN TXT \"\"")})
	expectRcode(t, "remove rrset", update(t, s.Addr(), m), dns.RcodeSuccess)
	resp := query(t, s.Addr(), name, dns.TypeTXT)
	expectRcode(t, "query after remove rrset", resp.Rcode, dns.RcodeNameError)
}

func TestUpdateRemoveName(t *testing.T) {
	s := startServer(t, "127.0.0.11", 0, "example.test.", exampleZone)

	m := newUpdate("example.test.")
	m.RemoveName([]dns.RR{mustRR(t, "www.example.test. 0 IN A 0.0.0.0")})
	expectRcode(t, "remove name", update(t, s.Addr(), m), dns.RcodeSuccess)
	if rrs := s.Lookup("www.example.test.", dns.TypeANY); len(rrs) != 0 {
		t.Errorf("www.example.test. still has %v", rrs)
	}

	// At the apex the SOA and NS records survive RemoveName and RemoveRRset
	// (RFC 2136).
	m = newUpdate("example.test.")
	m.RemoveName([]dns.RR{mustRR(t, "example.test. 0 IN A 0.0.0.0")})
	m.RemoveRRset([]dns.RR{mustRR(t, "example.test. 0 IN NS ns1.example.test.")})
	expectRcode(t, "remove apex", update(t, s.Addr(), m), dns.RcodeSuccess)
	if rrs := s.Lookup("example.test.", dns.TypeNS); len(rrs) != 1 {
		t.Errorf("apex NS records = %v, expected the NS record to survive", rrs)
	}
	if rrs := s.Lookup("example.test.", dns.TypeSOA); len(rrs) != 1 {
		t.Errorf("apex SOA records = %v, expected the SOA record to survive", rrs)
	}
}

func TestUpdatePrerequisites(t *testing.T) {
	const wwwTXT = "www.example.test. 0 IN TXT \"hello\""
	tests := []struct {
		name  string
		build func(m *dns.Msg)
		rcode int
	}{
		{name: "name used, exists", rcode: dns.RcodeSuccess,
			build: func(m *dns.Msg) { m.NameUsed([]dns.RR{mustRR(t, wwwTXT)}) }},
		{name: "name used, missing", rcode: dns.RcodeNameError,
			build: func(m *dns.Msg) { m.NameUsed([]dns.RR{mustRR(t, "nope.example.test. 0 IN TXT \"\"")}) }},
		{name: "name used, empty non-terminal", rcode: dns.RcodeNameError,
			build: func(m *dns.Msg) { m.NameUsed([]dns.RR{mustRR(t, "b.c.example.test. 0 IN TXT \"\"")}) }},
		{name: "name not used, missing", rcode: dns.RcodeSuccess,
			build: func(m *dns.Msg) { m.NameNotUsed([]dns.RR{mustRR(t, "nope.example.test. 0 IN TXT \"\"")}) }},
		{name: "name not used, exists", rcode: dns.RcodeYXDomain,
			build: func(m *dns.Msg) { m.NameNotUsed([]dns.RR{mustRR(t, wwwTXT)}) }},
		{name: "rrset used, exists", rcode: dns.RcodeSuccess,
			build: func(m *dns.Msg) { m.RRsetUsed([]dns.RR{mustRR(t, wwwTXT)}) }},
		{name: "rrset used, missing", rcode: dns.RcodeNXRrset,
			build: func(m *dns.Msg) { m.RRsetUsed([]dns.RR{mustRR(t, "www.example.test. 0 IN AAAA ::1")}) }},
		{name: "rrset not used, missing", rcode: dns.RcodeSuccess,
			build: func(m *dns.Msg) { m.RRsetNotUsed([]dns.RR{mustRR(t, "www.example.test. 0 IN AAAA ::1")}) }},
		{name: "rrset not used, exists", rcode: dns.RcodeYXRrset,
			build: func(m *dns.Msg) { m.RRsetNotUsed([]dns.RR{mustRR(t, wwwTXT)}) }},
		{name: "value used, equal", rcode: dns.RcodeSuccess,
			build: func(m *dns.Msg) { m.Used([]dns.RR{mustRR(t, wwwTXT)}) }},
		{name: "value used, other value", rcode: dns.RcodeNXRrset,
			build: func(m *dns.Msg) { m.Used([]dns.RR{mustRR(t, "www.example.test. 0 IN TXT \"other\"")}) }},
		{name: "value used, subset", rcode: dns.RcodeNXRrset,
			build: func(m *dns.Msg) {
				m.Used([]dns.RR{mustRR(t, wwwTXT), mustRR(t, "www.example.test. 0 IN TXT \"extra\"")})
			}},
		{name: "prerequisite outside zone", rcode: dns.RcodeNotZone,
			build: func(m *dns.Msg) { m.NameUsed([]dns.RR{mustRR(t, "www.other.test. 0 IN TXT \"\"")}) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, "127.0.0.11", 0, "example.test.", exampleZone)
			m := newUpdate("example.test.")
			tc.build(m)
			m.Insert([]dns.RR{mustRR(t, "marker.example.test. 60 IN TXT \"applied\"")})

			expectRcode(t, tc.name, update(t, s.Addr(), m), tc.rcode)
			applied := len(s.Lookup("marker.example.test.", dns.TypeTXT)) == 1
			if want := tc.rcode == dns.RcodeSuccess; applied != want {
				t.Errorf("update applied = %v, expected %v", applied, want)
			}
		})
	}
}

func TestUpdateRejected(t *testing.T) {
	s := startServer(t, "127.0.0.11", 0, "example.test.", exampleZone)
	serial := serialOf(t, s, "example.test.")

	m := newUpdate("example.test.")
	m.Insert([]dns.RR{mustRR(t, "ok.example.test. 60 IN TXT \"x\"")})
	m.Insert([]dns.RR{mustRR(t, "www.other.test. 60 IN TXT \"x\"")})
	expectRcode(t, "name outside zone", update(t, s.Addr(), m), dns.RcodeNotZone)
	if rrs := s.Lookup("ok.example.test.", dns.TypeTXT); rrs != nil {
		t.Errorf("partial update applied: %v", rrs)
	}

	m = newUpdate("other.test.")
	m.Insert([]dns.RR{mustRR(t, "www.other.test. 60 IN TXT \"x\"")})
	expectRcode(t, "zone not hosted", update(t, s.Addr(), m), dns.RcodeNotAuth)

	// A subdomain of a hosted zone is not a zone of its own.
	m = newUpdate("www.example.test.")
	m.Insert([]dns.RR{mustRR(t, "www.example.test. 60 IN TXT \"x\"")})
	expectRcode(t, "zone below a hosted zone", update(t, s.Addr(), m), dns.RcodeNotAuth)

	m = newUpdate("example.test.")
	m.Insert([]dns.RR{mustRR(t, "www.example.test. 60 IN ANY")})
	expectRcode(t, "meta type insert", update(t, s.Addr(), m), dns.RcodeFormatError)

	if got := serialOf(t, s, "example.test."); got != serial {
		t.Errorf("serial after rejected updates = %d, expected %d", got, serial)
	}
}

func TestUpdateCNAMERules(t *testing.T) {
	s := startServer(t, "127.0.0.11", 0, "example.test.", exampleZone)

	// www has data, so a CNAME there is ignored; alias has a CNAME, so data
	// there is ignored (RFC 2136).
	m := newUpdate("example.test.")
	m.Insert([]dns.RR{mustRR(t, "www.example.test. 60 IN CNAME elsewhere.test.")})
	m.Insert([]dns.RR{mustRR(t, "alias.example.test. 60 IN TXT \"x\"")})
	expectRcode(t, "conflicting inserts", update(t, s.Addr(), m), dns.RcodeSuccess)
	if rrs := s.Lookup("www.example.test.", dns.TypeCNAME); rrs != nil {
		t.Errorf("CNAME added next to other data: %v", rrs)
	}
	if rrs := s.Lookup("alias.example.test.", dns.TypeTXT); rrs != nil {
		t.Errorf("TXT added next to a CNAME: %v", rrs)
	}

	// A new CNAME replaces the old one.
	m = newUpdate("example.test.")
	m.Insert([]dns.RR{mustRR(t, "alias.example.test. 60 IN CNAME elsewhere.test.")})
	expectRcode(t, "replace cname", update(t, s.Addr(), m), dns.RcodeSuccess)
	rrs := s.Lookup("alias.example.test.", dns.TypeCNAME)
	if len(rrs) != 1 || rrs[0].(*dns.CNAME).Target != "elsewhere.test." {
		t.Errorf("alias CNAME = %v, expected one record to elsewhere.test.", rrs)
	}
}

func TestUpdateSOASerial(t *testing.T) {
	s := startServer(t, "127.0.0.11", 0, "example.test.", exampleZone)

	m := newUpdate("example.test.")
	m.Insert([]dns.RR{mustRR(t, "example.test. 3600 IN SOA ns1.example.test. hostmaster.example.test. 50 7200 3600 1209600 300")})
	expectRcode(t, "older soa", update(t, s.Addr(), m), dns.RcodeSuccess)
	if got := serialOf(t, s, "example.test."); got != 100 {
		t.Errorf("serial after older SOA = %d, expected 100", got)
	}

	m = newUpdate("example.test.")
	m.Insert([]dns.RR{mustRR(t, "example.test. 3600 IN SOA ns1.example.test. hostmaster.example.test. 500 7200 3600 1209600 300")})
	m.Insert([]dns.RR{mustRR(t, "new.example.test. 60 IN TXT \"x\"")})
	expectRcode(t, "newer soa", update(t, s.Addr(), m), dns.RcodeSuccess)
	if got := serialOf(t, s, "example.test."); got != 500 {
		t.Errorf("serial after newer SOA = %d, expected 500 and no extra increment", got)
	}
}

func TestUpdateOverTCP(t *testing.T) {
	s := startServer(t, "127.0.0.11", 0, "example.test.", exampleZone)

	m := newUpdate("example.test.")
	m.Insert([]dns.RR{mustRR(t, "tcp.example.test. 60 IN TXT \"x\"")})
	resp := exchange(t, "tcp", s.Addr(), m)
	expectRcode(t, "update over tcp", resp.Rcode, dns.RcodeSuccess)
	if resp.Opcode != dns.OpcodeUpdate {
		t.Errorf("response opcode = %d, expected UPDATE", resp.Opcode)
	}
	expectTXT(t, s, "tcp.example.test.", "x")

	got := s.Queries()
	if len(got) == 0 || got[0].Opcode != dns.OpcodeUpdate || got[0].Name != "example.test." || got[0].Type != dns.TypeSOA {
		t.Errorf("first logged request = %+v, expected the update of example.test.", got)
	}
}
