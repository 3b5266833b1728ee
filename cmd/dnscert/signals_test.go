package main_test

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnscert/dnscert/internal/cli"
	"github.com/dnscert/dnscert/internal/dnstest"
	"github.com/dnscert/dnscert/internal/testbed"
)

// signalStep is a point of an issuance at which a test interrupts the run.
type signalStep struct {
	name string
	// prepare runs after the first issuance and before the interrupted run
	// starts.
	prepare func(t *testing.T, f *bedFixture)
	// reach returns once the run p has arrived at the step.
	reach func(t *testing.T, f *bedFixture, p *process)
	// pending is whether the order's authorizations are still pending at
	// the step, so that the interrupted run must deactivate them.
	pending bool
}

var signalSteps = []signalStep{
	{
		// ns2 never serves the records, so the run cannot move past the
		// propagation wait on its own.
		name:    "published",
		prepare: holdNameserver,
		reach: func(t *testing.T, f *bedFixture, p *process) {
			p.waitForLog("published challenge records")
		},
		pending: true,
	},
	{
		name:    "propagation",
		prepare: holdNameserver,
		reach: func(t *testing.T, f *bedFixture, p *process) {
			p.waitForLog("still waiting for nameservers")
			// Three queries at ns2 for one record are three rounds of the
			// wait, so the run is inside its polling loop.
			ns2 := f.bed.DNS.Nameserver(ns2IP)
			waitFor(t, "three propagation checks at ns2", func() bool {
				return countQueries(ns2, "_acme-challenge.www.example.test.") >= 3
			})
		},
		pending: true,
	},
	{
		name: "validation",
		prepare: func(t *testing.T, f *bedFixture) {
			f.challenge.armed.Store(true)
		},
		reach: func(t *testing.T, f *bedFixture, p *process) {
			waitClosed(t, "the first challenge response", f.challenge.arrived, p)
			// Pebble's validator resolves the records through the bed's
			// resolver, which queries these nameservers. While they drop
			// queries, the authorizations stay pending for seconds, until the
			// resolver gives up. ValidationSleep cannot promise that, because
			// Pebble v2.10.3 (va/va.go) sleeps rand.Intn(ValidationSleep)
			// seconds, so an authorization can turn valid before the signal.
			for _, ip := range testbed.DefaultZones()[0].Nameservers {
				f.bed.DNS.Nameserver(ip).SetFaults(dnstest.Faults{Drop: true})
			}
			f.challenge.Release()
			waitFor(t, "Pebble accepting every challenge", func() bool {
				return int(f.challenge.served.Load()) == len(orderNames)
			})
		},
		pending: true,
	},
	{
		// The finalize request is held unanswered until the run gives up.
		// Every authorization is valid by then and the records are gone.
		name: "finalize",
		prepare: func(t *testing.T, f *bedFixture) {
			f.finalize.armed.Store(true)
		},
		reach: func(t *testing.T, f *bedFixture, p *process) {
			waitClosed(t, "the finalize request", f.finalize.arrived, p)
		},
		pending: false,
	},
}

func holdNameserver(t *testing.T, f *bedFixture) { f.holdNameserver(t) }

// countQueries returns the number of TXT queries for name that s received,
// whatever the case of the name as sent.
func countQueries(s *dnstest.Server, name string) int {
	n := 0
	for _, q := range s.Queries() {
		if q.Type == dns.TypeTXT && strings.EqualFold(q.Name, name) {
			n++
		}
	}
	return n
}

// TestSignalAtEachStep interrupts an issuance once at each step and checks
// that the run stops soon with ExitInterrupted, leaves no challenge record
// and no journal behind, keeps the stored certificate as it was, and gives
// up its pending authorizations.
func TestSignalAtEachStep(t *testing.T) {
	signals := []struct {
		name string
		sig  syscall.Signal
	}{
		{"SIGINT", syscall.SIGINT},
		{"SIGTERM", syscall.SIGTERM},
	}
	for _, s := range signals {
		for _, step := range signalSteps {
			t.Run(step.name+"/"+s.name, func(t *testing.T) {
				t.Parallel()
				testSignalAtStep(t, step, s.sig)
			})
		}
	}
}

func testSignalAtStep(t *testing.T, step signalStep, sig syscall.Signal) {
	f := startBed(t)
	path := t.TempDir()
	// Pebble v2.10.3 (wfe/wfe.go) reuses a valid authorization of the same
	// account for about 1% of identifiers even with PEBBLE_AUTHZREUSE=0,
	// because it makes a new one only when rand.Intn(100) > 0. Another
	// account for the first run keeps every authorization of the
	// interrupted run pending.
	runDnscert(t, f, cli.ExitOK, append(f.issueArgs(path), "--email", "first@example.test")...)
	certDir := filepath.Join(path, "certificates")
	before := snapshotTree(t, certDir)

	step.prepare(t, f)
	p := startDnscert(t, f, f.issueArgs(path)...)
	step.reach(t, f, p)
	sent := time.Now()
	p.signal(sig)
	status := p.wait(exitLimit)
	t.Logf("exited with %s %s after %s", describeStatus(status), time.Since(sent).Round(time.Millisecond), sig)

	if status.ExitCode() != cli.ExitInterrupted {
		t.Errorf("exit %s after %s, want code %d\nstderr:\n%s", describeStatus(status), sig, cli.ExitInterrupted, p.log)
	}
	acknowledged := func(l logLine) bool { return strings.HasPrefix(l.raw, "dnscert: "+signalName(sig)+" received") }
	if _, ok, _ := p.log.find(acknowledged); !ok {
		t.Errorf("stderr does not acknowledge %s:\n%s", sig, p.log)
	}
	if reused := p.log.records("authorization already valid"); len(reused) > 0 {
		t.Errorf("the CA reused %d authorizations of the first run; every authorization should have been new\nstderr:\n%s", len(reused), p.log)
	}
	assertChallengeValues(t, f, nil)
	assertSameTree(t, certDir, before)
	assertNoJournal(t, path)
	if step.pending {
		assertDeactivated(t, p)
	}
}

// assertDeactivated fails unless the run logged the deactivation of the
// authorization of every ordered name.
func assertDeactivated(t *testing.T, p *process) {
	t.Helper()
	deactivated := make(map[string]int)
	for _, l := range p.log.records("deactivated pending authorization") {
		deactivated[l.attr("name")]++
	}
	for _, name := range orderNames {
		if deactivated[name] != 1 {
			t.Errorf("authorization of %s deactivated %d times, want once\nstderr:\n%s", name, deactivated[name], p.log)
		}
	}
}
