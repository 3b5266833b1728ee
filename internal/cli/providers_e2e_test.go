package cli_test

import (
	"encoding/base64"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnscert/dnscert/dns01"
	"github.com/dnscert/dnscert/internal/dnstest"
	"github.com/dnscert/dnscert/internal/fakeroute53"
	"github.com/dnscert/dnscert/internal/testbed"
	"github.com/dnscert/dnscert/providers"
	"github.com/dnscert/dnscert/providers/cloudflare"
)

// The tests in this file issue through the provider APIs' fakes and the
// exec provider, with Pebble validating against the bed's DNS servers,
// into which a dnsSink copies what each fake stores. They set process
// environment variables, so none of them may run in parallel.

var apexWildcardWWW = []string{"example.test", "*.example.test", "www.example.test"}

func TestIssueThroughCloudflare(t *testing.T) {
	bed := startBed(t, testbed.Options{})
	sink := newDNSSink(t, bed)
	fake := startCloudflare(t, "example.test")
	var logs lockedBuffer
	provider := newCloudflareProvider(t, fake, sink, bufferLogger(&logs))

	res := obtainInProcess(t.Context(), t, bed, &logs, apexWildcardWWW,
		map[string]dns01.Provider{"cloudflare": provider}, func(string) string { return "cloudflare" })

	verifyChain(t, bed, res.paths.FullChain, apexWildcardWWW)
	if res.providerCalls != 2 {
		t.Errorf("provider calls = %d, want 2 (one zone, publish and cleanup)", res.providerCalls)
	}
	for _, zone := range bedZones() {
		if left := fake.TXT(zone); len(left) > 0 {
			t.Errorf("the fake Cloudflare still contains TXT records in %s: %v", zone, left)
		}
	}
	assertNoChallengeRecords(t, bed)
	// The records reached DNS only through the API and the sink. Creates
	// and deletes run in parallel, so one sync may cover several of them.
	if got := sink.Updates("example.test."); got < 2 || got > 6 {
		t.Errorf("sink sent %d updates of example.test., want 2 to 6 (3 creates, 3 deletes)", got)
	}
	assertUpdatesOnlyFrom(t, bed, map[string]int{"example.test.": sink.Updates("example.test.")})

	// Three values in one zone cost one zone lookup and one create per
	// value to publish. Cleaning up costs a search by name and content and
	// a delete per value.
	want := map[string]int{
		"GET /zones":                                          1,
		"POST /zones/{zone_id}/dns_records":                   3,
		"GET /zones/{zone_id}/dns_records":                    3,
		"DELETE /zones/{zone_id}/dns_records/{dns_record_id}": 3,
	}
	if got := fake.Requests(); !maps.Equal(got, want) {
		t.Errorf("requests at the fake Cloudflare = %v, want %v", got, want)
	}
	for _, r := range fake.RequestLog() {
		if r.Status != 200 {
			t.Errorf("%s %s%s got status %d, want 200", r.Method, r.Path, r.Query, r.Status)
		}
	}
	if strings.Contains(logs.String(), cloudflareToken) {
		t.Error("the log contains the API token")
	}
}

func TestIssueThroughRoute53(t *testing.T) {
	bed := startBed(t, testbed.Options{})
	sink := newDNSSink(t, bed)
	fake := startRoute53(t, sink)

	res := run(t, issueArgs(t, bed, "route53", apexWildcardWWW...)...)
	if res.code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", res.code, res.stderr)
	}
	out := parseJSON(t, res.stdout)
	verifyChain(t, bed, out.Files.FullChain, apexWildcardWWW)
	if out.ProviderCalls != 2 {
		t.Errorf("provider calls = %d, want 2 (one zone, publish and cleanup)", out.ProviderCalls)
	}
	for zone, id := range fake.zoneIDs {
		if left := fake.TXTRecords(id); len(left) > 0 {
			t.Errorf("the fake Route 53 still contains TXT records in %s: %v", zone, left)
		}
	}
	assertNoChallengeRecords(t, bed)
	if got := sink.Updates("example.test."); got != 2 {
		t.Errorf("sink sent %d updates of example.test., want 2 (one change batch each way)", got)
	}
	// Nothing reached the primary but the copies of the API's changes, so
	// the rfc2136 variables that startBed set were not used.
	assertUpdatesOnlyFrom(t, bed, map[string]int{"example.test.": sink.Updates("example.test.")})

	if got := fake.changedZones(); !slices.Equal(got, []string{"example.test."}) {
		t.Errorf("changes went to zones %v, want only example.test.", got)
	}
	// Per call: one zone lookup (publish only, then cached), one read of
	// the two record sets, one change batch and one GetChange.
	want := map[string]int{
		fakeroute53.OpListHostedZonesByName:    1,
		fakeroute53.OpListResourceRecordSets:   2,
		fakeroute53.OpChangeResourceRecordSets: 2,
		fakeroute53.OpGetChange:                2,
	}
	if got := fake.Counts(); !maps.Equal(got, want) {
		t.Errorf("requests at the fake Route 53 = %v, want %v", got, want)
	}
	for _, r := range fake.Requests() {
		if r.AccessKeyID != route53KeyID || r.Region != "us-east-1" || r.Status != 200 {
			t.Errorf("%s request: key %q, region %q, status %d; want key %s, region us-east-1, status 200",
				r.Operation, r.AccessKeyID, r.Region, r.Status, route53KeyID)
		}
	}
	if strings.Contains(res.stdout+res.stderr, route53Secret) {
		t.Error("output contains the secret access key")
	}
}

func TestIssueThroughExecProgram(t *testing.T) {
	bed := startBed(t, testbed.Options{})
	program, runLog := writeExecProgram(t, bed, bedZones()...)
	t.Setenv("EXEC_PATH", program)
	t.Setenv(execMarkerVar, "passed")
	// Credentials of other providers, which dnscert must remove from the
	// program's environment.
	t.Setenv("CLOUDFLARE_DNS_API_TOKEN", cloudflareToken)
	t.Setenv("CF_DNS_API_TOKEN", cloudflareToken)
	t.Setenv("AWS_SECRET_ACCESS_KEY", route53Secret)
	t.Setenv("AWS_SESSION_TOKEN", "e2e-session-token-never-print")
	t.Setenv("RFC2136_TSIG_SECRET_FILE", filepath.Join(t.TempDir(), "unused"))

	res := run(t, issueArgs(t, bed, "exec", apexWildcardWWW...)...)
	if res.code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", res.code, res.stderr)
	}
	out := parseJSON(t, res.stdout)
	verifyChain(t, bed, out.Files.FullChain, apexWildcardWWW)
	if out.ProviderCalls != 2 {
		t.Errorf("provider calls = %d, want 2 (one zone, publish and cleanup)", out.ProviderCalls)
	}
	assertNoChallengeRecords(t, bed)

	runs := readExecRuns(t, runLog)
	if len(runs) != 6 {
		t.Fatalf("the program ran %d times, want 6 (3 values, present and cleanup): %+v", len(runs), runs)
	}
	// Runs are sequential: every present, then every cleanup.
	var presented, cleaned []string
	for i, r := range runs {
		if r.Error != "" {
			t.Errorf("run %d %v failed: %s", i, r.Args, r.Error)
		}
		if len(r.Args) != 3 {
			t.Errorf("run %d got arguments %q, want ACTION FQDN VALUE", i, r.Args)
			continue
		}
		action, record := r.Args[0], r.Args[1]+" "+r.Args[2]
		switch {
		case i < 3 && action == "present":
			presented = append(presented, record)
		case i >= 3 && action == "cleanup":
			cleaned = append(cleaned, record)
		default:
			t.Errorf("run %d has action %q, want present for runs 0-2 and cleanup for runs 3-5", i, action)
		}
		if want := []string{"RFC2136_NAMESERVER", "RFC2136_TSIG_SECRET_FILE", execMarkerVar}; !slices.Equal(r.Visible, want) {
			t.Errorf("run %d found the watched variables %v set, want %v (secrets removed, the rest passed)", i, r.Visible, want)
		}
	}
	slices.Sort(presented)
	slices.Sort(cleaned)
	if !slices.Equal(presented, cleaned) {
		t.Errorf("cleanup runs %v do not match present runs %v", cleaned, presented)
	}
	var owners []string
	for _, record := range presented {
		owner, value, _ := strings.Cut(record, " ")
		owners = append(owners, owner)
		if len(value) != 43 {
			t.Errorf("value %q at %s has %d characters, want the 43 of a base64url SHA-256 digest", value, owner, len(value))
		}
	}
	wantOwners := []string{"_acme-challenge.example.test.", "_acme-challenge.example.test.", "_acme-challenge.www.example.test."}
	if !slices.Equal(owners, wantOwners) {
		t.Errorf("the program got the names %v, want %v (lower case, trailing dot)", owners, wantOwners)
	}
	assertUpdatesOnlyFrom(t, bed, map[string]int{"example.test.": 6})
	for _, secret := range []string{cloudflareToken, route53Secret, bed.DNS.TSIGSecret} {
		if strings.Contains(res.stdout+res.stderr, secret) {
			t.Error("output contains a secret")
		}
	}
}

// One order whose names live in three zones, each at another provider:
// rfc2136 for example.test, exec for sub.example.test and route53 for
// other.test. Each provider must change its own zone and no other.
func TestIssueWithSeveralProviders(t *testing.T) {
	zones := testbed.DefaultZones()
	zones[2].Records += "www IN A 127.0.0.1\n"
	bed := startBed(t, testbed.Options{Zones: zones})
	sink := newDNSSink(t, bed)
	r53 := startRoute53(t, sink)
	program, runLog := writeExecProgram(t, bed, bedZones()...)
	t.Setenv("EXEC_PATH", program)

	names := []string{"example.test", "*.example.test", "a.sub.example.test", "www.other.test"}
	args := append(issueArgs(t, bed, "rfc2136", names...),
		"--dns-for", "a.sub.example.test=exec", "--dns-for", "www.other.test=route53")
	res := run(t, args...)
	if res.code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", res.code, res.stderr)
	}
	out := parseJSON(t, res.stdout)
	verifyChain(t, bed, out.Files.FullChain, names)
	if out.ProviderCalls != 6 {
		t.Errorf("provider calls = %d, want 6 (three zones, publish and cleanup)", out.ProviderCalls)
	}

	// rfc2136 sends one update per call to example.test, the program one
	// per value to sub.example.test, and the sink copies the two Route 53
	// changes of other.test.
	assertUpdatesOnlyFrom(t, bed, map[string]int{"example.test.": 2, "sub.example.test.": 2, "other.test.": 2})
	if got := sink.Updates("other.test."); got != 2 {
		t.Errorf("sink sent %d updates of other.test., want 2 (the Route 53 changes)", got)
	}
	if got := r53.changedZones(); !slices.Equal(got, []string{"other.test."}) {
		t.Errorf("Route 53 changes went to zones %v, want only other.test.", got)
	}
	for _, r := range readExecRuns(t, runLog) {
		if len(r.Args) != 3 || r.Args[1] != "_acme-challenge.a.sub.example.test." {
			t.Errorf("the program ran with %q, want only _acme-challenge.a.sub.example.test.", r.Args)
		}
	}
	if got := len(readExecRuns(t, runLog)); got != 2 {
		t.Errorf("the program ran %d times, want 2 (present and cleanup of one value)", got)
	}

	assertNoChallengeRecords(t, bed)
	for ip, values := range bed.DNS.TXT("_acme-challenge.www.other.test.") {
		if len(values) > 0 {
			t.Errorf("%s still serves _acme-challenge.www.other.test. TXT %v", ip, values)
		}
	}
	for zone, id := range r53.zoneIDs {
		if left := r53.TXTRecords(id); len(left) > 0 {
			t.Errorf("the fake Route 53 still contains TXT records in %s: %v", zone, left)
		}
	}
}

// assertUpdatesOnlyFrom checks the UPDATE messages that the bed's primary
// received, by zone, against want: a zone's count must be exactly the
// updates its provider or the sink sent, so no provider wrote into
// another's zone.
func assertUpdatesOnlyFrom(t *testing.T, bed *testbed.Bed, want map[string]int) {
	t.Helper()
	got := primaryUpdates(bed)
	if !maps.Equal(got, want) {
		t.Errorf("the primary received updates by zone %s, want %s", formatCounts(got), formatCounts(want))
	}
}

func formatCounts(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// apiCalls are the requests that one provider sent to publish values in one
// zone and then to clean them up, by kind of request.
type apiCalls struct {
	publish, cleanup map[string]int
}

// TestProviderAPICalls measures the table "API calls to publish and clean
// up" of docs/providers.md at the fakes, and fails when the page does not
// show what it measured. Run it with -v to print the rows.
func TestProviderAPICalls(t *testing.T) {
	page, err := os.ReadFile(filepath.Join("..", "..", "docs", "providers.md"))
	if err != nil {
		t.Fatalf("reading the provider documentation: %v", err)
	}
	measure := map[string]func(t *testing.T, n int) apiCalls{
		"rfc2136":    measureRFC2136,
		"cloudflare": measureCloudflare,
		"route53":    measureRoute53,
	}
	var rows []string
	for _, name := range []string{"rfc2136", "cloudflare", "route53"} {
		for _, n := range []int{2, 10, 100} {
			calls := measure[name](t, n)
			if name == "rfc2136" {
				want := map[string]int{"UPDATE": 1}
				if !maps.Equal(calls.publish, want) || !maps.Equal(calls.cleanup, want) {
					t.Errorf("rfc2136 with %d names sent %v to publish and %v to clean up, want one UPDATE each way", n, calls.publish, calls.cleanup)
				}
			}
			row := fmt.Sprintf("| %s | %d | %s | %s |", name, n, formatCalls(calls.publish), formatCalls(calls.cleanup))
			rows = append(rows, row)
			if !strings.Contains(string(page), row+"\n") {
				t.Errorf("docs/providers.md lacks the measured row\n%s", row)
			}
		}
	}
	t.Logf("measured rows:\n%s", strings.Join(rows, "\n"))
}

// formatCalls returns the total of calls and the count of each kind, such
// as "3 (GET /zones 1, POST /zones/{zone_id}/dns_records 2)".
func formatCalls(calls map[string]int) string {
	total := 0
	var parts []string
	for _, kind := range slices.Sorted(maps.Keys(calls)) {
		total += calls[kind]
		parts = append(parts, fmt.Sprintf("%s %d", kind, calls[kind]))
	}
	return fmt.Sprintf("%d (%s)", total, strings.Join(parts, ", "))
}

// publishAndCleanUp publishes n values in the zone example.test. through
// provider with dns01.Publisher, as issue does, then removes them. It
// counts the requests with count, which returns the running totals by
// kind, and checks with stored, which returns the number of values the
// provider's server holds, that each step did its work.
func publishAndCleanUp(t *testing.T, name string, provider dns01.Provider, n int, count func() map[string]int, stored func() int) apiCalls {
	t.Helper()
	var records []dns01.Record
	for i := range n {
		owner := fmt.Sprintf("_acme-challenge.host%03d.example.test.", i)
		records = append(records, dns01.Record{
			Provider: name, Zone: "example.test.", Name: owner, Challenge: owner,
			Value: dns01.TXTValue(fmt.Sprintf("token-%d.thumbprint", i)),
		})
	}
	journal, err := dns01.OpenJournal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer journal.Close()
	var logs lockedBuffer
	publisher := &dns01.Publisher{Providers: map[string]dns01.Provider{name: provider}, Journal: journal, Logger: bufferLogger(&logs)}

	before := count()
	if err := publisher.Publish(t.Context(), &dns01.Plan{Records: records}); err != nil {
		t.Fatalf("%s: publishing %d values: %v\nlog:\n%s", name, n, err, logs.String())
	}
	published := count()
	if got := stored(); got != n {
		t.Errorf("%s: the server contains %d values after publishing %d", name, got, n)
	}
	if err := publisher.Cleanup(t.Context(), records); err != nil {
		t.Fatalf("%s: removing %d values: %v\nlog:\n%s", name, n, err, logs.String())
	}
	if got := stored(); got != 0 {
		t.Errorf("%s: the server still contains %d values after the cleanup", name, got)
	}
	return apiCalls{publish: subtractCounts(published, before), cleanup: subtractCounts(count(), published)}
}

func subtractCounts(after, before map[string]int) map[string]int {
	out := make(map[string]int)
	for kind, n := range after {
		if d := n - before[kind]; d != 0 {
			out[kind] = d
		}
	}
	return out
}

func measureRFC2136(t *testing.T, n int) apiCalls {
	srv, err := dnstest.NewServer("127.0.0.1:0")
	if err != nil {
		t.Fatalf("starting a DNS server: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	zone := "$ORIGIN example.test.\n@ IN SOA ns1 hostmaster 1 60 60 600 60\n@ IN NS ns1\nns1 IN A 127.0.0.1\n"
	if err := srv.AddZone("example.test.", zone); err != nil {
		t.Fatal(err)
	}

	secret := base64.StdEncoding.EncodeToString([]byte("measurement-only-tsig-secret-32b"))
	if err := srv.RequireTSIG(testbed.TSIGKey, testbed.TSIGAlgorithm, secret); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"RFC2136_NAMESERVER":     srv.Addr(),
		"RFC2136_TSIG_KEY":       testbed.TSIGKey,
		"RFC2136_TSIG_SECRET":    secret,
		"RFC2136_TSIG_ALGORITHM": testbed.TSIGAlgorithm,
	}
	provider, err := providers.New("rfc2136", func(name string) (string, bool) { v, ok := env[name]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}

	count := func() map[string]int {
		out := make(map[string]int)
		for _, q := range srv.Queries() {
			out[dns.OpcodeToString[q.Opcode]]++
		}
		return out
	}
	stored := func() int {
		values := 0
		for i := range n {
			values += len(srv.Lookup(fmt.Sprintf("_acme-challenge.host%03d.example.test.", i), dns.TypeTXT))
		}
		return values
	}
	return publishAndCleanUp(t, "rfc2136", provider, n, count, stored)
}

func measureCloudflare(t *testing.T, n int) apiCalls {
	fake := startCloudflare(t, "example.test")
	t.Setenv("CLOUDFLARE_DNS_API_TOKEN", cloudflareToken)
	p, err := providers.New("cloudflare", os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	providers.Underlying(p).(*cloudflare.Provider).HTTPClient = fake.Client()
	stored := func() int {
		values := 0
		for _, v := range fake.TXT("example.test") {
			values += len(v)
		}
		return values
	}
	return publishAndCleanUp(t, "cloudflare", p, n, fake.Requests, stored)
}

func measureRoute53(t *testing.T, n int) apiCalls {
	fake := startRoute53(t, nil)
	p, err := providers.New("route53", os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	stored := func() int {
		values := 0
		for _, v := range fake.TXTRecords(fake.zoneIDs["example.test."]) {
			values += len(v)
		}
		return values
	}
	return publishAndCleanUp(t, "route53", p, n, fake.Counts, stored)
}
