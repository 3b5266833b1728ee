package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnscert/dnscert/dns01"
	"github.com/dnscert/dnscert/internal/cli"
	"github.com/dnscert/dnscert/internal/dnstest"
)

// foreignValue is a TXT value that another tool keeps at the challenge name
// of example.test. dnscert must remove only its own values beside it.
const foreignValue = "kept-by-another-tool"

// onlyForeign is the content of the challenge names once every value of
// dnscert is gone.
var onlyForeign = map[string][]string{"_acme-challenge.example.test.": {foreignValue}}

// killAfterPublish adds the foreign value, starts an issuance that cannot
// get past the propagation wait, kills it with SIGKILL once it published
// its records, and returns the records of the journal it left.
func killAfterPublish(t *testing.T, f *bedFixture, path string) []dns01.Record {
	t.Helper()
	addTXT(t, f, "example.test.", "_acme-challenge.example.test.", foreignValue)
	f.holdNameserver(t)
	p := startDnscert(t, f, f.issueArgs(path)...)
	p.waitForLog("published challenge records")
	p.signal(syscall.SIGKILL)
	status := p.wait(quitLimit)
	if ws, ok := status.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("dnscert ended with %s, want signal SIGKILL\nstderr:\n%s", describeStatus(status), p.log)
	}
	if !slices.Contains(f.primaryTXT("_acme-challenge.example.test."), foreignValue) {
		t.Errorf("the primary lost the foreign value while dnscert published")
	}
	return assertJournalMatchesPrimary(t, f, path)
}

// assertJournalMatchesPrimary fails unless the storage directory contains
// one journal, and it lists exactly the challenge values on the primary other
// than foreignValue: one for each ordered name. It returns the records.
func assertJournalMatchesPrimary(t *testing.T, f *bedFixture, path string) []dns01.Record {
	t.Helper()
	journals := journalRecords(t, path)
	if len(journals) != 1 {
		t.Fatalf("storage contains %d journals, want 1: %v", len(journals), journals)
	}
	var records []dns01.Record
	for _, r := range journals {
		records = r
	}
	if len(records) != len(orderNames) {
		t.Errorf("journal lists %d records, want %d (one per name): %+v", len(records), len(orderNames), records)
	}
	listed := make(map[string][]string)
	for _, r := range records {
		listed[r.Name] = append(listed[r.Name], r.Value)
	}
	for _, name := range challengeNames {
		published := slices.DeleteFunc(f.primaryTXT(name), func(v string) bool { return v == foreignValue })
		slices.Sort(listed[name])
		if !slices.Equal(listed[name], published) {
			t.Errorf("journal lists %s TXT %q, but the primary serves %q", name, listed[name], published)
		}
	}
	return records
}

// A run killed with SIGKILL cannot clean up. Its journal names exactly the
// values it published, and dnscert cleanup removes those and nothing else.
func TestKillThenCleanupCommand(t *testing.T) {
	t.Parallel()
	f := startBed(t)
	path := t.TempDir()
	records := killAfterPublish(t, f, path)

	p := runDnscert(t, f, cli.ExitOK, f.cleanupArgs(path)...)
	want := fmt.Sprintf("removed %d challenge records", len(records))
	if !strings.Contains(p.stdout.String(), want) {
		t.Errorf("cleanup stdout = %q, want it to contain %q", p.stdout.String(), want)
	}
	assertChallengeValues(t, f, onlyForeign)
	assertNoJournal(t, path)
}

// The next issue run removes the values a killed run left behind before
// it creates its own order, and logs that it did.
func TestKillThenNextIssueCleansUp(t *testing.T) {
	t.Parallel()
	f := startBed(t)
	path := t.TempDir()
	records := killAfterPublish(t, f, path)

	f.releaseNameserver(t)
	p := runDnscert(t, f, cli.ExitOK, f.issueArgs(path)...)
	recovered := p.log.records("removing records left by an earlier run")
	if len(recovered) != 1 {
		t.Fatalf("log has %d lines on records left by an earlier run, want 1\nstderr:\n%s", len(recovered), p.log)
	}
	if got := recovered[0].attr("records"); got != strconv.Itoa(len(records)) {
		t.Errorf("run found %s records left by the killed run, want %d", got, len(records))
	}
	ordered := p.log.index("order created")
	if i := p.log.index("removing records left by an earlier run"); i > ordered {
		t.Errorf("run removed the old records after creating its order\nstderr:\n%s", p.log)
	}
	if i := p.log.index("removed challenge records"); i < 0 || i > ordered {
		t.Errorf("run did not log the removal of the old records before creating its order\nstderr:\n%s", p.log)
	}
	assertChallengeValues(t, f, onlyForeign)
	assertNoJournal(t, path)
	if _, err := os.Stat(filepath.Join(path, "certificates", certName, "fullchain.pem")); err != nil {
		t.Errorf("no certificate stored after the recovering run: %v", err)
	}
}

// A second SIGINT while the first one's cleanup hangs quits at once. The
// journal then keeps the records for dnscert cleanup.
func TestSecondInterruptQuitsAtOnce(t *testing.T) {
	t.Parallel()
	f := startBed(t)
	path := t.TempDir()
	f.holdNameserver(t)
	p := startDnscert(t, f, f.issueArgs(path)...)
	p.waitForLog("published challenge records")

	// The primary drops the removal update, so the cleanup started by the
	// first signal waits for the provider's timeout.
	f.bed.DNS.Primary.SetFaults(dnstest.Faults{Drop: true})
	p.signal(syscall.SIGINT)
	p.waitForText("dnscert: SIGINT received")
	waitFor(t, "the removal update at the primary", func() bool {
		return slices.ContainsFunc(f.bed.DNS.Primary.Queries(), func(q dnstest.Query) bool {
			return q.Opcode == dns.OpcodeUpdate && q.Rcode == dnstest.NoResponse
		})
	})
	sent := time.Now()
	p.signal(syscall.SIGINT)
	status := p.wait(quitLimit)
	t.Logf("exited with %s %s after the second interrupt", describeStatus(status), time.Since(sent).Round(time.Millisecond))
	if status.ExitCode() != cli.ExitInterrupted {
		t.Errorf("exit %s after the second interrupt, want code %d\nstderr:\n%s", describeStatus(status), cli.ExitInterrupted, p.log)
	}
	records := assertJournalMatchesPrimary(t, f, path)

	f.bed.DNS.Primary.SetFaults(dnstest.Faults{})
	cleanup := runDnscert(t, f, cli.ExitOK, f.cleanupArgs(path)...)
	want := fmt.Sprintf("removed %d challenge records", len(records))
	if !strings.Contains(cleanup.stdout.String(), want) {
		t.Errorf("cleanup stdout = %q, want it to contain %q", cleanup.stdout.String(), want)
	}
	assertChallengeValues(t, f, nil)
	assertNoJournal(t, path)
}
