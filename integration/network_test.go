package integration_test

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/miekg/dns"

	"github.com/dnscert/dnscert/internal/dnstest"
)

// Loopback addresses of the test network. Every server listens on port 53
// because NS records carry no port.
const (
	primaryIP   = "127.0.0.2"  // BIND primary, ns1 of example.test and lag.test
	secondaryIP = "127.0.0.3"  // BIND secondary, ns2 of both zones
	rootIP      = "127.0.0.10" // dnstest server for the parent zone "test."
	resolverIP  = "127.0.0.20" // dnstest iterative resolver, the only DNS server Pebble queries
	dnsPort     = 53
)

// TSIG key that the primary accepts updates with.
const (
	tsigKeyName   = "dnscert-key"
	tsigAlgorithm = "hmac-sha256"
)

// lagRefresh is the SOA refresh of lag.test and the secondary's
// min-refresh-time. BIND 9.18.49 then refreshed that zone 2.9 to 3.0 seconds
// after its last transfer, so an update waits up to this long for the
// secondary.
const lagRefresh = 3 * time.Second

// startupTimeout bounds the wait for a named to load its zones. Loading
// takes well under a second, but CI shares 2 cores with parallel test
// binaries.
const startupTimeout = 20 * time.Second

// pollInterval is how often the tests ask a server whether it caught up.
const pollInterval = 20 * time.Millisecond

func addrOf(ip string) string {
	return net.JoinHostPort(ip, strconv.Itoa(dnsPort))
}

// bindTools are the absolute paths of the programs the BIND tests run.
type bindTools struct {
	named      string
	tsigKeygen string
	ip         string
}

// requireBIND returns the programs the BIND tests need. When a program or
// root is missing, it skips the test. With CI=true it fails the test
// instead, because CI must run these tests.
func requireBIND(t *testing.T) bindTools {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root, to add loopback addresses and to listen on port 53 (run the tests as root)")
	}
	var tools bindTools
	for _, p := range []struct {
		name, pkg string
		path      *string
	}{
		{"named", "bind9", &tools.named},
		{"tsig-keygen", "bind9", &tools.tsigKeygen},
		{"ip", "iproute2", &tools.ip},
	} {
		path, err := lookPath(p.name)
		if err != nil {
			missing = append(missing, fmt.Sprintf("%s (install the Debian package %s)", p.name, p.pkg))
			continue
		}
		*p.path = path
	}
	if len(missing) == 0 {
		return tools
	}
	reason := "BIND integration test needs " + strings.Join(missing, ", ")
	if os.Getenv("CI") == "true" {
		t.Fatal(reason + "; CI=true, so the test fails instead of skipping")
	}
	t.Skip(reason)
	return tools
}

// lookPath finds name in PATH or in the sbin directories, which the PATH of
// a user other than root often lacks.
func lookPath(name string) (string, error) {
	if path, err := exec.LookPath(name); err == nil {
		return path, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		path := filepath.Join(dir, name)
		if info, err := os.Stat(path); err == nil && info.Mode().IsRegular() && info.Mode()&0o111 != 0 {
			return path, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH, /usr/sbin or /sbin", name)
}

// bindNetwork is a running test network: a BIND primary and secondary for
// example.test and lag.test, a root server for "test." that delegates both
// zones to them, and a resolver that starts at that root.
type bindNetwork struct {
	tools      bindTools
	tsigSecret string
	primary    *namedServer
	secondary  *namedServer
	resolver   *dnstest.Resolver
}

// startBINDNetwork starts the network and registers its shutdown with
// t.Cleanup. It returns once both BIND servers serve both zones.
func startBINDNetwork(t *testing.T) *bindNetwork {
	t.Helper()
	tools := requireBIND(t)
	dir := t.TempDir()
	addLoopbackAddress(t, tools, primaryIP)
	addLoopbackAddress(t, tools, secondaryIP)

	keyFile := filepath.Join(dir, "tsig.key")
	secret := generateTSIGKey(t, tools, keyFile)
	settings := namedSettings{
		KeyFile:     keyFile,
		KeyName:     tsigKeyName,
		Port:        dnsPort,
		PrimaryIP:   primaryIP,
		SecondaryIP: secondaryIP,
		LagRefresh:  int(lagRefresh / time.Second),
	}

	primaryDir := filepath.Join(dir, "primary")
	if err := os.Mkdir(primaryDir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeZoneFile(t, filepath.Join(primaryDir, "example.test.db"), "example.test.", 60)
	writeZoneFile(t, filepath.Join(primaryDir, "lag.test.db"), "lag.test.", settings.LagRefresh)

	n := &bindNetwork{tools: tools, tsigSecret: secret}
	n.primary = startNamed(t, tools, "primary", primaryDir, primaryIP, "named-primary.conf.tmpl", settings)
	n.primary.waitForZones(t, "example.test.", "lag.test.")
	n.secondary = startNamed(t, tools, "secondary", filepath.Join(dir, "secondary"), secondaryIP, "named-secondary.conf.tmpl", settings)
	n.secondary.waitForZones(t, "example.test.", "lag.test.")

	root, err := dnstest.NewServer(addrOf(rootIP))
	if err != nil {
		t.Fatalf("starting the root server on %s: %v", addrOf(rootIP), err)
	}
	t.Cleanup(func() { root.Close() })
	if err := root.AddZone("test.", rootZone); err != nil {
		t.Fatalf("loading the root zone: %v", err)
	}
	n.resolver, err = dnstest.NewResolver(addrOf(resolverIP), []string{addrOf(rootIP)}, dnsPort)
	if err != nil {
		t.Fatalf("starting the resolver on %s: %v", addrOf(resolverIP), err)
	}
	t.Cleanup(func() { n.resolver.Close() })
	return n
}

// rootZone delegates both test zones to the BIND servers. The delegation of
// lag.test lists the secondary first, so the resolver queries the lagging
// server first and a challenge response sent too early fails validation.
const rootZone = `$ORIGIN test.
$TTL 60
@	IN	SOA	ns hostmaster 1 60 60 600 60
@	IN	NS	ns
ns	IN	A	` + rootIP + `
example	IN	NS	ns1.example
example	IN	NS	ns2.example
ns1.example	IN	A	` + primaryIP + `
ns2.example	IN	A	` + secondaryIP + `
lag	IN	NS	ns2.lag
lag	IN	NS	ns1.lag
ns1.lag	IN	A	` + primaryIP + `
ns2.lag	IN	A	` + secondaryIP + `
`

// addLoopbackAddress adds ip/32 to lo, because named listens only on
// addresses that an interface carries. An address that lo already carries is
// left alone, and an added one is removed at cleanup.
func addLoopbackAddress(t *testing.T, tools bindTools, ip string) {
	t.Helper()
	carried, err := loopbackCarries(ip)
	if err != nil {
		t.Fatal(err)
	}
	if carried {
		return
	}
	prefix := ip + "/32"
	if out, err := exec.Command(tools.ip, "addr", "add", prefix, "dev", "lo").CombinedOutput(); err != nil {
		t.Fatalf("ip addr add %s dev lo: %v: %s", prefix, err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command(tools.ip, "addr", "del", prefix, "dev", "lo").CombinedOutput(); err != nil {
			t.Errorf("ip addr del %s dev lo: %v: %s; remove the address by hand", prefix, err, bytes.TrimSpace(out))
		}
	})
}

// loopbackCarries reports whether lo has ip as one of its own addresses,
// as opposed to merely routing it through 127.0.0.1/8.
func loopbackCarries(ip string) (bool, error) {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		return false, fmt.Errorf("finding the loopback interface lo: %w", err)
	}
	addrs, err := lo.Addrs()
	if err != nil {
		return false, fmt.Errorf("listing the addresses of lo: %w", err)
	}
	want := net.ParseIP(ip)
	for _, a := range addrs {
		if ipNet, ok := a.(*net.IPNet); ok && ipNet.IP.Equal(want) {
			return true, nil
		}
	}
	return false, nil
}

var secretPattern = regexp.MustCompile(`secret "([^"]+)";`)

// generateTSIGKey writes a new key statement to path with tsig-keygen and
// returns its base64 secret.
func generateTSIGKey(t *testing.T, tools bindTools, path string) string {
	t.Helper()
	out, err := exec.Command(tools.tsigKeygen, "-a", tsigAlgorithm, tsigKeyName).Output()
	if err != nil {
		t.Fatalf("tsig-keygen -a %s %s: %v", tsigAlgorithm, tsigKeyName, err)
	}
	m := secretPattern.FindSubmatch(out)
	if m == nil {
		// The output contains the secret, so it is not quoted here.
		t.Fatalf("tsig-keygen printed %d bytes without a line of the form secret \"BASE64\";", len(out))
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return string(m[1])
}

// namedSettings are the values of the configuration templates in testdata.
type namedSettings struct {
	Dir         string
	KeyFile     string
	KeyName     string
	Port        int
	PrimaryIP   string
	SecondaryIP string
	// LagRefresh is the refresh time of lag.test in seconds.
	LagRefresh int
}

func renderTemplate(t *testing.T, name, path string, data any) {
	t.Helper()
	tmpl, err := template.ParseFiles(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, data); err != nil {
		t.Fatalf("rendering testdata/%s: %v", name, err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeZoneFile(t *testing.T, path, origin string, refreshSeconds int) {
	t.Helper()
	renderTemplate(t, "zone.db.tmpl", path, struct {
		Origin      string
		Refresh     int
		PrimaryIP   string
		SecondaryIP string
	}{origin, refreshSeconds, primaryIP, secondaryIP})
}

// namedServer is one named process started by a test.
type namedServer struct {
	role    string // "primary" or "secondary", for messages
	addr    string
	dir     string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the process has exited
	waitErr error         // set before exited is closed
}

// startNamed runs named in the foreground with its own configuration,
// working directory and PID file in dir, and stops it at cleanup.
func startNamed(t *testing.T, tools bindTools, role, dir, ip, configTemplate string, settings namedSettings) *namedServer {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	settings.Dir = dir
	config := filepath.Join(dir, "named.conf")
	renderTemplate(t, configTemplate, config, settings)

	s := &namedServer{
		role:    role,
		addr:    addrOf(ip),
		dir:     dir,
		logPath: filepath.Join(dir, "named.log"),
		exited:  make(chan struct{}),
	}
	logFile, err := os.Create(s.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	// -g keeps named in the foreground with its log on stderr, so it never
	// forks and its PID is that of the started process. -n 1 keeps it to
	// one worker thread on the shared CI cores.
	s.cmd = exec.Command(tools.named, "-g", "-4", "-n", "1", "-c", config)
	s.cmd.Stdout = logFile
	s.cmd.Stderr = logFile
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting named as %s: %v", role, err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		s.stop(t)
		if t.Failed() {
			t.Logf("log of the %s named (%s):\n%s", role, s.logPath, s.logTail(40))
		}
	})
	return s
}

// stop ends the process that startNamed started: SIGTERM, then SIGKILL if
// it is still running after 10 seconds. It also checks that named's PID file
// names that process.
func (s *namedServer) stop(t *testing.T) {
	t.Helper()
	select {
	case <-s.exited:
		t.Errorf("the %s named exited before the test ended: %v", s.role, s.waitErr)
		return
	default:
	}
	pidFile := filepath.Join(s.dir, "named.pid")
	if pid, err := readPID(pidFile); err != nil {
		t.Errorf("the %s named: %v", s.role, err)
	} else if pid != s.cmd.Process.Pid {
		t.Errorf("PID file %s names process %d, but the started named is process %d", pidFile, pid, s.cmd.Process.Pid)
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("sending SIGTERM to the %s named (PID %d): %v", s.role, s.cmd.Process.Pid, err)
	}
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		t.Errorf("the %s named (PID %d) still ran 10s after SIGTERM; killing it", s.role, s.cmd.Process.Pid)
		s.cmd.Process.Kill()
		<-s.exited
	}
}

func readPID(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("reading the PID file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 0, fmt.Errorf("invalid PID file %s: %w", path, err)
	}
	return pid, nil
}

// logTail returns the last lines of the named log.
func (s *namedServer) logTail(lines int) string {
	data, err := os.ReadFile(s.logPath)
	if err != nil {
		return err.Error()
	}
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}

// waitForZones waits until the server returns an authoritative SOA record
// for every zone, and fails the test with the server's log otherwise.
func (s *namedServer) waitForZones(t *testing.T, zones ...string) {
	t.Helper()
	deadline := time.Now().Add(startupTimeout)
	for _, zone := range zones {
		for {
			err := checkSOA(s.addr, zone)
			if err == nil {
				break
			}
			select {
			case <-s.exited:
				t.Fatalf("the %s named exited during startup (%v); its log:\n%s", s.role, s.waitErr, s.logTail(40))
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("the %s named did not serve zone %s within %s: %v; its log:\n%s", s.role, zone, startupTimeout, err, s.logTail(40))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func checkSOA(server, zone string) error {
	resp, err := exchange(server, zone, dns.TypeSOA)
	if err != nil {
		return err
	}
	if len(resp.Answer) != 1 || resp.Answer[0].Header().Rrtype != dns.TypeSOA {
		return fmt.Errorf("%s answered %d records to SOA %s, want the SOA record", server, len(resp.Answer), zone)
	}
	return nil
}

// exchange sends one query without recursion desired and returns a
// response that is authoritative with RCODE NOERROR or NXDOMAIN, or an
// error. A truncated UDP response is repeated over TCP.
func exchange(server, name string, qtype uint16) (*dns.Msg, error) {
	query := new(dns.Msg)
	query.SetQuestion(dns.Fqdn(name), qtype)
	query.RecursionDesired = false
	client := &dns.Client{Timeout: 2 * time.Second}
	resp, _, err := client.Exchange(query, server)
	if err == nil && resp.Truncated {
		client.Net = "tcp"
		resp, _, err = client.Exchange(query, server)
	}
	typ := dns.TypeToString[qtype]
	if err != nil {
		return nil, fmt.Errorf("query %s %s at %s: %w", name, typ, server, err)
	}
	if resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError {
		return nil, fmt.Errorf("query %s %s at %s: RCODE %s", name, typ, server, dns.RcodeToString[resp.Rcode])
	}
	if !resp.Authoritative {
		return nil, fmt.Errorf("query %s %s at %s: the response is not authoritative, so the server does not serve the zone yet", name, typ, server)
	}
	return resp, nil
}

// queryTXT returns the TXT texts that server serves at name, sorted.
func queryTXT(server, name string) ([]string, error) {
	resp, err := exchange(server, name, dns.TypeTXT)
	if err != nil {
		return nil, err
	}
	var texts []string
	for _, rr := range resp.Answer {
		if txt, ok := rr.(*dns.TXT); ok {
			texts = append(texts, strings.Join(txt.Txt, ""))
		}
	}
	slices.Sort(texts)
	return texts, nil
}

// checkTXT fails the test unless server serves exactly want at name now.
func checkTXT(t *testing.T, server, name string, want ...string) {
	t.Helper()
	slices.Sort(want)
	got, err := queryTXT(server, name)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s serves TXT %q at %s, want %q", server, got, name, want)
	}
}

// waitTXT waits until server serves exactly want at name, and fails the
// test if that takes longer than timeout.
func waitTXT(t *testing.T, server, name string, timeout time.Duration, want ...string) {
	t.Helper()
	slices.Sort(want)
	deadline := time.Now().Add(timeout)
	for {
		got, err := queryTXT(server, name)
		if err == nil && slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			if err != nil {
				t.Fatalf("%s did not serve TXT %q at %s within %s: %v", server, want, name, timeout, err)
			}
			t.Fatalf("%s serves TXT %q at %s after %s, want %q", server, got, name, timeout, want)
		}
		time.Sleep(pollInterval)
	}
}
