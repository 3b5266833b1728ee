package route53_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libdns/libdns"

	"github.com/dnscert/dnscert/internal/fakeroute53"
	"github.com/dnscert/dnscert/providers/route53"
)

// These tests point the SDK at a fake Route 53 through the environment, so
// none of them may run in parallel.

const (
	testKeyID  = "AKIDFAKEROUTE53TEST"
	testSecret = "secret-wJalrXUtnFEMI-K7MDENG-never-print"
)

// startFake starts a fake Route 53 and sets the environment so that the
// SDK sends every request there with static test credentials.
func startFake(t *testing.T) *fakeroute53.Server {
	t.Helper()
	srv, err := fakeroute53.Start()
	if err != nil {
		t.Fatalf("start fake Route 53: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	for _, name := range fakeroute53.SDKVariables {
		t.Setenv(name, "")
		os.Unsetenv(name)
	}
	for name, value := range srv.Env(testKeyID, testSecret) {
		t.Setenv(name, value)
	}
	return srv
}

func newProvider(t *testing.T, opts route53.Options) *route53.Provider {
	t.Helper()
	if opts.PollInterval == 0 {
		opts.PollInterval = 5 * time.Millisecond
	}
	p, err := route53.New(t.Context(), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

func addZone(t *testing.T, srv *fakeroute53.Server, name string, private bool) string {
	t.Helper()
	id, err := srv.AddZone(name, private)
	if err != nil {
		t.Fatalf("AddZone %s: %v", name, err)
	}
	return id
}

func setTXT(t *testing.T, srv *fakeroute53.Server, zoneID, name string, ttl int64, values ...string) {
	t.Helper()
	if err := srv.SetRecordSet(zoneID, fakeroute53.RecordSet{Name: name, Type: "TXT", TTL: ttl, Values: values}); err != nil {
		t.Fatalf("SetRecordSet %s: %v", name, err)
	}
}

func txt(name, text string) libdns.Record {
	return libdns.TXT{Name: name, TTL: time.Minute, Text: text}
}

// checkTXT compares the texts at name, in any order.
func checkTXT(t *testing.T, srv *fakeroute53.Server, zoneID, name string, want ...string) {
	t.Helper()
	got := slices.Sorted(slices.Values(srv.TXT(zoneID, name)))
	want = slices.Sorted(slices.Values(want))
	if len(want) == 0 {
		want = nil
	}
	if !slices.Equal(got, want) {
		t.Errorf("TXT %s = %q, want %q", name, got, want)
	}
}

func TestAppendTwoValuesAtOneName(t *testing.T) {
	srv := startFake(t)
	zoneID := addZone(t, srv, "example.test", false)
	p := newProvider(t, route53.Options{})

	added, err := p.AppendRecords(t.Context(), "example.test.", []libdns.Record{
		txt("_acme-challenge", "apex-token"),
		txt("_acme-challenge", "wildcard-token"),
	})
	if err != nil {
		t.Fatalf("AppendRecords: %v", err)
	}
	checkTXT(t, srv, zoneID, "_acme-challenge.example.test", "apex-token", "wildcard-token")
	if len(added) != 2 {
		t.Errorf("AppendRecords returned %d records, want 2: %v", len(added), added)
	}
	rs, _ := srv.RecordSet(zoneID, "_acme-challenge.example.test", "TXT")
	if rs.TTL != 60 {
		t.Errorf("TTL of the new set = %d, want 60", rs.TTL)
	}
	if n := srv.Count(fakeroute53.OpChangeResourceRecordSets); n != 1 {
		t.Errorf("ChangeResourceRecordSets requests = %d, want 1", n)
	}
}

func TestForeignValueSurvives(t *testing.T) {
	srv := startFake(t)
	zoneID := addZone(t, srv, "example.test", false)
	setTXT(t, srv, zoneID, "_acme-challenge.example.test", 300, `"other-system-token"`)
	p := newProvider(t, route53.Options{})
	records := []libdns.Record{txt("_acme-challenge", "ours-1"), txt("_acme-challenge", "ours-2")}

	added, err := p.AppendRecords(t.Context(), "example.test.", records)
	if err != nil {
		t.Fatalf("AppendRecords: %v", err)
	}
	checkTXT(t, srv, zoneID, "_acme-challenge.example.test", "other-system-token", "ours-1", "ours-2")
	rs, _ := srv.RecordSet(zoneID, "_acme-challenge.example.test", "TXT")
	if rs.TTL != 300 {
		t.Errorf("TTL after append = %d, want the old 300", rs.TTL)
	}
	for _, r := range added {
		if r.RR().TTL != 300*time.Second {
			t.Errorf("returned record %v has TTL %s, want the set's 5m0s", r, r.RR().TTL)
		}
	}

	removed, err := p.DeleteRecords(t.Context(), "example.test.", records)
	if err != nil {
		t.Fatalf("DeleteRecords: %v", err)
	}
	checkTXT(t, srv, zoneID, "_acme-challenge.example.test", "other-system-token")
	if len(removed) != 2 {
		t.Errorf("DeleteRecords returned %d records, want 2: %v", len(removed), removed)
	}
	rs, _ = srv.RecordSet(zoneID, "_acme-challenge.example.test", "TXT")
	if rs.TTL != 300 {
		t.Errorf("TTL after delete = %d, want the original 300", rs.TTL)
	}
	if !slices.Equal(rs.Values, []string{`"other-system-token"`}) {
		t.Errorf("values after delete = %q, want the original value unchanged", rs.Values)
	}
}

func TestDeleteOneValueKeepsOther(t *testing.T) {
	srv := startFake(t)
	zoneID := addZone(t, srv, "example.test", false)
	p := newProvider(t, route53.Options{})
	if _, err := p.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "a"), txt("_acme-challenge", "b")}); err != nil {
		t.Fatalf("AppendRecords: %v", err)
	}

	if _, err := p.DeleteRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "a")}); err != nil {
		t.Fatalf("DeleteRecords a: %v", err)
	}
	checkTXT(t, srv, zoneID, "_acme-challenge.example.test", "b")

	if _, err := p.DeleteRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "b")}); err != nil {
		t.Fatalf("DeleteRecords b: %v", err)
	}
	if _, ok := srv.RecordSet(zoneID, "_acme-challenge.example.test", "TXT"); ok {
		t.Error("the TXT set still exists after its last value was deleted")
	}
}

func TestAppendSameValueTwice(t *testing.T) {
	srv := startFake(t)
	zoneID := addZone(t, srv, "example.test", false)
	p := newProvider(t, route53.Options{})

	added, err := p.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "same"), txt("_acme-challenge", "same")})
	if err != nil {
		t.Fatalf("AppendRecords with a duplicate: %v", err)
	}
	if len(added) != 1 {
		t.Errorf("first AppendRecords returned %v, want one record", added)
	}
	srv.ResetCounts()
	added, err = p.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "same")})
	if err != nil {
		t.Fatalf("second AppendRecords: %v", err)
	}
	if len(added) != 0 {
		t.Errorf("second AppendRecords returned %v, want none", added)
	}
	checkTXT(t, srv, zoneID, "_acme-challenge.example.test", "same")
	if n := srv.Count(fakeroute53.OpChangeResourceRecordSets); n != 0 {
		t.Errorf("ChangeResourceRecordSets requests for a value already present = %d, want 0", n)
	}
	if n := srv.Count(fakeroute53.OpGetChange); n != 0 {
		t.Errorf("GetChange requests without a change = %d, want 0", n)
	}
}

func TestDeleteAbsentValue(t *testing.T) {
	srv := startFake(t)
	zoneID := addZone(t, srv, "example.test", false)
	setTXT(t, srv, zoneID, "_acme-challenge.example.test", 60, `"keep"`)
	p := newProvider(t, route53.Options{})

	removed, err := p.DeleteRecords(t.Context(), "example.test.", []libdns.Record{
		txt("_acme-challenge", "gone"),
		txt("_acme-challenge.nowhere", "gone"),
	})
	if err != nil {
		t.Fatalf("DeleteRecords of absent values: %v", err)
	}
	if len(removed) != 0 {
		t.Errorf("DeleteRecords returned %v, want none", removed)
	}
	checkTXT(t, srv, zoneID, "_acme-challenge.example.test", "keep")
	if n := srv.Count(fakeroute53.OpChangeResourceRecordSets); n != 0 {
		t.Errorf("ChangeResourceRecordSets requests = %d, want 0", n)
	}
}

// TestCallCounts measures the requests of one publish and one cleanup and
// logs them as a table. Run with -v to see it.
func TestCallCounts(t *testing.T) {
	ops := []string{
		fakeroute53.OpListHostedZonesByName,
		fakeroute53.OpListResourceRecordSets,
		fakeroute53.OpChangeResourceRecordSets,
		fakeroute53.OpGetChange,
	}
	var table strings.Builder
	fmt.Fprintf(&table, "\n%-8s %-30s %-8s %6s %6s %6s %6s %6s\n", "records", "zone", "step", "LHZBN", "LRRS", "CRRS", "GC", "total")
	for _, n := range []int{2, 10, 100} {
		for _, populated := range []bool{false, true} {
			srv := startFake(t)
			zoneID := addZone(t, srv, "example.test", false)
			layout := "SOA and NS only"
			if populated {
				layout = "A and AAAA at every host"
				for i := range n {
					host := fmt.Sprintf("host%03d.example.test", i)
					for _, rs := range []fakeroute53.RecordSet{
						{Name: host, Type: "A", TTL: 300, Values: []string{"192.0.2.1"}},
						{Name: host, Type: "AAAA", TTL: 300, Values: []string{"2001:db8::1"}},
					} {
						if err := srv.SetRecordSet(zoneID, rs); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			p := newProvider(t, route53.Options{})
			var records []libdns.Record
			for i := range n {
				records = append(records, txt(fmt.Sprintf("_acme-challenge.host%03d", i), fmt.Sprintf("token-%03d-abcdefghijklmnopqrstuvwxyz0123456", i)))
			}

			for _, step := range []string{"publish", "cleanup"} {
				srv.ResetCounts()
				var err error
				if step == "publish" {
					_, err = p.AppendRecords(t.Context(), "example.test.", records)
				} else {
					_, err = p.DeleteRecords(t.Context(), "example.test.", records)
				}
				if err != nil {
					t.Fatalf("%d records, %s: %v", n, step, err)
				}
				counts := srv.Counts()
				total := 0
				fmt.Fprintf(&table, "%-8d %-30s %-8s", n, layout, step)
				for _, op := range ops {
					fmt.Fprintf(&table, " %6d", counts[op])
					total += counts[op]
				}
				fmt.Fprintf(&table, " %6d\n", total)

				if counts[fakeroute53.OpListHostedZonesByName] > 1 {
					t.Errorf("%d records, %s: %d zone listings, want at most 1", n, step, counts[fakeroute53.OpListHostedZonesByName])
				}
				if counts[fakeroute53.OpListResourceRecordSets] > 2 {
					t.Errorf("%d records, %s: %d ListResourceRecordSets requests, want at most 2", n, step, counts[fakeroute53.OpListResourceRecordSets])
				}
				if counts[fakeroute53.OpChangeResourceRecordSets] != 1 {
					t.Errorf("%d records, %s: %d change batches, want 1", n, step, counts[fakeroute53.OpChangeResourceRecordSets])
				}
			}
			if got := srv.TXT(zoneID, "_acme-challenge.host000.example.test"); got != nil {
				t.Errorf("%d records: TXT left after cleanup: %q", n, got)
			}
		}
	}
	t.Log(table.String())
}

func TestNamesCaseAndTrailingDots(t *testing.T) {
	srv := startFake(t)
	zoneID := addZone(t, srv, "example.test", false)
	p := newProvider(t, route53.Options{})

	_, err := p.AppendRecords(t.Context(), "Example.TEST", []libdns.Record{
		txt("_ACME-Challenge.WWW", "relative-upper"),
		txt("_acme-challenge.API.Example.Test.", "absolute"),
		txt("@", "apex"),
	})
	if err != nil {
		t.Fatalf("AppendRecords: %v", err)
	}
	checkTXT(t, srv, zoneID, "_acme-challenge.www.example.test", "relative-upper")
	checkTXT(t, srv, zoneID, "_acme-challenge.api.example.test", "absolute")
	checkTXT(t, srv, zoneID, "example.test", "apex")

	_, err = p.DeleteRecords(t.Context(), "example.test.", []libdns.Record{
		txt("_acme-challenge.www", "relative-upper"),
		txt("_ACME-CHALLENGE.api.example.test.", "absolute"),
		txt("", "apex"),
	})
	if err != nil {
		t.Fatalf("DeleteRecords: %v", err)
	}
	for _, name := range []string{"_acme-challenge.www.example.test", "_acme-challenge.api.example.test", "example.test"} {
		checkTXT(t, srv, zoneID, name)
	}

	_, err = p.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge.other.test.", "x")})
	if err == nil || !strings.Contains(err.Error(), "outside the zone") {
		t.Errorf("AppendRecords outside the zone: error %v, want one that says outside the zone", err)
	}
}

func TestPublicZoneBeforePrivate(t *testing.T) {
	srv := startFake(t)
	privateID := addZone(t, srv, "example.test", true)
	publicID := addZone(t, srv, "example.test", false)
	if zones := srv.Zones(); !zones[0].Private {
		t.Fatalf("the fake lists %v first, want the private zone first to make the test meaningful", zones[0])
	}

	p := newProvider(t, route53.Options{})
	if _, err := p.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "public")}); err != nil {
		t.Fatalf("AppendRecords: %v", err)
	}
	checkTXT(t, srv, publicID, "_acme-challenge.example.test", "public")
	checkTXT(t, srv, privateID, "_acme-challenge.example.test")

	pinned := newProvider(t, route53.Options{HostedZoneID: "/hostedzone/" + privateID})
	if _, err := pinned.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "private")}); err != nil {
		t.Fatalf("AppendRecords with HostedZoneID: %v", err)
	}
	checkTXT(t, srv, privateID, "_acme-challenge.example.test", "private")
	checkTXT(t, srv, publicID, "_acme-challenge.example.test", "public")

	zones, err := pinned.ListZones(t.Context())
	if err != nil {
		t.Fatalf("ListZones with HostedZoneID: %v", err)
	}
	if len(zones) != 1 || zones[0].Name != "example.test." {
		t.Errorf("ListZones with HostedZoneID = %v, want [example.test.]", zones)
	}
}

func TestOnlyPrivateZone(t *testing.T) {
	srv := startFake(t)
	privateID := addZone(t, srv, "example.test", true)
	p := newProvider(t, route53.Options{})

	_, err := p.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "x")})
	if !errors.Is(err, route53.ErrZoneNotFound) {
		t.Fatalf("error %v, want ErrZoneNotFound", err)
	}
	var se *route53.SettingError
	if !errors.As(err, &se) {
		t.Fatalf("error %v, want a SettingError", err)
	}
	if se.Field != "HostedZoneID" {
		t.Errorf("Field = %q, want HostedZoneID", se.Field)
	}
	if !strings.Contains(err.Error(), privateID) {
		t.Errorf("error %q does not name the private zone %s", err, privateID)
	}
}

func TestTwoPublicZonesSameName(t *testing.T) {
	srv := startFake(t)
	first := addZone(t, srv, "example.test", false)
	second := addZone(t, srv, "example.test", false)
	p := newProvider(t, route53.Options{})

	_, err := p.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "x")})
	if err == nil {
		t.Fatal("AppendRecords succeeded with two public zones of the same name, want an error")
	}
	for _, id := range []string{first, second} {
		if !strings.Contains(err.Error(), id) {
			t.Errorf("error %q does not name zone %s", err, id)
		}
	}
}

func TestZoneNotFound(t *testing.T) {
	startFake(t)
	p := newProvider(t, route53.Options{})
	_, err := p.AppendRecords(t.Context(), "missing.test.", []libdns.Record{txt("_acme-challenge", "x")})
	if !errors.Is(err, route53.ErrZoneNotFound) {
		t.Errorf("error %v, want ErrZoneNotFound", err)
	}
}

func TestParentZoneFound(t *testing.T) {
	srv := startFake(t)
	zoneID := addZone(t, srv, "example.test", false)
	p := newProvider(t, route53.Options{})

	if _, err := p.AppendRecords(t.Context(), "www.example.test.", []libdns.Record{txt("_acme-challenge", "x")}); err != nil {
		t.Fatalf("AppendRecords with a zone below the hosted zone: %v", err)
	}
	checkTXT(t, srv, zoneID, "_acme-challenge.www.example.test", "x")
}

func TestZonePaging(t *testing.T) {
	srv := startFake(t)
	for i := range 150 {
		addZone(t, srv, fmt.Sprintf("zone%03d.test", i), false)
	}
	addZone(t, srv, "zone149.test", true)
	addZone(t, srv, "internal.test", true)
	p := newProvider(t, route53.Options{})

	zones, err := p.ListZones(t.Context())
	if err != nil {
		t.Fatalf("ListZones: %v", err)
	}
	if len(zones) != 150 {
		t.Errorf("ListZones returned %d zones, want the 150 public ones", len(zones))
	}
	for _, z := range zones {
		if z.Name == "internal.test." {
			t.Error("ListZones returned the private zone internal.test.")
		}
	}
	if n := srv.Count(fakeroute53.OpListHostedZonesByName); n != 2 {
		t.Errorf("ListHostedZonesByName requests = %d, want 2 pages", n)
	}
}

func TestSubzonePaging(t *testing.T) {
	srv := startFake(t)
	parentID := addZone(t, srv, "example.test", false)
	var lastID string
	for i := range 150 {
		lastID = addZone(t, srv, fmt.Sprintf("sub%03d.example.test", i), false)
	}
	addZone(t, srv, "example0.test", false)
	p := newProvider(t, route53.Options{})

	_, err := p.AppendRecords(t.Context(), "example.test.", []libdns.Record{
		txt("_acme-challenge.www.sub149", "in-subzone"),
		txt("_acme-challenge", "in-parent"),
	})
	if err != nil {
		t.Fatalf("AppendRecords: %v", err)
	}
	checkTXT(t, srv, lastID, "_acme-challenge.www.sub149.example.test", "in-subzone")
	checkTXT(t, srv, parentID, "_acme-challenge.www.sub149.example.test")
	checkTXT(t, srv, parentID, "_acme-challenge.example.test", "in-parent")
	if n := srv.Count(fakeroute53.OpListHostedZonesByName); n != 2 {
		t.Errorf("ListHostedZonesByName requests = %d, want 2 pages for 151 zones", n)
	}

	srv.ResetCounts()
	if _, err := p.DeleteRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "in-parent")}); err != nil {
		t.Fatalf("DeleteRecords: %v", err)
	}
	if n := srv.Count(fakeroute53.OpListHostedZonesByName); n != 0 {
		t.Errorf("ListHostedZonesByName requests on the second call = %d, want 0 from the cache", n)
	}
}

func TestConcurrentCallsTwoZones(t *testing.T) {
	srv := startFake(t)
	ids := map[string]string{
		"one.test.": addZone(t, srv, "one.test", false),
		"two.test.": addZone(t, srv, "two.test", false),
	}
	p := newProvider(t, route53.Options{})

	var wg sync.WaitGroup
	errs := make(chan error, 2*len(ids))
	for zone := range ids {
		wg.Go(func() {
			_, err := p.AppendRecords(t.Context(), zone, []libdns.Record{txt("_acme-challenge", "a"), txt("_acme-challenge.www", "b")})
			errs <- err
			_, err = p.ListZones(t.Context())
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent call: %v", err)
		}
	}
	for zone, id := range ids {
		checkTXT(t, srv, id, "_acme-challenge."+zone, "a")
		checkTXT(t, srv, id, "_acme-challenge.www."+zone, "b")
	}
}

func TestThrottlingRetried(t *testing.T) {
	srv := startFake(t)
	zoneID := addZone(t, srv, "example.test", false)
	p := newProvider(t, route53.Options{})

	srv.ThrottleNext(2)
	if _, err := p.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "x")}); err != nil {
		t.Fatalf("AppendRecords after two throttled requests: %v", err)
	}
	checkTXT(t, srv, zoneID, "_acme-challenge.example.test", "x")
	if n := srv.Count(fakeroute53.OpListHostedZonesByName); n != 3 {
		t.Errorf("ListHostedZonesByName requests = %d, want 3 (two throttled)", n)
	}
}

func TestRetryableErrorsRetried(t *testing.T) {
	for _, tc := range []struct {
		status  int
		code    string
		message string
	}{
		{400, "PriorRequestNotComplete", "The request was rejected because Route 53 was still processing a prior request."},
		{503, "ServiceUnavailable", "Service unavailable"},
		{500, "InternalFailure", "Internal failure"},
	} {
		t.Run(tc.code, func(t *testing.T) {
			srv := startFake(t)
			zoneID := addZone(t, srv, "example.test", false)
			p := newProvider(t, route53.Options{})

			srv.FailNext(fakeroute53.OpChangeResourceRecordSets, 1, tc.status, tc.code, tc.message)
			if _, err := p.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "x")}); err != nil {
				t.Fatalf("AppendRecords: %v", err)
			}
			checkTXT(t, srv, zoneID, "_acme-challenge.example.test", "x")
			if n := srv.Count(fakeroute53.OpChangeResourceRecordSets); n != 2 {
				t.Errorf("ChangeResourceRecordSets requests = %d, want 2", n)
			}
		})
	}
}

func TestRetriesExhausted(t *testing.T) {
	srv := startFake(t)
	addZone(t, srv, "example.test", false)
	p := newProvider(t, route53.Options{MaxAttempts: 2})

	srv.ThrottleNext(5)
	_, err := p.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "x")})
	if err == nil || !strings.Contains(err.Error(), "Throttling") {
		t.Errorf("error %v, want the Throttling error after the last attempt", err)
	}
	if n := srv.Count(fakeroute53.OpListHostedZonesByName); n != 2 {
		t.Errorf("ListHostedZonesByName requests = %d, want MaxAttempts 2", n)
	}
}

func TestConcurrentChangeRetried(t *testing.T) {
	for _, existing := range []bool{true, false} {
		t.Run(fmt.Sprintf("existing=%t", existing), func(t *testing.T) {
			srv := startFake(t)
			zoneID := addZone(t, srv, "example.test", false)
			want := []string{"concurrent-token", "ours"}
			if existing {
				setTXT(t, srv, zoneID, "_acme-challenge.example.test", 300, `"other-system-token"`)
				want = append(want, "other-system-token")
			}
			var once sync.Once
			srv.SetBeforeChange(func(string) {
				once.Do(func() {
					values := []string{`"concurrent-token"`}
					if existing {
						values = append(values, `"other-system-token"`)
					}
					setTXT(t, srv, zoneID, "_acme-challenge.example.test", 300, values...)
				})
			})
			var logs bytes.Buffer
			p := newProvider(t, route53.Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})

			if _, err := p.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "ours")}); err != nil {
				t.Fatalf("AppendRecords: %v", err)
			}
			checkTXT(t, srv, zoneID, "_acme-challenge.example.test", want...)
			if n := srv.Count(fakeroute53.OpChangeResourceRecordSets); n != 2 {
				t.Errorf("ChangeResourceRecordSets requests = %d, want 2 (one rejected)", n)
			}
			if n := srv.Count(fakeroute53.OpListResourceRecordSets); n != 2 {
				t.Errorf("ListResourceRecordSets requests = %d, want 2 (one re-read)", n)
			}
			if !strings.Contains(logs.String(), "reading the record sets again") {
				t.Errorf("log %q does not report the retry", logs.String())
			}
		})
	}
}

func TestConcurrentChangeOnDelete(t *testing.T) {
	srv := startFake(t)
	zoneID := addZone(t, srv, "example.test", false)
	setTXT(t, srv, zoneID, "_acme-challenge.example.test", 60, `"ours"`, `"other-system-token"`)
	var once sync.Once
	srv.SetBeforeChange(func(string) {
		once.Do(func() {
			setTXT(t, srv, zoneID, "_acme-challenge.example.test", 60, `"ours"`, `"other-system-token"`, `"late-token"`)
		})
	})
	p := newProvider(t, route53.Options{})

	if _, err := p.DeleteRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "ours")}); err != nil {
		t.Fatalf("DeleteRecords: %v", err)
	}
	checkTXT(t, srv, zoneID, "_acme-challenge.example.test", "other-system-token", "late-token")
}

func TestPermanentRejectionNotRetried(t *testing.T) {
	srv := startFake(t)
	zoneID := addZone(t, srv, "example.test", false)
	if err := srv.SetRecordSet(zoneID, fakeroute53.RecordSet{Name: "_acme-challenge.example.test", Type: "CNAME", TTL: 300, Values: []string{"challenges.example.net."}}); err != nil {
		t.Fatal(err)
	}
	p := newProvider(t, route53.Options{})

	_, err := p.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "x")})
	if err == nil || !strings.Contains(err.Error(), "CNAME") {
		t.Fatalf("error %v, want Route 53's CNAME conflict message", err)
	}
	if n := srv.Count(fakeroute53.OpChangeResourceRecordSets); n != 1 {
		t.Errorf("ChangeResourceRecordSets requests = %d, want 1: the re-read found no change", n)
	}
}

func TestAccessDenied(t *testing.T) {
	srv := startFake(t)
	zoneID := addZone(t, srv, "example.test", false)
	srv.AllowChanges("ZOTHERZONE")
	p := newProvider(t, route53.Options{})

	_, err := p.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "x")})
	var denied *route53.AccessDeniedError
	if !errors.As(err, &denied) {
		t.Fatalf("error %v, want an AccessDeniedError", err)
	}
	if denied.ZoneID != zoneID {
		t.Errorf("ZoneID = %q, want %q", denied.ZoneID, zoneID)
	}
	if denied.Permission != "route53:ChangeResourceRecordSets" {
		t.Errorf("Permission = %q, want route53:ChangeResourceRecordSets", denied.Permission)
	}
	for _, want := range []string{zoneID, "route53:ChangeResourceRecordSets", "arn:aws:route53:::hostedzone/" + zoneID} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if n := srv.Count(fakeroute53.OpChangeResourceRecordSets); n != 1 {
		t.Errorf("ChangeResourceRecordSets requests = %d, want 1: AccessDenied is not retried", n)
	}
}

func TestErrorsHideSecrets(t *testing.T) {
	srv := startFake(t)
	addZone(t, srv, "example.test", false)
	const sessionToken = "session-token-IQoJb3JpZ2luX2VjEKT-never-print"
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	check := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: no error, want one", what)
			return
		}
		for _, secret := range []string{testSecret, sessionToken} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%s: error %q contains a secret", what, err)
			}
		}
	}

	unknown := newProvider(t, route53.Options{AccessKeyID: "AKIDUNKNOWN", SecretAccessKey: testSecret, SessionToken: sessionToken, Logger: logger})
	_, err := unknown.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "x")})
	check("unknown access key", err)
	var rejected *route53.CredentialsError
	if !errors.As(err, &rejected) {
		t.Errorf("unknown access key: error %v, want a CredentialsError", err)
	} else if rejected.Code != "InvalidClientTokenId" {
		t.Errorf("unknown access key: Code = %q, want InvalidClientTokenId", rejected.Code)
	}

	srv.AllowChanges()
	denied := newProvider(t, route53.Options{AccessKeyID: testKeyID, SecretAccessKey: testSecret, Logger: logger})
	_, err = denied.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "x")})
	check("access denied", err)

	_, err = route53.New(t.Context(), route53.Options{AccessKeyID: testKeyID, SecretAccessKey: testSecret, SessionToken: sessionToken, Profile: "missing-profile"})
	check("missing profile", err)

	_, err = route53.New(t.Context(), route53.Options{SecretAccessKey: testSecret, SessionToken: sessionToken})
	check("secret without key ID", err)

	for _, secret := range []string{testSecret, sessionToken} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("log contains a secret: %s", logs.String())
		}
	}
}

func TestNoCredentials(t *testing.T) {
	srv := startFake(t)
	addZone(t, srv, "example.test", false)
	os.Unsetenv("AWS_ACCESS_KEY_ID")
	os.Unsetenv("AWS_SECRET_ACCESS_KEY")
	p := newProvider(t, route53.Options{MaxAttempts: 1})

	_, err := p.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "x")})
	var rejected *route53.CredentialsError
	if !errors.As(err, &rejected) {
		t.Fatalf("error %v, want a CredentialsError", err)
	}
	if !rejected.CredentialsRejected() {
		t.Error("CredentialsRejected() = false, want true")
	}
	if !strings.Contains(err.Error(), "AWS_PROFILE") {
		t.Errorf("error %q does not explain how to provide credentials", err)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("the fake received %d requests without credentials, want 0", n)
	}
}

func TestWaitsForInSync(t *testing.T) {
	srv := startFake(t)
	addZone(t, srv, "example.test", false)
	srv.SetChangeDelay(150 * time.Millisecond)
	p := newProvider(t, route53.Options{PollInterval: 10 * time.Millisecond})

	start := time.Now()
	if _, err := p.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "x")}); err != nil {
		t.Fatalf("AppendRecords: %v", err)
	}
	if elapsed := time.Since(start); elapsed < 150*time.Millisecond {
		t.Errorf("AppendRecords returned after %s, before the change was INSYNC at 150ms", elapsed)
	}
	if n := srv.Count(fakeroute53.OpGetChange); n < 2 {
		t.Errorf("GetChange requests = %d, want several while PENDING", n)
	}
}

func TestSyncTimeout(t *testing.T) {
	srv := startFake(t)
	zoneID := addZone(t, srv, "example.test", false)
	srv.SetChangeDelay(time.Hour)
	p := newProvider(t, route53.Options{SyncTimeout: 100 * time.Millisecond, PollInterval: 10 * time.Millisecond})

	_, err := p.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "x")})
	var se *route53.SettingError
	if !errors.As(err, &se) {
		t.Fatalf("error %v, want a SettingError", err)
	}
	if se.Field != "SyncTimeout" {
		t.Errorf("Field = %q, want SyncTimeout", se.Field)
	}
	if !strings.Contains(err.Error(), "PENDING") {
		t.Errorf("error %q does not say the change is PENDING", err)
	}
	checkTXT(t, srv, zoneID, "_acme-challenge.example.test", "x")
}

func TestSyncWaitHonoursContext(t *testing.T) {
	srv := startFake(t)
	addZone(t, srv, "example.test", false)
	srv.SetChangeDelay(time.Hour)
	p := newProvider(t, route53.Options{SyncTimeout: time.Hour, PollInterval: 10 * time.Millisecond})

	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err := p.AppendRecords(ctx, "example.test.", []libdns.Record{txt("_acme-challenge", "x")})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want context.DeadlineExceeded", err)
	}
}

func TestLongAndSpecialText(t *testing.T) {
	srv := startFake(t)
	zoneID := addZone(t, srv, "example.test", false)
	p := newProvider(t, route53.Options{})
	long := strings.Repeat("0123456789", 30) + ` "quoted" back\slash and ünïcode`

	if _, err := p.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", long)}); err != nil {
		t.Fatalf("AppendRecords: %v", err)
	}
	checkTXT(t, srv, zoneID, "_acme-challenge.example.test", long)
	rs, _ := srv.RecordSet(zoneID, "_acme-challenge.example.test", "TXT")
	if len(rs.Values) != 1 {
		t.Fatalf("stored values %q, want one", rs.Values)
	}
	if !strings.HasPrefix(rs.Values[0], `"0123456789`) {
		t.Errorf("stored value %q does not start with a quoted string", rs.Values[0])
	}
	if !strings.Contains(rs.Values[0], `" "`) {
		t.Errorf("stored value %q is not split into several strings", rs.Values[0])
	}

	if _, err := p.DeleteRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", long)}); err != nil {
		t.Fatalf("DeleteRecords: %v", err)
	}
	checkTXT(t, srv, zoneID, "_acme-challenge.example.test")
}

func TestBatchesSplitAtLimits(t *testing.T) {
	srv := startFake(t)
	zoneID := addZone(t, srv, "example.test", false)
	p := newProvider(t, route53.Options{})
	var records []libdns.Record
	for i := range 800 {
		// 43 characters, as an ACME key authorization digest, so 800
		// quoted values exceed 32,000 characters.
		records = append(records, txt(fmt.Sprintf("_acme-challenge.h%03d", i), fmt.Sprintf("%03d-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLM", i)))
	}

	if _, err := p.AppendRecords(t.Context(), "example.test.", records); err != nil {
		t.Fatalf("AppendRecords: %v", err)
	}
	if n := srv.Count(fakeroute53.OpChangeResourceRecordSets); n != 2 {
		t.Errorf("ChangeResourceRecordSets requests = %d, want 2 batches", n)
	}
	checkTXT(t, srv, zoneID, "_acme-challenge.h000.example.test", "000-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLM")
	checkTXT(t, srv, zoneID, "_acme-challenge.h799.example.test", "799-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLM")

	if _, err := p.DeleteRecords(t.Context(), "example.test.", records); err != nil {
		t.Fatalf("DeleteRecords: %v", err)
	}
	if sets := srv.RecordSets(zoneID); len(sets) != 2 {
		t.Errorf("%d record sets left, want only SOA and NS", len(sets))
	}
}

func TestRoutingPolicySetRejected(t *testing.T) {
	srv := startFake(t)
	zoneID := addZone(t, srv, "example.test", false)
	weight := int64(10)
	if err := srv.SetRecordSet(zoneID, fakeroute53.RecordSet{Name: "_acme-challenge.example.test", Type: "TXT", SetIdentifier: "blue", Weight: &weight, TTL: 60, Values: []string{`"x"`}}); err != nil {
		t.Fatal(err)
	}
	p := newProvider(t, route53.Options{})

	_, err := p.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "y")})
	if err == nil || !strings.Contains(err.Error(), "routing policy") {
		t.Errorf("error %v, want one about the routing policy", err)
	}
}

func TestNonTXTRejected(t *testing.T) {
	startFake(t)
	p := newProvider(t, route53.Options{})
	_, err := p.AppendRecords(t.Context(), "example.test.", []libdns.Record{libdns.Address{Name: "www"}})
	if err == nil || !strings.Contains(err.Error(), "TXT records only") {
		t.Errorf("error %v, want one that says only TXT records are managed", err)
	}
}

func TestSharedProfile(t *testing.T) {
	srv := startFake(t)
	zoneID := addZone(t, srv, "example.test", false)
	dir := t.TempDir()
	credentialsFile := filepath.Join(dir, "credentials")
	configFile := filepath.Join(dir, "config")
	writeFile(t, credentialsFile, "[dnscert]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = "+testSecret+"\n")
	writeFile(t, configFile, "[profile dnscert]\nregion = eu-central-1\n")
	os.Unsetenv("AWS_ACCESS_KEY_ID")
	os.Unsetenv("AWS_SECRET_ACCESS_KEY")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", credentialsFile)
	t.Setenv("AWS_CONFIG_FILE", configFile)
	t.Setenv("AWS_PROFILE", "dnscert")
	srv.AddCredentials("AKIDPROFILE", "")
	p := newProvider(t, route53.Options{})

	if _, err := p.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "x")}); err != nil {
		t.Fatalf("AppendRecords: %v", err)
	}
	checkTXT(t, srv, zoneID, "_acme-challenge.example.test", "x")
	for _, r := range srv.Requests() {
		if r.AccessKeyID != "AKIDPROFILE" {
			t.Errorf("%s signed with key %q, want the profile's AKIDPROFILE", r.Operation, r.AccessKeyID)
		}
		if r.Region != "eu-central-1" {
			t.Errorf("%s signed for region %q, want the profile's eu-central-1", r.Operation, r.Region)
		}
	}

	_, err := route53.New(t.Context(), route53.Options{Profile: "missing"})
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("New with a missing profile: error %v, want one naming the profile", err)
	}
}

func TestWebIdentity(t *testing.T) {
	srv := startFake(t)
	zoneID := addZone(t, srv, "example.test", false)
	const roleARN = "arn:aws:iam::123456789012:role/dnscert"
	const token = "eyJhbGciOiJSUzI1NiJ9.web-identity-token"
	tokenFile := filepath.Join(t.TempDir(), "token")
	writeFile(t, tokenFile, token)
	os.Unsetenv("AWS_ACCESS_KEY_ID")
	os.Unsetenv("AWS_SECRET_ACCESS_KEY")
	t.Setenv("AWS_ROLE_ARN", roleARN)
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", tokenFile)
	t.Setenv("AWS_ROLE_SESSION_NAME", "dnscert-test")
	srv.AddWebIdentity(roleARN, token)
	p := newProvider(t, route53.Options{})
	if n := len(srv.Requests()); n != 0 {
		t.Fatalf("New sent %d requests, want 0", n)
	}

	if _, err := p.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "x")}); err != nil {
		t.Fatalf("AppendRecords: %v", err)
	}
	checkTXT(t, srv, zoneID, "_acme-challenge.example.test", "x")
	if n := srv.Count(fakeroute53.OpAssumeRoleWithWebIdentity); n != 1 {
		t.Errorf("AssumeRoleWithWebIdentity requests = %d, want 1", n)
	}
	for _, r := range srv.Requests() {
		if r.Operation != fakeroute53.OpAssumeRoleWithWebIdentity && !strings.HasPrefix(r.AccessKeyID, "ASIA") {
			t.Errorf("request %+v not signed with the temporary key from STS", r)
		}
	}
}

func TestRegion(t *testing.T) {
	srv := startFake(t)
	addZone(t, srv, "example.test", false)

	for _, tc := range []struct {
		name, env, option, want string
	}{
		{"default", "", "", "us-east-1"},
		{"environment", "eu-west-1", "", "eu-west-1"},
		{"option", "eu-west-1", "ap-south-1", "ap-south-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("AWS_REGION", tc.env)
			}
			srv.ResetCounts()
			p := newProvider(t, route53.Options{Region: tc.option})
			if _, err := p.ListZones(t.Context()); err != nil {
				t.Fatalf("ListZones: %v", err)
			}
			reqs := srv.Requests()
			if len(reqs) != 1 {
				t.Fatalf("requests %+v, want one", reqs)
			}
			if reqs[0].Region != tc.want {
				t.Errorf("request signed for %q, want %q", reqs[0].Region, tc.want)
			}
		})
	}
}

func TestNewSendsNoRequests(t *testing.T) {
	srv := startFake(t)
	newProvider(t, route53.Options{HostedZoneID: "ZFAKE000000001"})
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("New sent %d requests, want 0", n)
	}
}

func TestNewValidation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  route53.Options
		field string
	}{
		{"key ID without secret", route53.Options{AccessKeyID: testKeyID}, "SecretAccessKey"},
		{"secret without key ID", route53.Options{SecretAccessKey: testSecret}, "AccessKeyID"},
		{"session token alone", route53.Options{SessionToken: "token"}, "SessionToken"},
		{"hosted zone ID", route53.Options{HostedZoneID: "example.test"}, "HostedZoneID"},
		{"max attempts", route53.Options{MaxAttempts: -1}, "MaxAttempts"},
		{"sync timeout", route53.Options{SyncTimeout: -time.Second}, "SyncTimeout"},
		{"poll interval", route53.Options{PollInterval: -time.Second}, "PollInterval"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := route53.New(t.Context(), tc.opts)
			var se *route53.SettingError
			if !errors.As(err, &se) {
				t.Fatalf("error %v, want a SettingError", err)
			}
			if se.Field != tc.field {
				t.Errorf("Field = %q, want %q", se.Field, tc.field)
			}
		})
	}
}

func TestSettingNamesInErrors(t *testing.T) {
	srv := startFake(t)
	addZone(t, srv, "example.test", false)
	names := map[string]string{"HostedZoneID": "MY_ZONE_ID", "SyncTimeout": "MY_TIMEOUT"}

	_, err := route53.New(t.Context(), route53.Options{HostedZoneID: "not-an-id", SettingNames: names})
	if err == nil || !strings.HasPrefix(err.Error(), "MY_ZONE_ID: ") {
		t.Errorf("New: error %v, want one that starts with MY_ZONE_ID", err)
	}

	srv.SetChangeDelay(time.Hour)
	p := newProvider(t, route53.Options{SyncTimeout: 20 * time.Millisecond, SettingNames: names})
	_, err = p.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "x")})
	if err == nil || !strings.Contains(err.Error(), "MY_TIMEOUT: change") {
		t.Errorf("sync timeout: error %v, want one naming MY_TIMEOUT", err)
	}
}

func TestPinnedZoneChecks(t *testing.T) {
	srv := startFake(t)
	zoneID := addZone(t, srv, "example.test", false)

	missing := newProvider(t, route53.Options{HostedZoneID: "ZNOSUCHZONE"})
	_, err := missing.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "x")})
	var se *route53.SettingError
	if !errors.As(err, &se) {
		t.Fatalf("missing pinned zone: error %v, want a SettingError", err)
	}
	if se.Field != "HostedZoneID" {
		t.Errorf("missing pinned zone: Field = %q, want HostedZoneID", se.Field)
	}
	if !strings.Contains(err.Error(), "ZNOSUCHZONE") {
		t.Errorf("missing pinned zone: error %q does not name the ID", err)
	}

	pinned := newProvider(t, route53.Options{HostedZoneID: zoneID})
	_, err = pinned.AppendRecords(t.Context(), "other.test.", []libdns.Record{txt("_acme-challenge", "x")})
	if !errors.As(err, &se) {
		t.Fatalf("record outside the pinned zone: error %v, want a SettingError", err)
	}
	if se.Field != "HostedZoneID" {
		t.Errorf("record outside the pinned zone: Field = %q, want HostedZoneID", se.Field)
	}
	if !strings.Contains(err.Error(), "outside the hosted zone") {
		t.Errorf("record outside the pinned zone: error %q does not say so", err)
	}
	if n := srv.Count(fakeroute53.OpListHostedZonesByName); n != 0 {
		t.Errorf("ListHostedZonesByName requests with a pinned zone = %d, want 0", n)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
}

// BenchmarkPublishCleanup100 publishes and removes 100 challenge values in
// one zone of the fake and reports the API requests of each round.
func BenchmarkPublishCleanup100(b *testing.B) {
	srv, err := fakeroute53.Start()
	if err != nil {
		b.Fatalf("start fake Route 53: %v", err)
	}
	b.Cleanup(func() { srv.Close() })
	for _, name := range fakeroute53.SDKVariables {
		b.Setenv(name, "")
		os.Unsetenv(name)
	}
	for name, value := range srv.Env(testKeyID, testSecret) {
		b.Setenv(name, value)
	}
	if _, err := srv.AddZone("example.test", false); err != nil {
		b.Fatal(err)
	}
	p, err := route53.New(b.Context(), route53.Options{PollInterval: time.Millisecond})
	if err != nil {
		b.Fatalf("New: %v", err)
	}
	var records []libdns.Record
	for i := range 100 {
		records = append(records, txt(fmt.Sprintf("_acme-challenge.host%03d", i), fmt.Sprintf("token-%03d", i)))
	}

	srv.ResetCounts()
	rounds := 0
	for b.Loop() {
		if _, err := p.AppendRecords(b.Context(), "example.test.", records); err != nil {
			b.Fatalf("AppendRecords: %v", err)
		}
		if _, err := p.DeleteRecords(b.Context(), "example.test.", records); err != nil {
			b.Fatalf("DeleteRecords: %v", err)
		}
		rounds++
	}
	b.ReportMetric(float64(len(srv.Requests()))/float64(rounds), "requests/op")
}
