package dns01_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnscert/dnscert/dns01"
	"github.com/dnscert/dnscert/internal/dnstest"
	"github.com/dnscert/dnscert/providers/rfc2136"
)

const zoneText = "@ 300 IN SOA ns.%s host.%s 1 60 60 600 60\n@ 300 IN NS ns.%s\n"

// server starts a DNS server for zone that accepts unsigned updates.
func server(t *testing.T, zone string) *dnstest.Server {
	t.Helper()
	s, err := dnstest.NewServer("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	text := strings.ReplaceAll(zoneText, "%s", zone)
	if err := s.AddZone(zone, text); err != nil {
		t.Fatal(err)
	}
	return s
}

func values(s *dnstest.Server, name string) []string {
	var out []string
	for _, rr := range s.Lookup(name, dns.TypeTXT) {
		out = append(out, strings.Join(rr.(*dns.TXT).Txt, ""))
	}
	return out
}

func publisher(t *testing.T, servers map[string]*dnstest.Server) *dns01.Publisher {
	t.Helper()
	journal, err := dns01.OpenJournal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { journal.Close() })
	provs := make(map[string]dns01.Provider)
	for name, s := range servers {
		provs[name] = &rfc2136.Provider{Nameserver: s.Addr(), Timeout: time.Second}
	}
	return &dns01.Publisher{Providers: provs, Journal: journal}
}

func plan(records ...dns01.Record) *dns01.Plan {
	return &dns01.Plan{Records: records}
}

func TestPublishOneCallPerZone(t *testing.T) {
	a := server(t, "a.test.")
	pub := publisher(t, map[string]*dnstest.Server{"a": a})
	p := plan(
		dns01.Record{Provider: "a", Zone: "a.test.", Name: "_acme-challenge.a.test.", Value: "apex"},
		dns01.Record{Provider: "a", Zone: "a.test.", Name: "_acme-challenge.a.test.", Value: "wildcard"},
		dns01.Record{Provider: "a", Zone: "a.test.", Name: "_acme-challenge.www.a.test.", Value: "www"},
	)
	if err := pub.Publish(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	if got := values(a, "_acme-challenge.a.test."); len(got) != 2 {
		t.Errorf("apex name serves %v, want both values", got)
	}
	if pub.Calls() != 1 {
		t.Errorf("%d provider calls to publish one zone, want 1", pub.Calls())
	}
	if err := pub.Cleanup(t.Context(), p.Records); err != nil {
		t.Fatal(err)
	}
	if got := values(a, "_acme-challenge.a.test."); len(got) != 0 {
		t.Errorf("after cleanup the name serves %v", got)
	}
	if len(pub.Journal.Records()) != 0 {
		t.Errorf("journal still lists %v", pub.Journal.Records())
	}
}

// A failure in one zone removes what the other zones already published.
func TestPublishRollsBackOnFailure(t *testing.T) {
	good := server(t, "good.test.")
	bad := server(t, "bad.test.")
	bad.SetFaults(dnstest.Faults{Refuse: true})
	pub := publisher(t, map[string]*dnstest.Server{"good": good, "bad": bad})
	p := plan(
		dns01.Record{Provider: "good", Zone: "good.test.", Name: "_acme-challenge.good.test.", Value: "v1"},
		dns01.Record{Provider: "bad", Zone: "bad.test.", Name: "_acme-challenge.bad.test.", Value: "v2"},
	)
	err := pub.Publish(t.Context(), p)
	var perr *dns01.ProviderError
	if !errors.As(err, &perr) {
		t.Fatalf("err = %v, want a ProviderError", err)
	}
	if perr.Provider != "bad" || perr.Zone != "bad.test." {
		t.Errorf("error names %s/%s, want bad/bad.test.", perr.Provider, perr.Zone)
	}
	if got := values(good, "_acme-challenge.good.test."); len(got) != 0 {
		t.Errorf("the good zone still serves %v after the rollback", got)
	}
	// The server refused the update, so the bad zone is unchanged and
	// nothing is left for a later cleanup.
	if left := pub.Journal.Records(); len(left) != 0 {
		t.Errorf("journal lists %+v, want nothing", left)
	}
}

// When a zone's update got no answer, it may or may not have been applied:
// its values stay in the journal for a later cleanup.
func TestPublishKeepsUnknownOutcomeInJournal(t *testing.T) {
	good := server(t, "good.test.")
	silent := server(t, "silent.test.")
	silent.SetFaults(dnstest.Faults{Drop: true})
	pub := publisher(t, map[string]*dnstest.Server{"good": good, "silent": silent})
	pub.Providers["silent"] = &rfc2136.Provider{Nameserver: silent.Addr(), Timeout: 100 * time.Millisecond}
	p := plan(
		dns01.Record{Provider: "good", Zone: "good.test.", Name: "_acme-challenge.good.test.", Value: "v1"},
		dns01.Record{Provider: "silent", Zone: "silent.test.", Name: "_acme-challenge.silent.test.", Value: "v2"},
	)
	if err := pub.Publish(t.Context(), p); err == nil {
		t.Fatal("publish to a silent server succeeded")
	}
	if got := values(good, "_acme-challenge.good.test."); len(got) != 0 {
		t.Errorf("the good zone still serves %v after the rollback", got)
	}
	left := pub.Journal.Records()
	if len(left) != 1 || left[0].Zone != "silent.test." {
		t.Errorf("journal lists %+v, want only the silent zone's record", left)
	}
}

// Cleanup still runs when the run's context is already cancelled.
func TestCleanupAfterCancel(t *testing.T) {
	a := server(t, "a.test.")
	pub := publisher(t, map[string]*dnstest.Server{"a": a})
	p := plan(dns01.Record{Provider: "a", Zone: "a.test.", Name: "_acme-challenge.a.test.", Value: "v"})
	if err := pub.Publish(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := pub.Cleanup(ctx, p.Records); err != nil {
		t.Fatal(err)
	}
	if got := values(a, "_acme-challenge.a.test."); len(got) != 0 {
		t.Errorf("cleanup on a cancelled context left %v", got)
	}
}

// Values that others put at the same name survive publish and cleanup.
func TestCleanupKeepsForeignValues(t *testing.T) {
	a := server(t, "a.test.")
	pub := publisher(t, map[string]*dnstest.Server{"a": a})
	foreign := plan(dns01.Record{Provider: "a", Zone: "a.test.", Name: "_acme-challenge.a.test.", Value: "other-system-token"})
	if err := pub.Publish(t.Context(), foreign); err != nil {
		t.Fatal(err)
	}
	ours := plan(dns01.Record{Provider: "a", Zone: "a.test.", Name: "_acme-challenge.a.test.", Value: "ours"})
	if err := pub.Publish(t.Context(), ours); err != nil {
		t.Fatal(err)
	}
	if err := pub.Cleanup(t.Context(), ours.Records); err != nil {
		t.Fatal(err)
	}
	got := values(a, "_acme-challenge.a.test.")
	if len(got) != 1 || got[0] != "other-system-token" {
		t.Errorf("name serves %v, want only the foreign value", got)
	}
}
