package dnstest

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// queryTimeout bounds every query a test sends. Servers on loopback answer
// in well under a millisecond.
const queryTimeout = 2 * time.Second

const exampleZone = `
$TTL 3600
@        IN SOA ns1.example.test. hostmaster.example.test. 100 7200 3600 1209600 300
@        IN NS  ns1.example.test.
ns1      IN A   127.0.0.11
www      IN A   192.0.2.10
www      IN TXT "hello"
alias    IN CNAME www
alias2   IN CNAME alias
outside  IN CNAME target.other.test.
dangling IN CNAME missing.example.test.
a.b.c    IN TXT "deep"
sub      IN NS  ns.sub.example.test.
ns.sub   IN A   127.0.0.12
`

// freePort returns a port free on all ips or fails the test.
func freePort(t *testing.T, ips ...string) int {
	t.Helper()
	port, err := FreePort(ips...)
	if err != nil {
		t.Fatalf("FreePort(%v): %v", ips, err)
	}
	return port
}

// startServer starts a Server on ip:port, adds the zones (origin, text
// pairs) and closes the server when the test ends. Port 0 picks a free port.
func startServer(t *testing.T, ip string, port int, zones ...string) *Server {
	t.Helper()
	s, err := NewServer(joinAddr(ip, port))
	if err != nil {
		t.Fatalf("NewServer(%s): %v", joinAddr(ip, port), err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close(%s): %v", s.Addr(), err)
		}
	})
	for i := 0; i+1 < len(zones); i += 2 {
		if err := s.AddZone(zones[i], zones[i+1]); err != nil {
			t.Fatalf("AddZone(%s): %v", zones[i], err)
		}
	}
	return s
}

func joinAddr(ip string, port int) string {
	return net.JoinHostPort(ip, strconv.Itoa(port))
}

// exchange sends m over network ("udp" or "tcp") and fails the test on a
// transport error.
func exchange(t *testing.T, network, addr string, m *dns.Msg) *dns.Msg {
	t.Helper()
	resp, err := tryExchange(t, network, addr, m, queryTimeout)
	if err != nil {
		t.Fatalf("exchange %s over %s with %s: %v", m.Question[0].Name, network, addr, err)
	}
	return resp
}

func tryExchange(t *testing.T, network, addr string, m *dns.Msg, timeout time.Duration) (*dns.Msg, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	client := dns.Client{Net: network, Timeout: timeout}
	resp, _, err := client.ExchangeContext(ctx, m, addr)
	return resp, err
}

// query sends a plain query without EDNS0 over UDP.
func query(t *testing.T, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	return exchange(t, "udp", addr, m)
}

func mustRR(t *testing.T, text string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(text)
	if err != nil {
		t.Fatalf("dns.NewRR(%q): %v", text, err)
	}
	return rr
}

// txtValues returns the joined strings of every TXT record in rrs.
func txtValues(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		if txt, ok := rr.(*dns.TXT); ok {
			out = append(out, strings.Join(txt.Txt, ""))
		}
	}
	return out
}

func serialOf(t *testing.T, s *Server, origin string) uint32 {
	t.Helper()
	rrs := s.Lookup(origin, dns.TypeSOA)
	if len(rrs) != 1 {
		t.Fatalf("Lookup(%s, SOA) returned %d records, expected 1", origin, len(rrs))
	}
	return rrs[0].(*dns.SOA).Serial
}

// waitFor polls cond every 10ms until it returns true or timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cond()
}
