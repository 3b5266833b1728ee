package integration_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libdns/libdns"

	"github.com/dnscert/dnscert/internal/cli"
	"github.com/dnscert/dnscert/internal/testbed"
	"github.com/dnscert/dnscert/providers/rfc2136"
)

// secondaryTimeout bounds the wait for the secondary to follow a change of
// example.test, which reaches it by NOTIFY in well under a second.
const secondaryTimeout = 5 * time.Second

// issueTimeout bounds one dnscert run.
const issueTimeout = 2 * time.Minute

func (n *bindNetwork) provider(secret string) *rfc2136.Provider {
	return &rfc2136.Provider{
		Nameserver:    addrOf(primaryIP),
		TSIGKey:       tsigKeyName,
		TSIGSecret:    secret,
		TSIGAlgorithm: tsigAlgorithm,
		Timeout:       5 * time.Second,
	}
}

func challengeTXT(text string) libdns.Record {
	return libdns.TXT{Name: "_acme-challenge", TTL: time.Minute, Text: text}
}

func TestBINDUpdateWithTSIG(t *testing.T) {
	n := startBINDNetwork(t)
	ctx := t.Context()
	p := n.provider(n.tsigSecret)
	const name = "_acme-challenge.example.test."
	primary, secondary := addrOf(primaryIP), addrOf(secondaryIP)

	t.Run("append two values", func(t *testing.T) {
		if _, err := p.AppendRecords(ctx, "example.test.", []libdns.Record{challengeTXT("value-one"), challengeTXT("value-two")}); err != nil {
			t.Fatalf("AppendRecords: %v", err)
		}
		checkTXT(t, primary, name, "value-one", "value-two")
		waitTXT(t, secondary, name, secondaryTimeout, "value-one", "value-two")
	})

	t.Run("delete one value", func(t *testing.T) {
		if _, err := p.DeleteRecords(ctx, "example.test.", []libdns.Record{challengeTXT("value-one")}); err != nil {
			t.Fatalf("DeleteRecords: %v", err)
		}
		checkTXT(t, primary, name, "value-two")
		waitTXT(t, secondary, name, secondaryTimeout, "value-two")
	})

	t.Run("wrong secret", func(t *testing.T) {
		wrong := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x5a}, 32))
		_, err := n.provider(wrong).AppendRecords(ctx, "example.test.", []libdns.Record{challengeTXT("forged")})
		if err == nil {
			t.Fatal("AppendRecords with a wrong TSIG secret succeeded, want an error")
		}
		if !strings.Contains(err.Error(), "BADSIG") {
			t.Errorf("error %q does not name the TSIG error BADSIG", err)
		}
		if strings.Contains(err.Error(), wrong) {
			t.Errorf("error %q contains the TSIG secret", err)
		}
		checkTXT(t, primary, name, "value-two")
	})

	t.Run("type outside the grant", func(t *testing.T) {
		// The update-policy grants TXT only, so the key cannot change
		// addresses.
		rec := libdns.RR{Name: "www", Type: "A", TTL: time.Minute, Data: "127.0.0.9"}
		_, err := p.AppendRecords(ctx, "example.test.", []libdns.Record{rec})
		if err == nil {
			t.Fatal("AppendRecords of an A record succeeded, want REFUSED because the key may change TXT records only")
		}
		if !strings.Contains(err.Error(), "REFUSED") {
			t.Errorf("error %q does not name the RCODE REFUSED", err)
		}
	})
}

func TestBINDIssueWildcard(t *testing.T) {
	n := startBINDNetwork(t)
	dir := t.TempDir()
	pebble := startPebble(t, dir, nil)
	setProviderEnv(t, n.tsigSecret)

	storagePath := filepath.Join(dir, "dnscert")
	args := issueArgs(storagePath, pebble, "example.test", "*.example.test", "www.example.test")
	args = append(args, "--verbose")
	stdout, stderr := runIssue(t, args)
	if strings.Contains(stdout+stderr, n.tsigSecret) {
		t.Error("dnscert output contains the TSIG secret")
	}

	leaf := verifyFullChain(t, filepath.Join(storagePath, "certificates", "example.test", "fullchain.pem"), pebble.Roots())
	for _, want := range []string{"example.test", "*.example.test", "www.example.test"} {
		if !slices.Contains(leaf.DNSNames, want) {
			t.Errorf("certificate names %q, want %s among them", leaf.DNSNames, want)
		}
	}
	for _, host := range []string{"example.test", "www.example.test", "other.example.test"} {
		if err := leaf.VerifyHostname(host); err != nil {
			t.Errorf("certificate does not cover %s: %v", host, err)
		}
	}
	if err := leaf.VerifyHostname("a.b.example.test"); err == nil {
		t.Error("certificate covers a.b.example.test, but a wildcard covers one label only")
	}

	for _, name := range []string{"_acme-challenge.example.test.", "_acme-challenge.www.example.test."} {
		checkTXT(t, addrOf(primaryIP), name)
		waitTXT(t, addrOf(secondaryIP), name, secondaryTimeout)
	}
}

func TestBINDIssueLaggingSecondary(t *testing.T) {
	n := startBINDNetwork(t)
	ctx := t.Context()
	dir := t.TempDir()
	const name = "_acme-challenge.lag.test."
	primary, secondary := addrOf(primaryIP), addrOf(secondaryIP)

	// atAccept collects the TXT texts the secondary served whenever a
	// challenge response reached Pebble, which validates right after.
	var (
		mu         sync.Mutex
		atAccept   [][]string
		acceptErrs []error
	)
	watchChallenges := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/chalZ/") {
				texts, err := queryTXT(secondary, name)
				mu.Lock()
				atAccept = append(atAccept, texts)
				if err != nil {
					acceptErrs = append(acceptErrs, err)
				}
				mu.Unlock()
			}
			next.ServeHTTP(w, r)
		})
	}
	pebble := startPebble(t, dir, watchChallenges)
	setProviderEnv(t, n.tsigSecret)

	// The secondary refreshes lag.test about lagRefresh after its last
	// transfer. Publishing right after a transfer therefore makes it lag by
	// almost lagRefresh, instead of a random part of it.
	if _, err := n.provider(n.tsigSecret).AppendRecords(ctx, "lag.test.", []libdns.Record{
		libdns.TXT{Name: "refresh-marker", TTL: time.Minute, Text: "transferred"},
	}); err != nil {
		t.Fatalf("AppendRecords of the refresh marker: %v", err)
	}
	waitTXT(t, secondary, "refresh-marker.lag.test.", 2*lagRefresh+time.Second, "transferred")

	// lag.test and *.lag.test put two values at one name, in one update.
	const challengeValues = 2
	watchCtx, stopWatch := context.WithCancel(ctx)
	primarySeen := watchFirstServed(watchCtx, primary, name, challengeValues)
	secondarySeen := watchFirstServed(watchCtx, secondary, name, challengeValues)

	args := append(issueArgs(filepath.Join(dir, "dnscert"), pebble, "lag.test", "*.lag.test"), "--json")
	stdout, _ := runIssue(t, args)
	stopWatch()
	primaryAt, secondaryAt := <-primarySeen, <-secondarySeen

	var result struct {
		OK    bool `json:"ok"`
		Steps []struct {
			Step    string  `json:"step"`
			Seconds float64 `json:"seconds"`
		} `json:"steps"`
	}
	if err := json.Unmarshal([]byte(stdout), &result); err != nil {
		t.Fatalf("parsing the --json output: %v\n%s", err, stdout)
	}
	if !result.OK {
		t.Errorf("--json output has ok false:\n%s", stdout)
	}
	propagation := -1.0
	for _, s := range result.Steps {
		if s.Step == "propagation" {
			propagation = s.Seconds
		}
	}
	if propagation < 0 {
		t.Fatalf("--json output has no propagation step:\n%s", stdout)
	}

	if primaryAt.IsZero() || secondaryAt.IsZero() {
		t.Fatalf("the challenge values were never seen on both servers (primary at %v, secondary at %v)", primaryAt, secondaryAt)
	}
	lag := secondaryAt.Sub(primaryAt)
	t.Logf("secondary lagged %s behind the primary; propagation step took %.3fs", lag.Round(time.Millisecond), propagation)
	// Because of the marker transfer, the lag is close to lagRefresh unless
	// dnscert took most of lagRefresh to publish. A far shorter lag means the
	// secondary did not lag, so the test would check nothing.
	if lag < lagRefresh/4 {
		t.Errorf("the secondary served the challenge values %s after the primary, want at least %s; check min-refresh-time and the SOA refresh of lag.test", lag, lagRefresh/4)
	}
	// Both watchers poll every pollInterval, and a busy machine delays them
	// and dnscert further, so the measured lag is only an estimate.
	const slack = 500 * time.Millisecond
	if got := time.Duration(propagation * float64(time.Second)); got < lag-slack {
		t.Errorf("propagation step took %s, want at least the secondary's lag of %s (minus %s)", got, lag, slack)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(atAccept) == 0 {
		t.Error("no challenge response reached Pebble")
	}
	for i, texts := range atAccept {
		if len(texts) != challengeValues {
			t.Errorf("challenge response %d reached Pebble while the secondary served %d values %q at %s, want %d", i+1, len(texts), texts, name, challengeValues)
		}
	}
	for _, err := range acceptErrs {
		t.Errorf("querying the secondary when a challenge response arrived: %v", err)
	}

	checkTXT(t, primary, name)
	waitTXT(t, secondary, name, 2*lagRefresh+time.Second)
}

// watchFirstServed polls server for TXT at name until ctx ends, and then
// sends the first time it served at least count values, or the zero time.
func watchFirstServed(ctx context.Context, server, name string, count int) <-chan time.Time {
	out := make(chan time.Time, 1)
	go func() {
		ticker := time.NewTicker(pollInterval)
		defer ticker.Stop()
		for {
			if texts, err := queryTXT(server, name); err == nil && len(texts) >= count {
				out <- time.Now()
				return
			}
			select {
			case <-ctx.Done():
				out <- time.Time{}
				return
			case <-ticker.C:
			}
		}
	}()
	return out
}

// startPebble starts Pebble with the test resolver as its only DNS server.
func startPebble(t *testing.T, dir string, middleware func(http.Handler) http.Handler) *testbed.Pebble {
	t.Helper()
	p, err := testbed.StartPebble(dir, testbed.PebbleOptions{
		DNSServer:  addrOf(resolverIP),
		Middleware: middleware,
	})
	if err != nil {
		t.Fatalf("starting Pebble: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// setProviderEnv points dnscert's rfc2136 provider at the BIND primary.
func setProviderEnv(t *testing.T, secret string) {
	t.Setenv("RFC2136_NAMESERVER", addrOf(primaryIP))
	t.Setenv("RFC2136_TSIG_KEY", tsigKeyName)
	t.Setenv("RFC2136_TSIG_SECRET", secret)
	t.Setenv("RFC2136_TSIG_ALGORITHM", tsigAlgorithm)
}

func issueArgs(storagePath string, pebble *testbed.Pebble, names ...string) []string {
	args := []string{
		"dnscert", "--path", storagePath, "issue",
		"--server", pebble.DirectoryURL,
		"--ca-cert", pebble.TLSCertFile,
		"--dns", "rfc2136",
		"--resolver", addrOf(resolverIP),
		"--dns-port", strconv.Itoa(dnsPort),
		"--profile", "default",
		"--accept-tos",
		"--email", "admin@example.test",
	}
	for _, name := range names {
		args = append(args, "-d", name)
	}
	return args
}

// runIssue runs dnscert in this process and fails the test unless it exits
// with code 0.
func runIssue(t *testing.T, args []string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), issueTimeout)
	defer cancel()
	var out, errOut bytes.Buffer
	start := time.Now()
	code := cli.Run(ctx, args, cli.Streams{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut})
	t.Logf("dnscert issue took %s", time.Since(start).Round(time.Millisecond))
	if code != cli.ExitOK {
		t.Fatalf("dnscert %s exited with code %d, want 0\nstdout:\n%s\nstderr:\n%s", strings.Join(args[1:], " "), code, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}

// verifyFullChain checks that the PEM file holds a leaf and its
// intermediates that chain to roots for server authentication, and returns
// the leaf.
func verifyFullChain(t *testing.T, path string, roots *x509.CertPool) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the full chain: %v", err)
	}
	var certs []*x509.Certificate
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			t.Fatalf("%s contains a %s block, want only CERTIFICATE blocks", path, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatalf("%s: parsing certificate %d: %v", path, len(certs)+1, err)
		}
		certs = append(certs, cert)
	}
	if len(certs) < 2 {
		t.Fatalf("%s contains %d certificates, want the leaf and at least one intermediate", path, len(certs))
	}
	intermediates := x509.NewCertPool()
	for _, c := range certs[1:] {
		intermediates.AddCert(c)
	}
	leaf := certs[0]
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: intermediates,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}); err != nil {
		t.Fatalf("%s does not chain to Pebble's roots: %v", path, err)
	}
	return leaf
}
