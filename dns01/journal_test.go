package dns01

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

var testRecords = []Record{
	{Provider: "rfc2136", Zone: "example.test.", Name: "_acme-challenge.example.test.", Value: "v1", Challenge: "_acme-challenge.example.test."},
	{Provider: "rfc2136", Zone: "example.test.", Name: "_acme-challenge.example.test.", Value: "v2", Challenge: "_acme-challenge.example.test."},
}

func readJournal(t *testing.T, path string) journalFile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f journalFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestJournalAddRemove(t *testing.T) {
	dir := t.TempDir()
	j, err := OpenJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Add(testRecords); err != nil {
		t.Fatal(err)
	}
	if err := j.Add(testRecords[:1]); err != nil {
		t.Fatal(err)
	}
	if got := readJournal(t, j.Path()).Records; len(got) != 2 {
		t.Fatalf("journal lists %d records, want 2 (no duplicates)", len(got))
	}
	info, err := os.Stat(j.Path())
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("journal mode = %v, want 0600", info.Mode().Perm())
	}
	if err := j.Remove(testRecords[:1]); err != nil {
		t.Fatal(err)
	}
	got := readJournal(t, j.Path()).Records
	if len(got) != 1 || got[0].Value != "v2" {
		t.Fatalf("after removing v1 the journal lists %+v, want only v2", got)
	}
	if err := j.Remove(testRecords[1:]); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(left) != 0 {
		t.Errorf("an empty journal left files behind: %v", left)
	}
}

func TestJournalKeptWhileRecordsRemain(t *testing.T) {
	dir := t.TempDir()
	j, err := OpenJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Add(testRecords); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(j.Path()); err != nil {
		t.Fatalf("journal with records was deleted on Close: %v", err)
	}
	stale, err := FindStale(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(stale) != 1 || len(stale[0].Records()) != 2 {
		t.Fatalf("FindStale = %d journals, want 1 with 2 records", len(stale))
	}
	stale[0].Close()
}

func TestFindStaleSkipsLiveJournal(t *testing.T) {
	dir := t.TempDir()
	j, err := OpenJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if err := j.Add(testRecords); err != nil {
		t.Fatal(err)
	}
	stale, err := FindStale(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(stale) != 0 {
		t.Fatalf("FindStale returned the journal of a live run")
	}
}

// TestFindStaleAfterKill runs a child process that writes a journal and is
// then killed; its journal must be found as stale with every record.
func TestFindStaleAfterKill(t *testing.T) {
	if dir := os.Getenv("DNSCERT_JOURNAL_CHILD"); dir != "" {
		j, err := OpenJournal(dir)
		if err != nil {
			os.Exit(1)
		}
		if err := j.Add(testRecords); err != nil {
			os.Exit(1)
		}
		os.Stdout.WriteString("ready\n")
		select {} // wait to be killed
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFindStaleAfterKill$")
	cmd.Env = append(os.Environ(), "DNSCERT_JOURNAL_CHILD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := out.Read(buf); err != nil || string(buf) != "ready\n" {
		cmd.Process.Kill()
		t.Fatalf("child did not get ready: %q %v", buf, err)
	}
	if stale, _ := FindStale(dir); len(stale) != 0 {
		t.Fatal("journal of the running child was reported stale")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	stale, err := FindStale(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(stale) != 1 {
		t.Fatalf("FindStale = %d journals, want 1", len(stale))
	}
	defer stale[0].Close()
	if got := stale[0].Records(); len(got) != len(testRecords) || got[0] != testRecords[0] || got[1] != testRecords[1] {
		t.Errorf("stale records = %+v, want %+v", got, testRecords)
	}
	if stale[0].PID != cmd.Process.Pid {
		t.Errorf("stale PID = %d, want the child's %d", stale[0].PID, cmd.Process.Pid)
	}
}
