package dnstest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

const rootZone = `
@             IN SOA a.root. hostmaster.root. 1 3600 600 86400 300
@             IN NS  a.root.
a.root.       IN A   127.0.0.10
test.         IN NS  ns1.nic.test.
ns1.nic.test. IN A   127.0.0.11
`

const tldZone = `
@           IN SOA ns1.nic.test. hostmaster.nic.test. 1 3600 600 86400 300
@           IN NS  ns1.nic.test.
ns1.nic     IN A   127.0.0.11
example     IN NS  ns1.example.test.
example     IN NS  ns2.example.test.
ns1.example IN A   127.0.0.12
ns2.example IN A   127.0.0.14
; No glue: ns.example.test. is resolved through example.test.
other       IN NS  ns.example.test.
`

const resolverExampleZone = `
@     IN SOA ns1.example.test. hostmaster.example.test. 1 3600 600 86400 120
@     IN NS  ns1
@     IN NS  ns2
ns1   IN A   127.0.0.12
ns2   IN A   127.0.0.14
ns    IN A   127.0.0.13
host  IN A   192.0.2.1
www   IN CNAME web.other.test.
loop  IN CNAME loop.other.test.
`

const otherZone = `
@    IN SOA ns.example.test. hostmaster.example.test. 1 3600 600 86400 300
@    IN NS  ns.example.test.
web  IN A   192.0.2.80
loop IN CNAME loop.example.test.
gone IN CNAME nothing.example.test.
`

// testNetwork is a root, a TLD and three second-level zones on one port:
// . -> test. -> example.test. (two servers) and other.test.
type testNetwork struct {
	root, tld, example1, example2, other *Server
	resolver                             *Resolver
}

func startNetwork(t *testing.T, opts ...Option) *testNetwork {
	t.Helper()
	port := freePort(t, "127.0.0.10", "127.0.0.11", "127.0.0.12", "127.0.0.13", "127.0.0.14")
	n := &testNetwork{
		root:     startServer(t, "127.0.0.10", port, ".", rootZone),
		tld:      startServer(t, "127.0.0.11", port, "test.", tldZone),
		example1: startServer(t, "127.0.0.12", port, "example.test.", resolverExampleZone),
		example2: startServer(t, "127.0.0.14", port, "example.test.", resolverExampleZone),
		other:    startServer(t, "127.0.0.13", port, "other.test.", otherZone),
	}
	r, err := NewResolver("127.0.0.2:0", []string{n.root.Addr()}, port, opts...)
	if err != nil {
		t.Fatalf("NewResolver: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("close resolver: %v", err)
		}
	})
	n.resolver = r
	return n
}

func answerStrings(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		out = append(out, strings.Join(strings.Fields(rr.String()), " "))
	}
	return out
}

func TestResolverDelegationTwoLevels(t *testing.T) {
	n := startNetwork(t)

	resp := query(t, n.resolver.Addr(), "host.example.test.", dns.TypeA)
	expectRcode(t, "host.example.test. A", resp.Rcode, dns.RcodeSuccess)
	if !resp.RecursionAvailable {
		t.Errorf("RA not set")
	}
	if resp.Authoritative {
		t.Errorf("AA set by the resolver")
	}
	if len(resp.Answer) != 1 || resp.Answer[0].(*dns.A).A.String() != "192.0.2.1" {
		t.Errorf("answer = %v, expected host.example.test. A 192.0.2.1", resp.Answer)
	}

	// Each level was asked, without recursion.
	for _, s := range []*Server{n.root, n.tld, n.example1} {
		log := s.Queries()
		if len(log) == 0 {
			t.Errorf("server %s got no query", s.Addr())
			continue
		}
		for _, q := range log {
			if q.RD {
				t.Errorf("server %s got a query with RD=1: %+v", s.Addr(), q)
			}
		}
	}
}

func TestResolverCNAMEIntoOtherZone(t *testing.T) {
	n := startNetwork(t)

	resp := query(t, n.resolver.Addr(), "www.example.test.", dns.TypeA)
	expectRcode(t, "www.example.test. A", resp.Rcode, dns.RcodeSuccess)
	got := answerStrings(resp.Answer)
	want := []string{
		"www.example.test. 300 IN CNAME web.other.test.",
		"web.other.test. 300 IN A 192.0.2.80",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("answer = %q, expected %q", got, want)
	}
	// other.test. has a glueless NS, so its address came from example.test.
	if len(n.other.Queries()) == 0 {
		t.Errorf("the other.test. server got no query")
	}
}

func TestResolverNegativeAnswers(t *testing.T) {
	n := startNetwork(t)

	tests := []struct {
		name     string
		qname    string
		qtype    uint16
		rcode    int
		answers  int
		soaOwner string
	}{
		{"nxdomain", "nope.example.test.", dns.TypeA, dns.RcodeNameError, 0, "example.test."},
		{"nodata", "host.example.test.", dns.TypeAAAA, dns.RcodeSuccess, 0, "example.test."},
		{"nxdomain at the tld", "nope.test.", dns.TypeA, dns.RcodeNameError, 0, "test."},
		{"cname to nxdomain in another zone", "gone.other.test.", dns.TypeA, dns.RcodeNameError, 1, "example.test."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := query(t, n.resolver.Addr(), tc.qname, tc.qtype)
			expectRcode(t, tc.qname, resp.Rcode, tc.rcode)
			if len(resp.Answer) != tc.answers {
				t.Errorf("answer = %v, expected %d records", resp.Answer, tc.answers)
			}
			if len(resp.Ns) != 1 {
				t.Fatalf("authority = %v, expected one SOA record", resp.Ns)
			}
			soa, ok := resp.Ns[0].(*dns.SOA)
			if !ok || soa.Hdr.Name != tc.soaOwner {
				t.Errorf("authority = %v, expected the SOA of %s", resp.Ns[0], tc.soaOwner)
			}
		})
	}
}

func TestResolverCNAMELoop(t *testing.T) {
	n := startNetwork(t)

	resp := query(t, n.resolver.Addr(), "loop.example.test.", dns.TypeA)
	expectRcode(t, "cname loop", resp.Rcode, dns.RcodeServerFailure)
}

func TestResolverServerFailover(t *testing.T) {
	n := startNetwork(t, WithUpstreamTimeout(100*time.Millisecond))

	tests := []struct {
		name      string
		first     Faults
		second    Faults
		wantRcode int
	}{
		{"first refuses", Faults{Refuse: true}, Faults{}, dns.RcodeSuccess},
		{"first drops", Faults{Drop: true}, Faults{}, dns.RcodeSuccess},
		{"first lame without AA", Faults{NoAA: true}, Faults{}, dns.RcodeSuccess},
		{"both servfail", Faults{ServFail: true}, Faults{ServFail: true}, dns.RcodeServerFailure},
		{"both drop", Faults{Drop: true}, Faults{Drop: true}, dns.RcodeServerFailure},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n.example1.SetFaults(tc.first)
			n.example2.SetFaults(tc.second)
			t.Cleanup(func() {
				n.example1.SetFaults(Faults{})
				n.example2.SetFaults(Faults{})
			})
			resp := query(t, n.resolver.Addr(), "host.example.test.", dns.TypeA)
			expectRcode(t, tc.name, resp.Rcode, tc.wantRcode)
			if wantAnswers := tc.wantRcode == dns.RcodeSuccess; (len(resp.Answer) == 1) != wantAnswers {
				t.Errorf("answer = %v, expected an answer: %v", resp.Answer, wantAnswers)
			}
		})
	}
}

func TestResolverTruncation(t *testing.T) {
	n := startNetwork(t)
	m := newUpdate("example.test.")
	for i := range 30 {
		m.Insert([]dns.RR{mustRR(t, "big.example.test. 60 IN TXT \""+strings.Repeat("x", 41)+itoa2(i)+"\"")})
	}
	for _, s := range []*Server{n.example1, n.example2} {
		expectRcode(t, "insert big RRset", exchange(t, "tcp", s.Addr(), m).Rcode, dns.RcodeSuccess)
	}

	q := new(dns.Msg)
	q.SetQuestion("big.example.test.", dns.TypeTXT)
	resp := exchange(t, "udp", n.resolver.Addr(), q)
	if !resp.Truncated {
		t.Errorf("UDP answer without EDNS0 not truncated")
	}
	resp = exchange(t, "tcp", n.resolver.Addr(), q)
	if resp.Truncated || len(resp.Answer) != 30 {
		t.Errorf("TCP answer: TC=%v with %d records, expected 30 records", resp.Truncated, len(resp.Answer))
	}

	// The resolver retries over TCP when an authoritative server truncates.
	n.example1.SetFaults(Faults{TruncateUDP: true})
	n.example2.SetFaults(Faults{TruncateUDP: true})
	n.example1.ResetQueries()
	n.example2.ResetQueries()
	resp = query(t, n.resolver.Addr(), "host.example.test.", dns.TypeA)
	if len(resp.Answer) != 1 {
		t.Errorf("answer through truncating servers = %v, expected one record", resp.Answer)
	}
	var tcp int
	for _, entry := range append(n.example1.Queries(), n.example2.Queries()...) {
		if entry.Transport == "tcp" {
			tcp++
		}
	}
	if tcp == 0 {
		t.Errorf("resolver never retried over TCP")
	}
}

func TestResolverCaseAndLog(t *testing.T) {
	n := startNetwork(t)
	n.example1.SetFaults(Faults{LowercaseEcho: true})
	n.example2.SetFaults(Faults{LowercaseEcho: true})

	const qname = "HOST.Example.TEST."
	resp := query(t, n.resolver.Addr(), qname, dns.TypeA)
	if resp.Question[0].Name != qname {
		t.Errorf("question = %s, expected %s", resp.Question[0].Name, qname)
	}
	if len(resp.Answer) != 1 {
		t.Errorf("answer = %v, expected one record despite lower-cased owner names", resp.Answer)
	}

	log := n.resolver.Queries()
	if len(log) != 1 || log[0].Name != qname || log[0].Rcode != dns.RcodeSuccess || !log[0].RD || log[0].Transport != "udp" {
		t.Errorf("resolver log = %+v, expected one NOERROR entry for %s", log, qname)
	}
	n.resolver.ResetQueries()
	if len(n.resolver.Queries()) != 0 {
		t.Errorf("resolver log not empty after ResetQueries")
	}
}

func TestResolverResolveDirect(t *testing.T) {
	n := startNetwork(t)

	ctx, cancel := context.WithTimeout(t.Context(), queryTimeout)
	defer cancel()
	msg, err := n.resolver.Resolve(ctx, "web.other.test", dns.TypeA)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if len(msg.Answer) != 1 || msg.Answer[0].(*dns.A).A.String() != "192.0.2.80" {
		t.Errorf("answer = %v, expected web.other.test. A 192.0.2.80", msg.Answer)
	}

	n.root.SetFaults(Faults{Refuse: true})
	if _, err := n.resolver.Resolve(ctx, "web.other.test.", dns.TypeA); err == nil {
		t.Errorf("Resolve succeeded with a refusing root, expected an error")
	}
}

func TestNewResolverInvalid(t *testing.T) {
	tests := []struct {
		name  string
		roots []string
		port  int
		opts  []Option
	}{
		{"no roots", nil, 5353, nil},
		{"root without port", []string{"127.0.0.10"}, 5353, nil},
		{"port zero", []string{"127.0.0.10:5353"}, 0, nil},
		{"negative timeout", []string{"127.0.0.10:5353"}, 5353, []Option{WithUpstreamTimeout(-time.Second)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewResolver("127.0.0.2:0", tc.roots, tc.port, tc.opts...)
			if err == nil {
				r.Close()
				t.Errorf("NewResolver succeeded, expected an error")
			}
		})
	}
}

func TestResolverCNAMEChainLimit(t *testing.T) {
	n := startNetwork(t)

	// long0 -> ... -> long10 -> host: 11 CNAMEs. short0 -> ... -> short9
	// -> host: 10 CNAMEs, the maximum.
	m := newUpdate("example.test.")
	for i := range 11 {
		next := "long" + itoa2(i+1) + ".example.test."
		if i == 10 {
			next = "host.example.test."
		}
		m.Insert([]dns.RR{mustRR(t, "long"+itoa2(i)+".example.test. 60 IN CNAME "+next)})
	}
	for i := range 10 {
		next := "short" + itoa2(i+1) + ".example.test."
		if i == 9 {
			next = "host.example.test."
		}
		m.Insert([]dns.RR{mustRR(t, "short"+itoa2(i)+".example.test. 60 IN CNAME "+next)})
	}
	for _, s := range []*Server{n.example1, n.example2} {
		expectRcode(t, "insert chains", exchange(t, "tcp", s.Addr(), m).Rcode, dns.RcodeSuccess)
	}

	resp := exchange(t, "tcp", n.resolver.Addr(), new(dns.Msg).SetQuestion("short00.example.test.", dns.TypeA))
	expectRcode(t, "chain of 10", resp.Rcode, dns.RcodeSuccess)
	if len(resp.Answer) != 11 {
		t.Errorf("chain of 10: answer has %d records, expected 10 CNAMEs and 1 A", len(resp.Answer))
	}

	resp = exchange(t, "tcp", n.resolver.Addr(), new(dns.Msg).SetQuestion("long00.example.test.", dns.TypeA))
	expectRcode(t, "chain of 11", resp.Rcode, dns.RcodeServerFailure)
}
