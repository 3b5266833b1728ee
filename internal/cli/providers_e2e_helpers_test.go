package cli_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mholt/acmez/v3/acme"
	"github.com/miekg/dns"

	"github.com/dnscert/dnscert/dns01"
	"github.com/dnscert/dnscert/internal/fakecloudflare"
	"github.com/dnscert/dnscert/internal/fakeroute53"
	"github.com/dnscert/dnscert/internal/testbed"
	"github.com/dnscert/dnscert/issuer"
	"github.com/dnscert/dnscert/propagation"
	"github.com/dnscert/dnscert/providers"
	"github.com/dnscert/dnscert/providers/cloudflare"
	"github.com/dnscert/dnscert/storage"
)

// dnsSink copies the TXT records that a fake provider API stores into the
// hidden primary of a test bed with TSIG-signed RFC 2136 updates. The
// primary passes them on to the zone's nameservers, so Pebble's validation
// and dnscert's propagation check see what the API contains.
//
// Each sync sends only the difference from the records the sink sent
// before, so the bed must not hold TXT records of its own at the names
// the fake writes. The sink never reads the primary back.
type dnsSink struct {
	t   *testing.T
	bed *testbed.Bed

	mu      sync.Mutex
	sent    map[string]map[string][]string // zone, owner: values the primary got from the sink
	updates map[string]int                 // UPDATE messages sent, by zone
}

func newDNSSink(t *testing.T, bed *testbed.Bed) *dnsSink {
	return &dnsSink{t: t, bed: bed, sent: make(map[string]map[string][]string), updates: make(map[string]int)}
}

// sync makes the primary serve the TXT records that records returns for
// zone. records runs under the sink's lock, so concurrent syncs of one
// zone apply in the order of their snapshots and the last one wins.
// Failures fail the test, because DNS then no longer matches the API.
func (s *dnsSink) sync(zone string, records func() map[string][]string) {
	zone = dns.CanonicalName(zone)
	s.mu.Lock()
	defer s.mu.Unlock()
	want := make(map[string][]string)
	for owner, values := range records() {
		want[dns.CanonicalName(owner)] = values
	}
	have := s.sent[zone]
	add := txtDifference(zone, want, have)
	remove := txtDifference(zone, have, want)
	if len(add) == 0 && len(remove) == 0 {
		return
	}
	if err := sendUpdate(s.bed.DNS.PrimaryAddr(), s.bed.DNS.TSIGSecret, zone, add, remove); err != nil {
		s.t.Errorf("copying the TXT records of zone %s into the test DNS: %v", zone, err)
		return
	}
	s.sent[zone] = want
	s.updates[zone]++
}

// Updates returns the number of UPDATE messages the sink sent for zone.
func (s *dnsSink) Updates(zone string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.updates[dns.CanonicalName(zone)]
}

// txtDifference returns TXT records for the values in a that b lacks.
func txtDifference(zone string, a, b map[string][]string) []dns.RR {
	var out []dns.RR
	for _, owner := range slices.Sorted(maps.Keys(a)) {
		for _, value := range a[owner] {
			if !slices.Contains(b[owner], value) && !containsTXT(out, owner, value) {
				out = append(out, newTXT(owner, value))
			}
		}
	}
	return out
}

func containsTXT(rrs []dns.RR, owner, value string) bool {
	for _, rr := range rrs {
		if rr.Header().Name == owner && strings.Join(rr.(*dns.TXT).Txt, "") == value {
			return true
		}
	}
	return false
}

// newTXT returns a TXT record with the TTL dnscert publishes, with value
// split into character strings of at most 255 bytes (RFC 1035 §3.3).
func newTXT(owner, value string) *dns.TXT {
	var parts []string
	for len(value) > 255 {
		parts = append(parts, value[:255])
		value = value[255:]
	}
	parts = append(parts, value)
	return &dns.TXT{
		Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: uint32(dns01.DefaultTTL.Seconds())},
		Txt: parts,
	}
}

// sendUpdate sends one RFC 2136 update of zone, signed with the bed's TSIG
// key, that adds add and deletes the single values in remove.
func sendUpdate(addr, secret, zone string, add, remove []dns.RR) error {
	m := new(dns.Msg)
	m.SetUpdate(zone)
	if len(remove) > 0 {
		m.Remove(remove)
	}
	if len(add) > 0 {
		m.Insert(add)
	}
	m.SetTsig(testbed.TSIGKey, dns.Fqdn(testbed.TSIGAlgorithm), 300, time.Now().Unix())
	c := &dns.Client{Net: "tcp", Timeout: 5 * time.Second, TsigSecret: map[string]string{testbed.TSIGKey: secret}}
	resp, _, err := c.Exchange(m, addr)
	if err != nil {
		return fmt.Errorf("update of zone %s at %s: %w", zone, addr, err)
	}
	if resp.Rcode != dns.RcodeSuccess {
		return fmt.Errorf("update of zone %s at %s: server answered %s", zone, addr, dns.RcodeToString[resp.Rcode])
	}
	return nil
}

// primaryUpdates returns the UPDATE messages the bed's primary received,
// counted by zone in lower case with a trailing dot.
func primaryUpdates(bed *testbed.Bed) map[string]int {
	out := make(map[string]int)
	for _, q := range bed.DNS.Primary.Queries() {
		if q.Opcode == dns.OpcodeUpdate {
			out[dns.CanonicalName(q.Name)]++
		}
	}
	return out
}

// bedZones returns the origins of the bed's default zones, the zones every
// fake in these tests hosts.
func bedZones() []string {
	var out []string
	for _, z := range testbed.DefaultZones() {
		out = append(out, z.Origin)
	}
	return out
}

// cloudflareToken is the API token of the fake. It is registered with the
// fake and set in the environment only, and no output may contain it.
const cloudflareToken = "e2e-cloudflare-token-never-print"

// startCloudflare starts a fake Cloudflare API with the bed's zones and
// registers cloudflareToken with Zone:Read and DNS:Edit on the zones named
// in tokenZones, the least privilege the provider documents.
func startCloudflare(t *testing.T, tokenZones ...string) *fakecloudflare.Server {
	t.Helper()
	fake := fakecloudflare.New()
	t.Cleanup(fake.Close)
	for _, zone := range bedZones() {
		fake.AddZone(zone)
	}
	var ids []string
	for _, zone := range tokenZones {
		ids = append(ids, fake.ZoneID(zone))
	}
	fake.AddToken(cloudflareToken, fakecloudflare.Token{Zones: ids, ZoneRead: true, DNSEdit: true})
	return fake
}

// newCloudflareProvider builds the cloudflare provider as the issue command
// does, from the environment, and points its HTTP client at the fake with
// every change mirrored into the bed through sink.
func newCloudflareProvider(t *testing.T, fake *fakecloudflare.Server, sink *dnsSink, logger *slog.Logger) dns01.Provider {
	t.Helper()
	t.Setenv("CLOUDFLARE_DNS_API_TOKEN", cloudflareToken)
	p, err := providers.New("cloudflare", os.LookupEnv, providers.WithLogger(logger))
	if err != nil {
		t.Fatalf("building the cloudflare provider: %v", err)
	}
	cp, ok := providers.Underlying(p).(*cloudflare.Provider)
	if !ok {
		t.Fatalf("providers.New(cloudflare) built %T, want *cloudflare.Provider", providers.Underlying(p))
	}
	// HTTPClient is the adapter's only way to another API host, and it
	// must be set before the first call.
	cp.HTTPClient = &http.Client{Transport: fake.MirrorTransport(func(zone string) {
		sink.sync(zone, func() map[string][]string { return fake.TXT(zone) })
	})}
	return p
}

// route53KeyID and route53Secret are the key pair registered with the fake.
// The secret is set in the environment only, and no output may contain it.
const (
	route53KeyID  = "AKIDE2EDNSCERT"
	route53Secret = "e2e-route53-secret-never-print"
)

// route53Fake is a fake Route 53 with the bed's zones behind a mirror
// proxy that copies every change into the bed.
type route53Fake struct {
	*fakeroute53.Server
	zoneIDs map[string]string // by zone name, lower case with a trailing dot
}

// startRoute53 starts the fake and, unless sink is nil, the mirror. It sets
// the environment of the route53 provider to reach them and nothing else.
// Every variable that the AWS SDK reads is cleared first, the metadata
// service is off, and the shared config and credentials files are empty.
func startRoute53(t *testing.T, sink *dnsSink) *route53Fake {
	t.Helper()
	srv, err := fakeroute53.Start()
	if err != nil {
		t.Fatalf("starting the fake Route 53: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	fake := &route53Fake{Server: srv, zoneIDs: make(map[string]string)}
	for _, zone := range bedZones() {
		id, err := srv.AddZone(zone, false)
		if err != nil {
			t.Fatalf("adding zone %s to the fake Route 53: %v", zone, err)
		}
		fake.zoneIDs[zone] = id
	}
	endpoint := srv.URL()
	if sink != nil {
		mirror, err := srv.StartMirror(func(zoneID string) {
			sink.sync(fake.zoneName(zoneID), func() map[string][]string { return srv.TXTRecords(zoneID) })
		})
		if err != nil {
			t.Fatalf("starting the mirror of the fake Route 53: %v", err)
		}
		t.Cleanup(func() { mirror.Close() })
		endpoint = mirror.URL()
	}

	for _, name := range fakeroute53.SDKVariables {
		t.Setenv(name, "")
		os.Unsetenv(name)
	}
	for name, value := range srv.Env(route53KeyID, route53Secret) {
		t.Setenv(name, value)
	}
	dir := t.TempDir()
	for _, name := range []string{"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"} {
		path := filepath.Join(dir, strings.ToLower(name))
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv(name, path)
	}
	t.Setenv("AWS_ENDPOINT_URL_ROUTE_53", endpoint)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_REGION", "us-east-1")
	// The fake reports a change INSYNC at once, so a short first poll
	// keeps each run from waiting the default 2s.
	t.Setenv("AWS_POLLING_INTERVAL", "20ms")
	return fake
}

func (f *route53Fake) zoneName(id string) string {
	for name, zoneID := range f.zoneIDs {
		if zoneID == id {
			return name
		}
	}
	return ""
}

// changedZones returns the names of the zones that got
// ChangeResourceRecordSets requests, sorted.
func (f *route53Fake) changedZones() []string {
	var out []string
	for _, r := range f.Requests() {
		if r.Operation == fakeroute53.OpChangeResourceRecordSets {
			name := f.zoneName(r.ZoneID)
			if !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
	}
	slices.Sort(out)
	return out
}

// e2ePropagationTimeout bounds the wait for the bed's nameservers, which
// serve a change within milliseconds. It is far below the default of
// 10 minutes, so a sink that fails to copy a record fails the test soon.
const e2ePropagationTimeout = time.Minute

// issueArgs returns the bed's issue arguments for names with --dns set to
// provider and the propagation timeout set to e2ePropagationTimeout.
func issueArgs(t *testing.T, bed *testbed.Bed, provider string, names ...string) []string {
	args := bed.IssueArgs(t.TempDir(), names...)
	i := slices.Index(args, "--dns")
	if i < 0 || i+1 >= len(args) {
		t.Fatalf("the bed's issue arguments %q have no --dns", args)
	}
	args[i+1] = provider
	return append(args, "--propagation-timeout", e2ePropagationTimeout.String(), "--json")
}

// bufferLogger returns a logger that writes debug lines and above to
// logs, for a failure message to show.
func bufferLogger(logs *lockedBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// inProcessResult is what obtainInProcess returns.
type inProcessResult struct {
	paths         storage.Paths
	providerCalls int
}

// obtainInProcess orders, validates and stores one certificate with the
// packages and settings of the issue command's obtain (internal/cli
// order.go), for providers that only a test can point at a fake: the
// cloudflare adapter has no setting for its base URL. Unlike obtain, it
// fails the test on any error, also when only the cleanup failed, and it
// leaves out the issue command's lock and deploy hook.
func obtainInProcess(ctx context.Context, t *testing.T, bed *testbed.Bed, logs *lockedBuffer, names []string, provs map[string]dns01.Provider, providerOf func(string) string) inProcessResult {
	t.Helper()
	logger := bufferLogger(logs)
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s\nlog:\n%s", fmt.Sprintf(format, args...), logs.String())
	}

	normalized, err := dns01.NormalizeNames(names)
	if err != nil {
		fail("invalid names %v: %v", names, err)
	}
	certName, err := storage.DefaultName(normalized[0])
	if err != nil {
		fail("certificate name of %s: %v", normalized[0], err)
	}
	store, err := storage.Open(t.TempDir())
	if err != nil {
		fail("opening the storage directory: %v", err)
	}
	journalDir := filepath.Join(store.Root(), "journal")
	if _, err := dns01.RecoverStale(ctx, journalDir, func(name string) (dns01.Provider, error) {
		if p, ok := provs[name]; ok {
			return p, nil
		}
		return nil, fmt.Errorf("no provider %s in this test", name)
	}, logger); err != nil {
		fail("recovering stale journals: %v", err)
	}

	retry := &issuer.RetryTransport{Base: bed.Pebble.HTTPClient().Transport, Logger: logger}
	client := &acme.Client{
		Directory:   bed.Pebble.DirectoryURL,
		HTTPClient:  &http.Client{Transport: retry, Timeout: 5 * time.Minute},
		UserAgent:   "dnscert-e2e-test",
		Logger:      logger.With(slog.String("component", "acme")),
		PollTimeout: 10 * time.Minute,
	}
	account, err := issuer.LoadOrRegister(ctx, client, store, issuer.AccountOptions{
		Email: "admin@example.test", AcceptTOS: true, Logger: logger,
	})
	if err != nil {
		fail("registering the account: %v", err)
	}
	if err := issuer.CheckProfile(ctx, client, "default"); err != nil {
		fail("checking the profile default: %v", err)
	}
	key, err := storage.GenerateKey(storage.DefaultKeyType)
	if err != nil {
		fail("generating the certificate key: %v", err)
	}
	journal, err := dns01.OpenJournal(journalDir)
	if err != nil {
		fail("opening the journal: %v", err)
	}
	defer journal.Close()

	dnsClient := &propagation.Client{Resolvers: []string{bed.DNS.ResolverAddr()}, Port: bed.DNS.Port, Logger: logger}
	publisher := &dns01.Publisher{Providers: provs, Journal: journal, Logger: logger}
	is := &issuer.Issuer{
		Client:  client,
		Account: account,
		Planner: &dns01.Planner{
			DNS:         dnsClient,
			ProviderFor: providerOf,
			Providers:   provs,
			Logger:      logger,
		},
		Publisher:          publisher,
		DNS:                dnsClient,
		PropagationTimeout: e2ePropagationTimeout,
		Logger:             logger,
	}
	res, err := is.Obtain(ctx, issuer.Request{Names: normalized, Key: key, Profile: "default"}, issuer.NewTimings())
	if err != nil {
		fail("issuance failed: %v", err)
	}
	if _, err := issuer.Save(store, certName, res, key, issuer.SaveOptions{
		Directory: bed.Pebble.DirectoryURL, AccountURL: account.Location, AccountEmail: "admin@example.test",
		Provider: providerOf(normalized[0]),
	}); err != nil {
		fail("storing the certificate: %v", err)
	}
	return inProcessResult{paths: store.CertificatePaths(certName), providerCalls: publisher.Calls()}
}

// The exec provider's test program is this test binary, run again through
// a shell script with execHelperVar set. Its settings are in the script,
// so they reach it whatever dnscert removes from the environment.
const (
	execHelperVar = "DNSCERT_E2E_EXEC_HELPER" // "1" in the helper process
	execLogVar    = "DNSCERT_E2E_EXEC_LOG"    // file that gets one JSON line per run
	execServerVar = "DNSCERT_E2E_EXEC_SERVER" // primary that takes the updates, host:port
	execKeyVar    = "DNSCERT_E2E_EXEC_KEY_FILE"
	execZonesVar  = "DNSCERT_E2E_EXEC_ZONES" // zones the program may change, comma-separated
	// execMarkerVar is set in the environment of dnscert, and the program
	// reports whether its own environment contains it.
	execMarkerVar = "DNSCERT_E2E_EXEC_MARKER"
)

// execWatched are variables whose presence the program reports: secrets
// that dnscert must remove, and ordinary variables that it must pass.
var execWatched = []string{
	"RFC2136_TSIG_SECRET", "CLOUDFLARE_DNS_API_TOKEN", "CF_DNS_API_TOKEN",
	"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"RFC2136_NAMESERVER", "RFC2136_TSIG_SECRET_FILE", execMarkerVar,
}

// execRun is one run of the exec program as its log records it.
type execRun struct {
	Args    []string `json:"args"`
	Visible []string `json:"visible"` // the names of execWatched that are set
	Error   string   `json:"error,omitempty"`
}

// writeExecProgram writes the shell script that EXEC_PATH names: it runs
// this test binary as the exec program, updating zones at the bed's
// primary. It returns the script's path and the path of the run log.
func writeExecProgram(t *testing.T, bed *testbed.Bed, zones ...string) (program, runLog string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatalf("finding the test binary: %v", err)
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "tsig.secret")
	if err := os.WriteFile(keyFile, []byte(bed.DNS.TSIGSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	runLog = filepath.Join(dir, "runs.jsonl")
	script := "#!/bin/sh\n" +
		execHelperVar + "=1 " +
		execLogVar + "=" + shellQuote(runLog) + " " +
		execServerVar + "=" + shellQuote(bed.DNS.PrimaryAddr()) + " " +
		execKeyVar + "=" + shellQuote(keyFile) + " " +
		execZonesVar + "=" + shellQuote(strings.Join(zones, ",")) + " " +
		"exec " + shellQuote(self) + " -test.run='^TestExecHelperProcess$' -- \"$@\"\n"
	program = filepath.Join(dir, "dns-hook")
	if err := os.WriteFile(program, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	return program, runLog
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// readExecRuns returns the runs of the exec program, oldest first.
func readExecRuns(t *testing.T, path string) []execRun {
	t.Helper()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var runs []execRun
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		var r execRun
		if err := json.Unmarshal(scanner.Bytes(), &r); err != nil {
			t.Fatalf("run log %s: invalid line %q: %v", path, scanner.Text(), err)
		}
		runs = append(runs, r)
	}
	if err := scanner.Err(); err != nil {
		t.Fatal(err)
	}
	return runs
}

// TestExecHelperProcess is the exec provider's program in the tests of
// this file, not a test: without execHelperVar it returns at once. It
// takes the arguments after "--" as ACTION FQDN VALUE, adds or deletes
// that one TXT value with an RFC 2136 update, logs the run and exits with
// status 0, or 1 on failure.
func TestExecHelperProcess(t *testing.T) {
	if os.Getenv(execHelperVar) != "1" {
		return
	}
	args := os.Args
	if i := slices.Index(args, "--"); i >= 0 {
		args = args[i+1:]
	}
	run := execRun{Args: args}
	for _, name := range execWatched {
		if _, ok := os.LookupEnv(name); ok {
			run.Visible = append(run.Visible, name)
		}
	}
	err := execHelperUpdate(args)
	if err != nil {
		run.Error = err.Error()
	}
	if lerr := appendJSONLine(os.Getenv(execLogVar), run); lerr != nil {
		err = errors.Join(err, lerr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "dns-hook:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func execHelperUpdate(args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("got %d arguments %q, want ACTION FQDN VALUE", len(args), args)
	}
	action, fqdn, value := args[0], args[1], args[2]
	zone := ""
	for _, z := range strings.Split(os.Getenv(execZonesVar), ",") {
		if dns.IsSubDomain(z, fqdn) && dns.CountLabel(z) > dns.CountLabel(zone) {
			zone = z
		}
	}
	if zone == "" {
		return fmt.Errorf("%s is in none of the zones %s", fqdn, os.Getenv(execZonesVar))
	}
	secret, err := os.ReadFile(os.Getenv(execKeyVar))
	if err != nil {
		return err
	}
	rr := []dns.RR{newTXT(fqdn, value)}
	server := os.Getenv(execServerVar)
	switch action {
	case "present":
		return sendUpdate(server, string(secret), zone, rr, nil)
	case "cleanup":
		return sendUpdate(server, string(secret), zone, nil, rr)
	}
	return fmt.Errorf("unknown action %q, want present or cleanup", action)
}

func appendJSONLine(path string, v any) error {
	line, err := json.Marshal(v)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
