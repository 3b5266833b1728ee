package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dnscert/dnscert/dns01"
	"github.com/dnscert/dnscert/internal/cli"
)

// journalRecords is one challenge record as a journal lists it.
var journalRecords = []dns01.Record{{
	Provider:  "rfc2136",
	Zone:      "example.test.",
	Name:      "_acme-challenge.www.example.test.",
	Value:     "left-behind",
	Challenge: "_acme-challenge.www.example.test.",
}}

// writeJournal writes a journal listing journalRecords into the storage
// directory dir. Unless live, it is closed as a killed run leaves it.
func writeJournal(t *testing.T, dir string, live bool) *dns01.Journal {
	t.Helper()
	j, err := dns01.OpenJournal(filepath.Join(dir, "journal"))
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Add(journalRecords); err != nil {
		t.Fatal(err)
	}
	if live {
		t.Cleanup(func() { j.Close() })
	} else if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return j
}

func TestCleanupMissingProviderVariable(t *testing.T) {
	dir := t.TempDir()
	j := writeJournal(t, dir, false)
	t.Setenv("RFC2136_NAMESERVER", "")

	res := run(t, "dnscert", "--path", dir, "cleanup")
	if res.code != cli.ExitUsage {
		t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", res.code, cli.ExitUsage, res.stdout, res.stderr)
	}
	for _, want := range []string{"rfc2136", "RFC2136_NAMESERVER", j.Path()} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr does not contain %q:\n%s", want, res.stderr)
		}
	}
	if strings.Contains(res.stderr, "0 TXT records") {
		t.Errorf("stderr reports a provider call that was not made:\n%s", res.stderr)
	}
	if _, err := os.Stat(j.Path()); err != nil {
		t.Errorf("the journal is gone although nothing was removed: %v", err)
	}
}

func TestCleanupSkipsLiveJournal(t *testing.T) {
	dir := t.TempDir()
	j := writeJournal(t, dir, true)
	// The live run's provider need not be usable here.
	t.Setenv("RFC2136_NAMESERVER", "")

	res := run(t, "dnscert", "--path", dir, "cleanup")
	if res.code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", res.code, res.stdout, res.stderr)
	}
	skipped := lineWith(res.stdout, "skipped journal")
	for _, want := range []string{j.Path(), "still in progress", "PID " + itoa(os.Getpid())} {
		if !strings.Contains(skipped, want) {
			t.Errorf("the skipped-journal line %q does not contain %q\nstdout:\n%s", skipped, want, res.stdout)
		}
	}
	if _, err := os.Stat(j.Path()); err != nil {
		t.Errorf("the live run's journal was removed: %v", err)
	}
}
