package dnstest

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestFaultRcodes(t *testing.T) {
	s := startServer(t, "127.0.0.11", 0, "example.test.", exampleZone)

	tests := []struct {
		name   string
		faults Faults
		rcode  int
	}{
		{"refuse", Faults{Refuse: true}, dns.RcodeRefused},
		{"servfail", Faults{ServFail: true}, dns.RcodeServerFailure},
		{"refuse wins over servfail", Faults{Refuse: true, ServFail: true}, dns.RcodeRefused},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s.SetFaults(tc.faults)
			t.Cleanup(func() { s.SetFaults(Faults{}) })

			resp := query(t, s.Addr(), "www.example.test.", dns.TypeA)
			expectRcode(t, "query", resp.Rcode, tc.rcode)
			if len(resp.Answer) != 0 {
				t.Errorf("faulty response has answer records: %v", resp.Answer)
			}

			m := newUpdate("example.test.")
			m.Insert([]dns.RR{mustRR(t, "fault.example.test. 60 IN TXT \"x\"")})
			expectRcode(t, "update", update(t, s.Addr(), m), tc.rcode)
			if rrs := s.Lookup("fault.example.test.", dns.TypeTXT); rrs != nil {
				t.Errorf("update applied on a faulty server: %v", rrs)
			}
		})
	}

	resp := query(t, s.Addr(), "www.example.test.", dns.TypeA)
	if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 1 {
		t.Errorf("after clearing faults: rcode %s answer %v, expected a normal answer", dns.RcodeToString[resp.Rcode], resp.Answer)
	}
}

func TestFaultNoAA(t *testing.T) {
	s := startServer(t, "127.0.0.11", 0, "example.test.", exampleZone)
	s.SetFaults(Faults{NoAA: true})

	resp := query(t, s.Addr(), "www.example.test.", dns.TypeA)
	if resp.Authoritative {
		t.Errorf("AA set with the NoAA fault")
	}
	if len(resp.Answer) != 1 {
		t.Errorf("answer = %v, expected one record", resp.Answer)
	}
	if got := s.Faults(); got != (Faults{NoAA: true}) {
		t.Errorf("Faults() = %+v, expected NoAA only", got)
	}
}

func TestFaultTruncateUDP(t *testing.T) {
	s := startServer(t, "127.0.0.11", 0, "example.test.", exampleZone)
	s.SetFaults(Faults{TruncateUDP: true})

	m := new(dns.Msg)
	m.SetQuestion("www.example.test.", dns.TypeA)
	m.SetEdns0(4096, false)
	resp := exchange(t, "udp", s.Addr(), m)
	if !resp.Truncated {
		t.Errorf("TC not set over UDP")
	}
	if len(resp.Answer) != 0 {
		t.Errorf("truncated UDP answer has records: %v", resp.Answer)
	}
	if resp.IsEdns0() == nil {
		t.Errorf("truncated UDP answer lost its OPT record")
	}

	resp = exchange(t, "tcp", s.Addr(), m)
	if resp.Truncated || len(resp.Answer) != 1 {
		t.Errorf("TCP answer: TC=%v answer %v, expected the full answer", resp.Truncated, resp.Answer)
	}

	log := s.Queries()
	if len(log) != 2 || !log[0].Truncated || log[1].Truncated {
		t.Errorf("query log = %+v, expected a truncated UDP entry then a full TCP entry", log)
	}
}

func TestFaultDrop(t *testing.T) {
	s := startServer(t, "127.0.0.11", 0, "example.test.", exampleZone)
	s.SetFaults(Faults{Drop: true})

	m := new(dns.Msg)
	m.SetQuestion("www.example.test.", dns.TypeA)
	for _, network := range []string{"udp", "tcp"} {
		resp, err := tryExchange(t, network, s.Addr(), m, 150*time.Millisecond)
		var netErr net.Error
		if !errors.As(err, &netErr) || !netErr.Timeout() {
			t.Errorf("%s: response %v, error %v; expected a timeout", network, resp, err)
		}
	}

	log := s.Queries()
	if len(log) != 2 {
		t.Fatalf("query log has %d entries, expected 2", len(log))
	}
	for _, q := range log {
		if q.Rcode != NoResponse {
			t.Errorf("dropped %s query logged with rcode %d, expected NoResponse", q.Transport, q.Rcode)
		}
	}
}

func TestFaultLowercaseEcho(t *testing.T) {
	s := startServer(t, "127.0.0.11", 0, "example.test.", exampleZone)
	s.SetFaults(Faults{LowercaseEcho: true})

	const qname = "WWW.Example.TEST."
	resp := query(t, s.Addr(), qname, dns.TypeA)
	if resp.Question[0].Name != qname {
		t.Errorf("question = %s, expected %s as sent", resp.Question[0].Name, qname)
	}
	if len(resp.Answer) != 1 {
		t.Fatalf("answer has %d records, expected 1", len(resp.Answer))
	}
	if got := resp.Answer[0].Header().Name; got != "www.example.test." {
		t.Errorf("answer owner = %s, expected www.example.test.", got)
	}
}
