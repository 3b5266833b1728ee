package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/dnscert/dnscert/internal/syncbuf"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnscert/dnscert/dns01"
	"github.com/dnscert/dnscert/internal/testbed"
)

// Time limits of the tests. Every wait for output, a request or an exit is
// bounded by one of them, so a run that hangs fails the test instead.
const (
	// issueLimit bounds a complete issuance against the local Pebble.
	issueLimit = 60 * time.Second
	// stepLimit bounds the wait for a run to reach a step of the order.
	stepLimit = 20 * time.Second
	// exitLimit is how long a run may take to stop after the first SIGINT or
	// SIGTERM: removing the records and deactivating the authorizations are
	// a few requests to loopback servers.
	exitLimit = 5 * time.Second
	// quitLimit is how long a run may take to exit after a second signal or
	// SIGKILL, which skip every cleanup step.
	quitLimit = 2 * time.Second
	// holdLimit bounds how long a requestGate holds a request to Pebble, so
	// a test that fails before releasing it cannot block Pebble's shutdown.
	holdLimit = 15 * time.Second
)

// orderNames are the names every test orders: two authorizations whose
// records live in one zone, so one provider call publishes both.
var orderNames = []string{"example.test", "www.example.test"}

// certName is the stored certificate name of orderNames.
const certName = "example.test"

// ns2IP is the second nameserver of example.test in testbed.DefaultZones.
const ns2IP = "127.0.0.12"

// challengeNames lists every _acme-challenge owner that DefaultZones can
// hold, with the CNAME target in other.test.
var challengeNames = []string{
	"_acme-challenge.example.test.",
	"_acme-challenge.www.example.test.",
	"_acme-challenge.sub.example.test.",
	"_acme-challenge.a.sub.example.test.",
	"_acme-challenge.b.sub.example.test.",
	"alias-challenge.other.test.",
}

var (
	binaryDir  string
	buildOnce  sync.Once
	binaryPath string
	buildErr   error
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "dnscert-signals-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binaryDir = dir
	return m.Run()
}

// dnscertBinary builds the dnscert command once per test binary and returns
// its path. go test puts its own go command first in PATH.
func dnscertBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		path := filepath.Join(binaryDir, "dnscert")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", path, "github.com/dnscert/dnscert/cmd/dnscert")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build of cmd/dnscert failed: %w\n%s", err, out)
			return
		}
		binaryPath = path
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binaryPath
}

// requestGate holds POST requests to Pebble whose path starts with prefix,
// once armed, until the test releases them, the client goes away or
// holdLimit passes. Then Pebble serves them as usual.
type requestGate struct {
	prefix string
	armed  atomic.Bool

	arrivedOnce sync.Once
	arrived     chan struct{} // closed when the first held request arrives
	releaseOnce sync.Once
	release     chan struct{}
	served      atomic.Int32 // held requests that Pebble has served
}

func newRequestGate(prefix string) *requestGate {
	return &requestGate{
		prefix:  prefix,
		arrived: make(chan struct{}),
		release: make(chan struct{}),
	}
}

func (g *requestGate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, g.prefix) || !g.armed.Load() {
			next.ServeHTTP(w, r)
			return
		}
		g.arrivedOnce.Do(func() { close(g.arrived) })
		timer := time.NewTimer(holdLimit)
		defer timer.Stop()
		select {
		case <-g.release:
		case <-r.Context().Done():
		case <-timer.C:
		}
		next.ServeHTTP(w, r)
		g.served.Add(1)
	})
}

// Release lets every held and later request through.
func (g *requestGate) Release() {
	g.releaseOnce.Do(func() { close(g.release) })
}

// bedFixture is a running CA and DNS network with gates in front of
// Pebble's challenge and finalize endpoints.
type bedFixture struct {
	bed       *testbed.Bed
	challenge *requestGate // POSTs to /chalZ/: responding to a challenge
	finalize  *requestGate // POSTs to /finalize-order/
}

func startBed(t *testing.T) *bedFixture {
	t.Helper()
	f := &bedFixture{
		challenge: newRequestGate("/chalZ/"),
		finalize:  newRequestGate("/finalize-order/"),
	}
	bed, err := testbed.Start(t.TempDir(), testbed.Options{
		Zones: testbed.DefaultZones(),
		Pebble: testbed.PebbleOptions{
			Middleware: func(h http.Handler) http.Handler {
				return f.challenge.wrap(f.finalize.wrap(h))
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bed.Close)
	// Cleanups run last-in first-out: the gates open before Pebble stops,
	// because closing its server waits for the requests in flight.
	t.Cleanup(f.challenge.Release)
	t.Cleanup(f.finalize.Release)
	f.bed = bed
	return f
}

// holdNameserver makes ns2 of example.test keep every later change of the
// zone until the test flushes the secondaries.
func (f *bedFixture) holdNameserver(t *testing.T) {
	t.Helper()
	if err := f.bed.DNS.Primary.SetSecondaryDelay(f.bed.DNS.Nameserver(ns2IP), -1); err != nil {
		t.Fatal(err)
	}
}

// releaseNameserver makes ns2 of example.test serve changes at once again,
// those it held included.
func (f *bedFixture) releaseNameserver(t *testing.T) {
	t.Helper()
	if err := f.bed.DNS.Primary.SetSecondaryDelay(f.bed.DNS.Nameserver(ns2IP), 0); err != nil {
		t.Fatal(err)
	}
}

// issueArgs returns the issue command line for orderNames, without the
// program name, with JSON logs.
func (f *bedFixture) issueArgs(storagePath string) []string {
	args := f.bed.IssueArgs(storagePath, orderNames...)[1:]
	return append(args, "--log-format", "json")
}

func (f *bedFixture) cleanupArgs(storagePath string) []string {
	return []string{"--path", storagePath, "--log-format", "json", "cleanup"}
}

// childEnv is the test's environment without dnscert and rfc2136 settings,
// plus the bed's rfc2136 variables.
func (f *bedFixture) childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "DNSCERT_") || strings.HasPrefix(kv, "RFC2136_") {
			continue
		}
		env = append(env, kv)
	}
	for k, v := range f.bed.Env() {
		env = append(env, k+"="+v)
	}
	return env
}

// process is a running dnscert command.
type process struct {
	t      *testing.T
	args   []string
	cmd    *exec.Cmd
	stdout lockedBuffer
	log    *logWatcher
	done   chan struct{} // closed when cmd.Wait has returned
}

// startDnscert starts the dnscert binary. The test's cleanup kills it with
// SIGKILL if it still runs, and waits for it.
func startDnscert(t *testing.T, f *bedFixture, args ...string) *process {
	t.Helper()
	cmd := exec.Command(dnscertBinary(t), args...)
	cmd.Env = f.childEnv()
	p := &process{t: t, args: args, cmd: cmd, log: newLogWatcher(), done: make(chan struct{})}

	cmd.Stdout = &p.stdout
	cmd.Stderr = p.log
	// Bounds the copying of output after the process exits.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting dnscert: %v", err)
	}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()

	t.Cleanup(func() {
		select {
		case <-p.done:
			return
		default:
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Errorf("killing dnscert (pid %d): %v", cmd.Process.Pid, err)
		}
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Errorf("dnscert (pid %d) still running 10s after SIGKILL", cmd.Process.Pid)
		}
	})
	return p
}

// runDnscert runs dnscert to the end and fails the test unless it exits
// with wantCode.
func runDnscert(t *testing.T, f *bedFixture, wantCode int, args ...string) *process {
	t.Helper()
	p := startDnscert(t, f, args...)
	status := p.wait(issueLimit)
	if status.ExitCode() != wantCode {
		t.Fatalf("dnscert %s: exit %s, want %d\nstdout:\n%s\nstderr:\n%s",
			strings.Join(args, " "), describeStatus(status), wantCode, p.stdout.String(), p.log)
	}
	return p
}

func (p *process) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("sending %s to dnscert (pid %d): %v\nstderr:\n%s", sig, p.cmd.Process.Pid, err, p.log)
	}
}

// wait returns the exit status, failing the test when the process still
// runs after timeout.
func (p *process) wait(timeout time.Duration) *os.ProcessState {
	p.t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.done:
		return p.cmd.ProcessState
	case <-timer.C:
		p.t.Fatalf("dnscert %s still running after %s\nstderr:\n%s", strings.Join(p.args, " "), timeout, p.log)
		return nil
	}
}

// waitForLog returns the first log record with message msg, waiting up to
// stepLimit. It fails the test when the process exits or the time passes
// without that record.
func (p *process) waitForLog(msg string) logLine {
	p.t.Helper()
	return p.waitForLine(fmt.Sprintf("log message %q", msg), func(l logLine) bool { return l.msg == msg })
}

// waitForText is waitForLog for a plain line on stderr that contains text.
func (p *process) waitForText(text string) logLine {
	p.t.Helper()
	return p.waitForLine(fmt.Sprintf("a line containing %q", text), func(l logLine) bool { return strings.Contains(l.raw, text) })
}

func (p *process) waitForLine(what string, match func(logLine) bool) logLine {
	p.t.Helper()
	timer := time.NewTimer(stepLimit)
	defer timer.Stop()
	for {
		line, ok, changed := p.log.find(match)
		if ok {
			return line
		}
		select {
		case <-changed:
		case <-p.done:
			if line, ok, _ := p.log.find(match); ok {
				return line
			}
			p.t.Fatalf("dnscert exited with %s before writing %s\nstderr:\n%s", describeStatus(p.cmd.ProcessState), what, p.log)
		case <-timer.C:
			p.t.Fatalf("dnscert wrote no %s within %s\nstderr:\n%s", what, stepLimit, p.log)
		}
	}
}

func describeStatus(s *os.ProcessState) string {
	if ws, ok := s.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return "signal " + ws.Signal().String()
	}
	return fmt.Sprintf("code %d", s.ExitCode())
}

// logLine is one line of dnscert's stderr: a JSON log record, or a plain
// message such as the one main prints on a signal.
type logLine struct {
	raw   string
	msg   string         // "msg" of a JSON record; empty for plain lines
	attrs map[string]any // the whole JSON record
}

func (l logLine) attr(key string) string {
	if v, ok := l.attrs[key]; ok {
		return fmt.Sprint(v)
	}
	return ""
}

// logWatcher collects stderr line by line and wakes up waiters on every
// new line.
type logWatcher struct {
	mu      sync.Mutex
	partial []byte
	lines   []logLine
	changed chan struct{} // closed and replaced when lines grows
}

func newLogWatcher() *logWatcher {
	return &logWatcher{changed: make(chan struct{})}
}

func (w *logWatcher) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, b...)
	added := false
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.lines = append(w.lines, parseLogLine(string(w.partial[:i])))
		w.partial = w.partial[i+1:]
		added = true
	}
	if added {
		close(w.changed)
		w.changed = make(chan struct{})
	}
	return len(b), nil
}

func parseLogLine(raw string) logLine {
	line := logLine{raw: raw}
	var record map[string]any
	if err := json.Unmarshal([]byte(raw), &record); err == nil {
		line.attrs = record
		line.msg, _ = record["msg"].(string)
	}
	return line
}

// find returns the first line that matches, and a channel closed when more
// lines arrive.
func (w *logWatcher) find(match func(logLine) bool) (logLine, bool, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, l := range w.lines {
		if match(l) {
			return l, true, w.changed
		}
	}
	return logLine{}, false, w.changed
}

// records returns every JSON record with message msg.
func (w *logWatcher) records(msg string) []logLine {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []logLine
	for _, l := range w.lines {
		if l.msg == msg {
			out = append(out, l)
		}
	}
	return out
}

// index returns the position of the first record with message msg, or -1.
func (w *logWatcher) index(msg string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.IndexFunc(w.lines, func(l logLine) bool { return l.msg == msg })
}

func (w *logWatcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var b strings.Builder
	for _, l := range w.lines {
		b.WriteString(l.raw)
		b.WriteByte('\n')
	}
	b.Write(w.partial)
	return b.String()
}

// lockedBuffer is a buffer that several goroutines can write and read.
type lockedBuffer = syncbuf.Buffer

// addTXT inserts a TXT value on the primary with a TSIG-signed RFC 2136
// update, as another tool sharing the zone would.
func addTXT(t *testing.T, f *bedFixture, zone, name, value string) {
	t.Helper()
	rr := &dns.TXT{
		Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 300},
		Txt: []string{value},
	}
	m := new(dns.Msg)
	m.SetUpdate(zone)
	m.Insert([]dns.RR{rr})
	m.SetTsig(testbed.TSIGKey, dns.HmacSHA256, 300, time.Now().Unix())
	c := &dns.Client{
		Net:        "tcp",
		Timeout:    5 * time.Second,
		TsigSecret: map[string]string{testbed.TSIGKey: f.bed.DNS.TSIGSecret},
	}
	resp, _, err := c.Exchange(m, f.bed.DNS.PrimaryAddr())
	if err != nil {
		t.Fatalf("update adding %s TXT %q: %v", name, value, err)
	}
	if resp.Rcode != dns.RcodeSuccess {
		t.Fatalf("update adding %s TXT %q: rcode %s", name, value, dns.RcodeToString[resp.Rcode])
	}
	f.bed.DNS.Primary.FlushSecondaries()
}

// primaryTXT returns the TXT values at name on the hidden primary.
func (f *bedFixture) primaryTXT(name string) []string {
	return f.bed.DNS.TXT(name)[testbed.PrimaryIP]
}

// assertChallengeValues fails unless, once held changes are delivered, the
// primary and every nameserver serve exactly want at each challenge name,
// and nothing at the names missing from want.
func assertChallengeValues(t *testing.T, f *bedFixture, want map[string][]string) {
	t.Helper()
	f.bed.DNS.Primary.FlushSecondaries()
	for _, name := range challengeNames {
		for ip, values := range f.bed.DNS.TXT(name) {
			if !slices.Equal(values, want[name]) {
				t.Errorf("%s serves %s TXT %q, want %q", ip, name, values, want[name])
			}
		}
	}
}

// journalRecords returns the records listed by each journal file in the
// storage directory, by file name.
func journalRecords(t *testing.T, storagePath string) map[string][]dns01.Record {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(storagePath, "journal", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string][]dns01.Record)
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var journal struct {
			Records []dns01.Record `json:"records"`
		}
		if err := json.Unmarshal(data, &journal); err != nil {
			t.Fatalf("journal %s is not valid JSON: %v\n%s", path, err, data)
		}
		out[filepath.Base(path)] = journal.Records
	}
	return out
}

// assertNoJournal fails when a journal lists records, or when journal
// files remain: a run deletes its journal once it lists no record.
func assertNoJournal(t *testing.T, storagePath string) {
	t.Helper()
	for name, records := range journalRecords(t, storagePath) {
		if len(records) > 0 {
			t.Errorf("journal %s still lists %d records: %+v", name, len(records), records)
		}
	}
	entries, err := os.ReadDir(filepath.Join(storagePath, "journal"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("journal directory still contains %s", e.Name())
	}
}

// snapshotTree returns every file below dir by relative path, with its
// content, and every directory with a trailing slash.
func snapshotTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := make(map[string][]byte)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			out[rel+"/"] = nil
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out[rel] = data
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// assertSameTree fails unless dir contains exactly the files of before,
// byte for byte.
func assertSameTree(t *testing.T, dir string, before map[string][]byte) {
	t.Helper()
	after := snapshotTree(t, dir)
	for path, data := range before {
		got, ok := after[path]
		switch {
		case !ok:
			t.Errorf("%s was removed", filepath.Join(dir, path))
		case !bytes.Equal(got, data):
			t.Errorf("%s changed", filepath.Join(dir, path))
		}
	}
	for path := range after {
		if _, ok := before[path]; !ok {
			t.Errorf("%s was added", filepath.Join(dir, path))
		}
	}
}

// waitFor polls cond every 10ms until it holds, failing the test after
// stepLimit.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(stepLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", stepLimit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitClosed waits for ch to close, failing the test after stepLimit.
func waitClosed(t *testing.T, what string, ch <-chan struct{}, p *process) {
	t.Helper()
	timer := time.NewTimer(stepLimit)
	defer timer.Stop()
	select {
	case <-ch:
	case <-p.done:
		select {
		case <-ch:
			return
		default:
		}
		t.Fatalf("dnscert exited with %s before %s\nstderr:\n%s", describeStatus(p.cmd.ProcessState), what, p.log)
	case <-timer.C:
		t.Fatalf("timed out after %s waiting for %s\nstderr:\n%s", stepLimit, what, p.log)
	}
}

// signalName is the name dnscert prints for the signals it handles.
func signalName(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return sig.String()
}
