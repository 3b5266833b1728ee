package propagation_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/dnscert/dnscert/internal/syncbuf"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnscert/dnscert/internal/dnstest"
	"github.com/dnscert/dnscert/internal/testbed"
	"github.com/dnscert/dnscert/propagation"
)

// network starts the test DNS network for zones and returns a client that
// uses its resolver and port.
func network(t *testing.T, zones []testbed.ZoneSpec) (*testbed.DNS, *propagation.Client) {
	t.Helper()
	d, err := testbed.StartDNS(zones, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	c := &propagation.Client{
		Resolvers:    []string{d.ResolverAddr()},
		Port:         d.Port,
		QueryTimeout: 500 * time.Millisecond,
	}
	return d, c
}

// update sends a TSIG-signed RFC 2136 update to the network's primary.
func update(t *testing.T, d *testbed.DNS, zone string, insert []dns.RR, remove []dns.RR) {
	t.Helper()
	m := new(dns.Msg)
	m.SetUpdate(zone)
	if len(insert) > 0 {
		m.Insert(insert)
	}
	if len(remove) > 0 {
		m.Remove(remove)
	}
	m.SetTsig(testbed.TSIGKey, dns.HmacSHA256, 300, time.Now().Unix())
	c := &dns.Client{Net: "tcp", TsigSecret: map[string]string{testbed.TSIGKey: d.TSIGSecret}}
	r, _, err := c.Exchange(m, d.PrimaryAddr())
	if err != nil {
		t.Fatalf("update %s: %v", zone, err)
	}
	if r.Rcode != dns.RcodeSuccess {
		t.Fatalf("update %s: %s", zone, dns.RcodeToString[r.Rcode])
	}
}

func txt(name, value string) dns.RR {
	return &dns.TXT{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}, Txt: []string{value}}
}

func exampleZone(records string) testbed.ZoneSpec {
	return testbed.ZoneSpec{
		Origin:      "example.test.",
		Nameservers: []string{"127.0.0.11", "127.0.0.12"},
		Records:     records,
	}
}

func nameservers(z propagation.Zone) []string {
	var out []string
	for _, ns := range z.Nameservers {
		for _, a := range ns.Addrs {
			out = append(out, ns.Name+"="+a.String())
		}
	}
	return out
}

func TestResolvePlainName(t *testing.T) {
	_, c := network(t, []testbed.ZoneSpec{exampleZone("www IN A 127.0.0.1\n")})
	target, err := c.Resolve(t.Context(), "_acme-challenge.www.example.test")
	if err != nil {
		t.Fatal(err)
	}
	if target.Name != "_acme-challenge.www.example.test." {
		t.Errorf("name = %s", target.Name)
	}
	if target.Zone.Name != "example.test." {
		t.Errorf("zone = %s, want example.test.", target.Zone.Name)
	}
	got := strings.Join(nameservers(target.Zone), " ")
	want := "ns1.example.test.=127.0.0.11 ns2.example.test.=127.0.0.12"
	if got != want {
		t.Errorf("nameservers = %s, want %s", got, want)
	}
	if len(target.Chain) != 0 {
		t.Errorf("chain = %v, want none", target.Chain)
	}
}

func TestResolveApexAndUpperCase(t *testing.T) {
	_, c := network(t, []testbed.ZoneSpec{exampleZone("")})
	target, err := c.Resolve(t.Context(), "_ACME-challenge.Example.TEST.")
	if err != nil {
		t.Fatal(err)
	}
	if target.Name != "_acme-challenge.example.test." || target.Zone.Name != "example.test." {
		t.Errorf("got %s in %s", target.Name, target.Zone.Name)
	}
}

func TestResolveDelegatedSubzone(t *testing.T) {
	_, c := network(t, []testbed.ZoneSpec{
		exampleZone(""),
		{Origin: "sub.example.test.", Nameservers: []string{"127.0.0.13"}, Records: "a IN A 127.0.0.1\n"},
	})
	target, err := c.Resolve(t.Context(), "_acme-challenge.a.sub.example.test.")
	if err != nil {
		t.Fatal(err)
	}
	if target.Zone.Name != "sub.example.test." {
		t.Errorf("zone = %s, want sub.example.test.", target.Zone.Name)
	}
	if got := strings.Join(nameservers(target.Zone), " "); got != "ns1.sub.example.test.=127.0.0.13" {
		t.Errorf("nameservers = %s", got)
	}
}

// A zone delegated at the challenge name itself is found by following the
// referral from the parent zone's servers.
func TestResolveDelegatedChallengeName(t *testing.T) {
	_, c := network(t, []testbed.ZoneSpec{
		exampleZone("www IN A 127.0.0.1\n"),
		{Origin: "_acme-challenge.www.example.test.", Nameservers: []string{"127.0.0.13"}},
	})
	target, err := c.Resolve(t.Context(), "_acme-challenge.www.example.test.")
	if err != nil {
		t.Fatal(err)
	}
	if target.Zone.Name != "_acme-challenge.www.example.test." {
		t.Errorf("zone = %s, want the delegated _acme-challenge zone", target.Zone.Name)
	}
}

// A CNAME into a subzone delegated to another server (as with acme-dns) is
// followed to that subzone's servers, not to the parent's.
func TestResolveCNAMEToDelegatedZone(t *testing.T) {
	d, c := network(t, []testbed.ZoneSpec{
		exampleZone("www IN A 127.0.0.1\n_acme-challenge.www IN CNAME u1.auth.other.test.\n"),
		{Origin: "other.test.", Nameservers: []string{"127.0.0.13"}},
		{Origin: "auth.other.test.", Nameservers: []string{"127.0.0.14"}},
	})
	d.Resolver.ResetQueries()
	target, err := c.Resolve(t.Context(), "_acme-challenge.www.example.test.")
	if err != nil {
		t.Fatal(err)
	}
	if target.Name != "u1.auth.other.test." || target.Zone.Name != "auth.other.test." {
		t.Errorf("target %s in %s, want u1.auth.other.test. in auth.other.test.", target.Name, target.Zone.Name)
	}
	wantChain := "_acme-challenge.www.example.test. -> u1.auth.other.test."
	if got := strings.Join(target.Chain, " -> "); got != wantChain {
		t.Errorf("chain = %s, want %s", got, wantChain)
	}
	// Neither the challenge name nor the CNAME target may reach the shared
	// resolver before publishing: it could cache a negative answer.
	for _, q := range d.Resolver.Queries() {
		name := strings.ToLower(q.Name)
		if name == "_acme-challenge.www.example.test." || name == "u1.auth.other.test." {
			t.Errorf("resolver was asked %s %s", q.Name, dns.TypeToString[q.Type])
		}
	}
}

// Asking a resolver for the SOA of a host that is a CNAME into another zone
// returns that zone's SOA; the walk must skip it and pick the host's zone.
func TestResolveHostIsCNAMEElsewhere(t *testing.T) {
	_, c := network(t, []testbed.ZoneSpec{
		{Origin: "site.test.", Nameservers: []string{"127.0.0.11"}, Records: "www IN CNAME www.cdn.test.\n"},
		{Origin: "cdn.test.", Nameservers: []string{"127.0.0.13"}, Records: "www IN A 127.0.0.1\n"},
	})
	target, err := c.Resolve(t.Context(), "_acme-challenge.www.site.test.")
	if err != nil {
		t.Fatal(err)
	}
	if target.Zone.Name != "site.test." {
		t.Errorf("zone = %s, want site.test.", target.Zone.Name)
	}
}

func TestResolveCNAMELoop(t *testing.T) {
	_, c := network(t, []testbed.ZoneSpec{exampleZone(
		"_acme-challenge.a IN CNAME b.example.test.\nb IN CNAME _acme-challenge.a.example.test.\n")})
	_, err := c.Resolve(t.Context(), "_acme-challenge.a.example.test.")
	if err == nil || !strings.Contains(err.Error(), "CNAME loop") {
		t.Fatalf("err = %v, want a CNAME loop error", err)
	}
}

func TestResolveCNAMEDepthLimit(t *testing.T) {
	var records strings.Builder
	records.WriteString("_acme-challenge.a IN CNAME c0.example.test.\n")
	for i := range propagation.MaxCNAMEs + 1 {
		fmt.Fprintf(&records, "c%d IN CNAME c%d.example.test.\n", i, i+1)
	}
	_, c := network(t, []testbed.ZoneSpec{exampleZone(records.String())})
	_, err := c.Resolve(t.Context(), "_acme-challenge.a.example.test.")
	if err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("err = %v, want a depth error", err)
	}
}

func TestResolveUnknownZone(t *testing.T) {
	_, c := network(t, []testbed.ZoneSpec{exampleZone("")})
	_, err := c.Resolve(t.Context(), "_acme-challenge.nowhere.invalid.")
	if err == nil {
		t.Fatal("no error for a name outside every zone")
	}
}

// The SOA MNAME names a hidden primary that is not in the NS set; it must
// not be part of the checked servers.
func TestNameserversIgnoreHiddenPrimary(t *testing.T) {
	_, c := network(t, []testbed.ZoneSpec{exampleZone("")})
	zone, err := c.Nameservers(t.Context(), "example.test.")
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range zone.Nameservers {
		if ns.Name == "primary.test." {
			t.Errorf("hidden primary listed as a nameserver")
		}
	}
	if len(zone.Nameservers) != 2 {
		t.Errorf("got %d nameservers, want 2", len(zone.Nameservers))
	}
}

func resolveZone(t *testing.T, c *propagation.Client, name string) propagation.Target {
	t.Helper()
	target, err := c.Resolve(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	return target
}

func TestWaitLaggingSecondary(t *testing.T) {
	zone := exampleZone("")
	zone.Delays = map[string]time.Duration{"127.0.0.12": 1500 * time.Millisecond}
	d, c := network(t, []testbed.ZoneSpec{zone})
	var logs syncbuf.Buffer
	c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	name := "_acme-challenge.example.test."
	target := resolveZone(t, c, name)

	update(t, d, "example.test.", []dns.RR{txt(name, "apex-value"), txt(name, "wildcard-value")}, nil)
	published := time.Now()
	err := c.Wait(t.Context(), []propagation.Record{
		{Name: name, Zone: target.Zone, Values: []string{"apex-value"}},
		{Name: name, Zone: target.Zone, Values: []string{"wildcard-value"}},
	}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(published); waited < 1500*time.Millisecond {
		t.Errorf("Wait returned after %s, before the secondary had the records", waited)
	}
	got := d.TXT(name)["127.0.0.12"]
	if len(got) != 2 {
		t.Errorf("lagging secondary serves %v, want both values", got)
	}
	if !strings.Contains(logs.String(), "ns2.example.test.") || !strings.Contains(logs.String(), "still waiting") {
		t.Errorf("log does not show the wait for ns2:\n%s", logs.String())
	}
}

func TestWaitTimeoutNamesLaggingServer(t *testing.T) {
	zone := exampleZone("")
	zone.Delays = map[string]time.Duration{"127.0.0.12": -1}
	d, c := network(t, []testbed.ZoneSpec{zone})
	name := "_acme-challenge.example.test."
	target := resolveZone(t, c, name)
	update(t, d, "example.test.", []dns.RR{txt(name, "v")}, nil)

	err := c.Wait(t.Context(), []propagation.Record{{Name: name, Zone: target.Zone, Values: []string{"v"}}}, time.Second)
	var timeout *propagation.TimeoutError
	if !errors.As(err, &timeout) {
		t.Fatalf("err = %v, want a TimeoutError", err)
	}
	if len(timeout.Lagging) != 1 || timeout.Lagging[0].Nameserver != "ns2.example.test." {
		t.Errorf("lagging = %+v, want only ns2", timeout.Lagging)
	}
	for _, want := range []string{"ns2.example.test.", "127.0.0.12", name} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if strings.Contains(err.Error(), "ns1.example.test.") {
		t.Errorf("error %q names ns1, which serves the record", err)
	}
}

func TestWaitReportsLameServer(t *testing.T) {
	for _, tt := range []struct {
		name   string
		faults dnstest.Faults
		state  string
	}{
		{name: "refused", faults: dnstest.Faults{Refuse: true}, state: "REFUSED"},
		{name: "servfail", faults: dnstest.Faults{ServFail: true}, state: "SERVFAIL"},
		{name: "not authoritative", faults: dnstest.Faults{NoAA: true}, state: "not authoritative"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d, c := network(t, []testbed.ZoneSpec{exampleZone("")})
			name := "_acme-challenge.example.test."
			target := resolveZone(t, c, name)
			update(t, d, "example.test.", []dns.RR{txt(name, "v")}, nil)
			d.Nameserver("127.0.0.12").SetFaults(tt.faults)

			start := time.Now()
			err := c.Wait(t.Context(), []propagation.Record{{Name: name, Zone: target.Zone, Values: []string{"v"}}}, time.Minute)
			var lame *propagation.LameError
			if !errors.As(err, &lame) {
				t.Fatalf("err = %v, want a LameError", err)
			}
			if lame.Nameserver != "ns2.example.test." {
				t.Errorf("lame server = %s, want ns2", lame.Nameserver)
			}
			if !strings.Contains(err.Error(), tt.state) {
				t.Errorf("error %q does not say %s", err, tt.state)
			}
			if took := time.Since(start); took > 20*time.Second {
				t.Errorf("lame server reported after %s, should not wait for the deadline", took)
			}
		})
	}
}

// Many values at one name exceed the UDP size; the answer comes back
// truncated and must be read over TCP instead of counted as missing.
func TestWaitTruncatedAnswer(t *testing.T) {
	d, c := network(t, []testbed.ZoneSpec{exampleZone("")})
	name := "_acme-challenge.example.test."
	target := resolveZone(t, c, name)
	var rrs []dns.RR
	var values []string
	for i := range 30 {
		v := fmt.Sprintf("%043d", i)
		values = append(values, v)
		rrs = append(rrs, txt(name, v))
	}
	update(t, d, "example.test.", rrs, nil)
	d.Nameserver("127.0.0.11").ResetQueries()

	err := c.Wait(t.Context(), []propagation.Record{{Name: name, Zone: target.Zone, Values: values}}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var tcp bool
	for _, q := range d.Nameserver("127.0.0.11").Queries() {
		if q.Transport == "tcp" {
			tcp = true
		}
	}
	if !tcp {
		t.Error("no query over TCP after the truncated answer")
	}
}

func TestWaitQueriesWithoutRecursion(t *testing.T) {
	d, c := network(t, []testbed.ZoneSpec{exampleZone("")})
	name := "_acme-challenge.example.test."
	target := resolveZone(t, c, name)
	update(t, d, "example.test.", []dns.RR{txt(name, "v")}, nil)
	d.Nameserver("127.0.0.11").ResetQueries()
	if err := c.Wait(t.Context(), []propagation.Record{{Name: name, Zone: target.Zone, Values: []string{"v"}}}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	qs := d.Nameserver("127.0.0.11").Queries()
	if len(qs) == 0 {
		t.Fatal("ns1 was not asked")
	}
	for _, q := range qs {
		if q.RD {
			t.Errorf("query %s sent with RD=1", q.Name)
		}
	}
}

func TestWaitCancelled(t *testing.T) {
	zone := exampleZone("")
	zone.Delays = map[string]time.Duration{"127.0.0.12": -1}
	d, c := network(t, []testbed.ZoneSpec{zone})
	name := "_acme-challenge.example.test."
	target := resolveZone(t, c, name)
	update(t, d, "example.test.", []dns.RR{txt(name, "v")}, nil)

	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	err := c.Wait(ctx, []propagation.Record{{Name: name, Zone: target.Zone, Values: []string{"v"}}}, time.Minute)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Wait took %s to stop after cancel", took)
	}
}

func TestValidateResolver(t *testing.T) {
	for _, ok := range []string{"127.0.0.1", "127.0.0.1:5353", "[::1]:53", "2001:db8::1"} {
		if err := propagation.ValidateResolver(ok); err != nil {
			t.Errorf("ValidateResolver(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"dns.example.com", "127.0.0.1:0", "127.0.0.1:99999", ""} {
		if err := propagation.ValidateResolver(bad); err == nil {
			t.Errorf("ValidateResolver(%q) accepted", bad)
		}
	}
}

func TestResolveWarnsLongNegativeTTL(t *testing.T) {
	zone := exampleZone("www IN A 127.0.0.1\n")
	zone.NegativeTTL = 86400
	_, c := network(t, []testbed.ZoneSpec{zone})
	var logs syncbuf.Buffer
	c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	if _, err := c.Resolve(t.Context(), "_acme-challenge.www.example.test."); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "negative_ttl=24h0m0s") {
		t.Errorf("no warning about the one-day negative TTL:\n%s", logs.String())
	}
}

func TestResolveQuietShortNegativeTTL(t *testing.T) {
	_, c := network(t, []testbed.ZoneSpec{exampleZone("www IN A 127.0.0.1\n")})
	var logs syncbuf.Buffer
	c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	if _, err := c.Resolve(t.Context(), "_acme-challenge.www.example.test."); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "negative_ttl") {
		t.Errorf("warning for a 60s negative TTL:\n%s", logs.String())
	}
}

// A nameserver that never answers is reported as timed out, by name.
func TestWaitSilentNameserver(t *testing.T) {
	d, c := network(t, []testbed.ZoneSpec{exampleZone("")})
	name := "_acme-challenge.example.test."
	target := resolveZone(t, c, name)
	update(t, d, "example.test.", []dns.RR{txt(name, "v")}, nil)
	d.Nameserver("127.0.0.12").SetFaults(dnstest.Faults{Drop: true})
	c.QueryTimeout = 200 * time.Millisecond

	err := c.Wait(t.Context(), []propagation.Record{{Name: name, Zone: target.Zone, Values: []string{"v"}}}, 2*time.Second)
	var timeout *propagation.TimeoutError
	if !errors.As(err, &timeout) {
		t.Fatalf("err = %v, want a TimeoutError", err)
	}
	if !strings.Contains(err.Error(), "ns2.example.test.") || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("error %q does not name the silent server and the timeout", err)
	}
}

// Owner names echoed in another case than asked still match.
func TestWaitCaseInsensitiveOwner(t *testing.T) {
	d, c := network(t, []testbed.ZoneSpec{exampleZone("")})
	name := "_acme-challenge.example.test."
	target := resolveZone(t, c, "_ACME-Challenge.EXAMPLE.test.")
	update(t, d, "example.test.", []dns.RR{txt(name, "MixedCaseValue")}, nil)
	for _, ip := range []string{"127.0.0.11", "127.0.0.12"} {
		d.Nameserver(ip).SetFaults(dnstest.Faults{LowercaseEcho: true})
	}
	err := c.Wait(t.Context(), []propagation.Record{{Name: "_ACME-Challenge.EXAMPLE.test.", Zone: target.Zone, Values: []string{"MixedCaseValue"}}}, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// TXT values are case-sensitive: another case is a different value.
	err = c.Wait(t.Context(), []propagation.Record{{Name: name, Zone: target.Zone, Values: []string{"mixedcasevalue"}}}, 500*time.Millisecond)
	if err == nil {
		t.Error("a value in another case counted as served")
	}
}
