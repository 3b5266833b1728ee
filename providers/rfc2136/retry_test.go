package rfc2136_test

import (
	"strings"
	"testing"
	"time"

	"github.com/libdns/libdns"
	"github.com/miekg/dns"

	"github.com/dnscert/dnscert/internal/dnstest"
	"github.com/dnscert/dnscert/providers/rfc2136"
)

// An update whose answer never comes is sent again, which is safe because
// adding a present value or removing an absent one changes nothing.
func TestUpdateRetriedAfterTimeout(t *testing.T) {
	srv, err := dnstest.NewServer("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if err := srv.AddZone("retry.test.", "@ 300 IN SOA ns.retry.test. host.retry.test. 1 60 60 600 60\n@ 300 IN NS ns.retry.test.\n"); err != nil {
		t.Fatal(err)
	}
	srv.SetFaults(dnstest.Faults{Drop: true})
	time.AfterFunc(400*time.Millisecond, func() { srv.SetFaults(dnstest.Faults{}) })

	p := &rfc2136.Provider{Nameserver: srv.Addr(), Timeout: 300 * time.Millisecond}
	_, err = p.AppendRecords(t.Context(), "retry.test.", []libdns.Record{
		libdns.TXT{Name: "_acme-challenge", TTL: time.Minute, Text: "value"},
	})
	if err != nil {
		t.Fatalf("append after a lost answer: %v", err)
	}
	rrs := srv.Lookup("_acme-challenge.retry.test.", dns.TypeTXT)
	if len(rrs) != 1 || strings.Join(rrs[0].(*dns.TXT).Txt, "") != "value" {
		t.Errorf("server holds %v, want one value", rrs)
	}
}

// A server that keeps dropping updates fails after a bounded number of
// attempts, with an error that names the server.
func TestUpdateRetriesBounded(t *testing.T) {
	srv, err := dnstest.NewServer("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if err := srv.AddZone("retry.test.", "@ 300 IN SOA ns.retry.test. host.retry.test. 1 60 60 600 60\n"); err != nil {
		t.Fatal(err)
	}
	srv.SetFaults(dnstest.Faults{Drop: true})
	p := &rfc2136.Provider{Nameserver: srv.Addr(), Timeout: 200 * time.Millisecond}
	start := time.Now()
	_, err = p.AppendRecords(t.Context(), "retry.test.", []libdns.Record{
		libdns.TXT{Name: "_acme-challenge", TTL: time.Minute, Text: "value"},
	})
	if err == nil {
		t.Fatal("append to a silent server succeeded")
	}
	if !strings.Contains(err.Error(), srv.Addr()) || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("error %q does not name the server and the timeout", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("gave up after %s", took)
	}
	var updates int
	for _, q := range srv.Queries() {
		if q.Opcode == dns.OpcodeUpdate {
			updates++
		}
	}
	if updates != 3 {
		t.Errorf("server received %d updates, want 3 attempts", updates)
	}
}
