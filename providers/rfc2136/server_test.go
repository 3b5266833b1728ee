package rfc2136_test

import (
	"errors"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// testServer is a small authoritative server for one zone on loopback TCP.
// It applies RFC 2136 additions (class IN) and single-value deletions
// (class NONE) to an in-memory zone, serves AXFR, checks TSIG with the
// miekg/dns server, and records every UPDATE message it receives.
type testServer struct {
	addr string
	zone string

	mu                sync.Mutex
	soa               *dns.SOA
	records           []dns.RR   // the zone without its SOA, in insertion order
	updates           []*dns.Msg // every UPDATE received, signed or not
	reject            bool       // respond REFUSED to updates and transfers
	unsigned          bool       // leave responses unsigned even for signed requests
	keyed             bool       // reject unsigned requests with REFUSED
	recordsPerMessage int        // records per AXFR message
	algorithms        []string   // TSIG algorithm of each signed request
}

type serverConfig struct {
	// keys maps lower-case FQDN key names to base64 secrets.
	keys map[string]string
	// provider replaces keys for signing and verifying when set.
	provider dns.TsigProvider
}

const testZone = "example.test."

func startServer(t *testing.T, cfg serverConfig) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on loopback: %v", err)
	}
	s := &testServer{
		addr:              ln.Addr().String(),
		zone:              testZone,
		keyed:             cfg.keys != nil || cfg.provider != nil,
		recordsPerMessage: 10,
		soa: &dns.SOA{
			Hdr:     dns.RR_Header{Name: testZone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 3600},
			Ns:      "ns1." + testZone,
			Mbox:    "hostmaster." + testZone,
			Serial:  1,
			Refresh: 3600, Retry: 600, Expire: 86400, Minttl: 60,
		},
		records: []dns.RR{
			&dns.NS{Hdr: dns.RR_Header{Name: testZone, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: 3600}, Ns: "ns1." + testZone},
			&dns.A{Hdr: dns.RR_Header{Name: "ns1." + testZone, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 3600}, A: net.IPv4(127, 0, 0, 1)},
		},
	}

	srv := &dns.Server{
		Listener:      ln,
		Net:           "tcp",
		Handler:       s,
		TsigSecret:    cfg.keys,
		TsigProvider:  cfg.provider,
		MsgAcceptFunc: acceptRequests,
	}

	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	done := make(chan error, 1)
	go func() { done <- srv.ActivateAndServe() }()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("start test DNS server: %v", err)
	}

	t.Cleanup(func() {
		if err := srv.Shutdown(); err != nil {
			t.Errorf("stop test DNS server: %v", err)
		}
	})
	return s
}

// acceptRequests accepts every request. The default miekg/dns filter
// rejects UPDATE messages with NOTIMP.
func acceptRequests(dh dns.Header) dns.MsgAcceptAction {
	const qr = 1 << 15
	if dh.Bits&qr != 0 {
		return dns.MsgIgnore
	}
	return dns.MsgAccept
}

func (s *testServer) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	s.mu.Lock()
	defer s.mu.Unlock()

	if r.Opcode == dns.OpcodeUpdate {
		s.updates = append(s.updates, r.Copy())
	}
	tsig := r.IsTsig()
	if tsig != nil {
		s.algorithms = append(s.algorithms, tsig.Algorithm)
		if status := w.TsigStatus(); status != nil {
			s.rejectTSIG(w, r, tsig, status)
			return
		}
	} else if s.keyed {
		s.reply(w, r, dns.RcodeRefused)
		return
	}

	switch {
	case len(r.Question) != 1 || dns.CanonicalName(r.Question[0].Name) != s.zone:
		s.reply(w, r, dns.RcodeNotAuth)
	case s.reject:
		s.reply(w, r, dns.RcodeRefused)
	case r.Opcode == dns.OpcodeUpdate:
		s.reply(w, r, s.applyUpdate(r.Ns))
	case r.Opcode == dns.OpcodeQuery && r.Question[0].Qtype == dns.TypeAXFR:
		s.transferOut(w, r)
	default:
		s.reply(w, r, dns.RcodeRefused)
	}
}

// rejectTSIG responds NOTAUTH with the TSIG error for status. miekg/dns
// leaves the MAC empty for BADSIG and BADKEY, citing RFC 8945 section 5.3.2.
func (s *testServer) rejectTSIG(w dns.ResponseWriter, r *dns.Msg, tsig *dns.TSIG, status error) {
	code := dns.RcodeBadSig
	switch {
	case errors.Is(status, dns.ErrSecret):
		code = dns.RcodeBadKey
	case errors.Is(status, dns.ErrTime):
		code = dns.RcodeBadTime
	}
	m := new(dns.Msg).SetRcode(r, dns.RcodeNotAuth)
	m.SetTsig(tsig.Hdr.Name, tsig.Algorithm, tsig.Fudge, time.Now().Unix())
	m.IsTsig().Error = uint16(code)
	_ = w.WriteMsg(m)
}

func (s *testServer) reply(w dns.ResponseWriter, r *dns.Msg, rcode int) {
	m := new(dns.Msg).SetRcode(r, rcode)
	s.sign(m, r)
	_ = w.WriteMsg(m)
}

func (s *testServer) sign(m, r *dns.Msg) {
	if t := r.IsTsig(); t != nil && !s.unsigned {
		m.SetTsig(t.Hdr.Name, t.Algorithm, t.Fudge, time.Now().Unix())
	}
}

// applyUpdate checks every update RR before changing anything, so a
// rejected update leaves the zone as it was.
func (s *testServer) applyUpdate(ns []dns.RR) int {
	for _, rr := range ns {
		h := rr.Header()
		if !dns.IsSubDomain(s.zone, dns.CanonicalName(h.Name)) {
			return dns.RcodeNotZone
		}
		switch {
		case h.Class == dns.ClassINET:
		case h.Class == dns.ClassNONE && h.Ttl == 0:
		default:
			// RRset and name deletions (class ANY) are not implemented
			// here, because the provider must never send them.
			return dns.RcodeFormatError
		}
	}
	for _, rr := range ns {
		rr = dns.Copy(rr)
		h := rr.Header()
		h.Name = dns.CanonicalName(h.Name)
		if h.Class == dns.ClassINET {
			if !slices.ContainsFunc(s.records, func(have dns.RR) bool { return dns.IsDuplicate(have, rr) }) {
				s.records = append(s.records, rr)
			}
			continue
		}
		h.Class = dns.ClassINET
		s.records = slices.DeleteFunc(s.records, func(have dns.RR) bool { return dns.IsDuplicate(have, rr) })
	}
	s.soa.Serial++
	return dns.RcodeSuccess
}

// transferOut sends the zone as SOA, records, SOA, recordsPerMessage records per
// message, signing each message the way miekg/dns's Transfer.Out does.
func (s *testServer) transferOut(w dns.ResponseWriter, r *dns.Msg) {
	all := append([]dns.RR{s.soa}, s.records...)
	all = append(all, s.soa)
	for chunk := range slices.Chunk(all, s.recordsPerMessage) {
		m := new(dns.Msg).SetReply(r)
		m.Authoritative = true
		m.Answer = slices.Clone(chunk)
		s.sign(m, r)
		if err := w.WriteMsg(m); err != nil {
			return
		}
		w.TsigTimersOnly(true)
	}
}

// lookup returns the records at the absolute name with the given type.
func (s *testServer) lookup(name string, rrtype uint16) []dns.RR {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []dns.RR
	for _, rr := range s.records {
		if rr.Header().Name == dns.CanonicalName(name) && rr.Header().Rrtype == rrtype {
			out = append(out, dns.Copy(rr))
		}
	}
	return out
}

// txtValues returns the character-strings of each TXT record at name,
// in miekg/dns presentation form.
func (s *testServer) txtValues(name string) [][]string {
	var out [][]string
	for _, rr := range s.lookup(name, dns.TypeTXT) {
		out = append(out, rr.(*dns.TXT).Txt)
	}
	return out
}

func (s *testServer) updateMessages() []*dns.Msg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.updates)
}

func (s *testServer) set(f func(s *testServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

// startSilentServer accepts TCP connections on loopback and never
// answers, for timeout and cancellation tests.
func startSilentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on loopback: %v", err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}
