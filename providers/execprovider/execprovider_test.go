package execprovider_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/dnscert/dnscert/internal/syncbuf"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dnscert/dnscert/providers/execprovider"
	"github.com/libdns/libdns"
)

const zone = "example.test."

// writeScript writes a shell script with body to a new temporary directory
// and returns its path and directory.
func writeScript(t *testing.T, body string) (path, dir string) {
	t.Helper()
	dir = t.TempDir()
	path = filepath.Join(dir, "hook.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatalf("write script: %v", err)
	}
	return path, dir
}

// loggingScript appends each run's arguments, separated by "|", as one
// line to the file log in its directory.
func loggingScript(t *testing.T) (path, logFile string) {
	t.Helper()
	path, dir := writeScript(t, `log="$(dirname "$0")/log"
printf '%s|%s|%s|%s\n' "$#" "$1" "$2" "$3" >> "$log"
`)
	return path, filepath.Join(dir, "log")
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

func txt(name, value string) libdns.TXT {
	return libdns.TXT{Name: name, TTL: 60 * time.Second, Text: value}
}

func TestArgumentsPerRecord(t *testing.T) {
	program, logFile := loggingScript(t)
	p := &execprovider.Provider{Program: program, Timeout: 10 * time.Second}
	recs := []libdns.Record{
		txt("_acme-challenge.www", "value-one"),
		txt("_acme-challenge", "-starts-with-dash"),
		txt("_ACME-Challenge.Mixed", "value three"),
		txt("_acme-challenge.abs.example.test.", "value-four"),
		txt("@", "apex"),
	}

	added, err := p.AppendRecords(t.Context(), "Example.Test", recs)
	if err != nil {
		t.Fatalf("AppendRecords: %v", err)
	}
	want := []string{
		"3|present|_acme-challenge.www.example.test.|value-one",
		"3|present|_acme-challenge.example.test.|-starts-with-dash",
		"3|present|_acme-challenge.mixed.example.test.|value three",
		"3|present|_acme-challenge.abs.example.test.|value-four",
		"3|present|example.test.|apex",
	}
	if got := readLines(t, logFile); !slices.Equal(got, want) {
		t.Errorf("runs after AppendRecords:\n got %q\nwant %q", got, want)
	}
	wantNames := []string{"_acme-challenge.www", "_acme-challenge", "_acme-challenge.mixed", "_acme-challenge.abs", "@"}
	if len(added) != len(wantNames) {
		t.Fatalf("AppendRecords returned %d records, want %d", len(added), len(wantNames))
	}
	for i, rec := range added {
		if got := rec.RR().Name; got != wantNames[i] {
			t.Errorf("returned record %d has name %q, want %q", i, got, wantNames[i])
		}
	}

	if err := os.Remove(logFile); err != nil {
		t.Fatal(err)
	}
	if _, err := p.DeleteRecords(t.Context(), zone, recs[:2]); err != nil {
		t.Fatalf("DeleteRecords: %v", err)
	}
	want = []string{
		"3|cleanup|_acme-challenge.www.example.test.|value-one",
		"3|cleanup|_acme-challenge.example.test.|-starts-with-dash",
	}
	if got := readLines(t, logFile); !slices.Equal(got, want) {
		t.Errorf("runs after DeleteRecords:\n got %q\nwant %q", got, want)
	}
}

func TestInvalidRecordsRunNothing(t *testing.T) {
	program, logFile := loggingScript(t)
	p := &execprovider.Provider{Program: program}
	cases := []struct {
		name string
		rec  libdns.Record
		want string
	}{
		{"other type", libdns.RR{Name: "www", Type: "A", Data: "192.0.2.1"}, `type "A"`},
		{"empty value", libdns.RR{Name: "_acme-challenge", Type: "TXT"}, "has no value"},
		{"empty name", txt("", "v"), "record name is empty"},
		{"outside zone", txt("_acme-challenge.other.test.", "v"), "is not in zone"},
		{"white space in name", txt("bad name", "v"), "white space"},
		{"NUL in value", txt("_acme-challenge", "a\x00b"), "NUL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// A valid record comes first, so a run before the check
			// would show in the log.
			recs := []libdns.Record{txt("_acme-challenge.ok", "v"), tc.rec}
			_, err := p.AppendRecords(t.Context(), zone, recs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("AppendRecords error = %v, want one containing %q", err, tc.want)
			}
			_, err = p.DeleteRecords(t.Context(), zone, recs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("DeleteRecords error = %v, want one containing %q", err, tc.want)
			}
			if got := readLines(t, logFile); len(got) != 0 {
				t.Errorf("program ran for an invalid call: %q", got)
			}
		})
	}
}

func TestFailureNamesProgramAndStatus(t *testing.T) {
	program, dir := writeScript(t, `echo "$1 $2" >> "$(dirname "$0")/log"
case "$2" in
_acme-challenge.bad.*)
	for i in 1 2 3 4 5 6 7 8; do echo "stderr line $i" >&2; done
	echo "to stdout"
	exit 3 ;;
esac
`)
	logFile := filepath.Join(dir, "log")
	p := &execprovider.Provider{Program: program}
	recs := []libdns.Record{txt("_acme-challenge.ok", "a"), txt("_acme-challenge.bad", "b"), txt("_acme-challenge.after", "c")}

	added, err := p.AppendRecords(t.Context(), zone, recs)
	if err == nil {
		t.Fatal("AppendRecords succeeded with a failing program")
	}
	msg := err.Error()
	for _, want := range []string{program, "present", "_acme-challenge.bad.example.test.", "exit status 3", "stderr line 8", "stderr line 4"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
	for _, absent := range []string{"stderr line 3", "to stdout"} {
		if strings.Contains(msg, absent) {
			t.Errorf("error %q contains %q, want only the last 5 lines of standard error", msg, absent)
		}
	}
	if len(added) != 1 || added[0].RR().Name != "_acme-challenge.ok" {
		t.Errorf("AppendRecords returned %v, want only the record presented before the failure", added)
	}
	wantRuns := []string{"present _acme-challenge.ok.example.test.", "present _acme-challenge.bad.example.test."}
	if got := readLines(t, logFile); !slices.Equal(got, wantRuns) {
		t.Errorf("runs after a failed present:\n got %q\nwant %q (no run after the failure)", got, wantRuns)
	}

	if err := os.Remove(logFile); err != nil {
		t.Fatal(err)
	}
	deleted, err := p.DeleteRecords(t.Context(), zone, recs)
	if err == nil || !strings.Contains(err.Error(), "cleanup _acme-challenge.bad.example.test.") {
		t.Errorf("DeleteRecords error = %v, want one naming the cleanup of the bad record", err)
	}
	if len(deleted) != 2 {
		t.Errorf("DeleteRecords returned %d records, want the 2 whose cleanup succeeded", len(deleted))
	}
	wantRuns = []string{
		"cleanup _acme-challenge.ok.example.test.",
		"cleanup _acme-challenge.bad.example.test.",
		"cleanup _acme-challenge.after.example.test.",
	}
	if got := readLines(t, logFile); !slices.Equal(got, wantRuns) {
		t.Errorf("runs after a failed cleanup:\n got %q\nwant %q (cleanup goes on after a failure)", got, wantRuns)
	}
}

// processGone reports whether the process pid has exited. A zombie counts
// as exited, because a container's init may not reap orphans at once.
func processGone(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the command name, which is in parentheses.
	stat := string(data)
	i := strings.LastIndexByte(stat, ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}

// waitForFile polls until path exists and returns its trimmed content.
func waitForFile(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		data, err := os.ReadFile(path)
		if err == nil && bytes.HasSuffix(data, []byte("\n")) {
			return strings.TrimSpace(string(data))
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s did not appear within 10s", path)
	return ""
}

// sleeperScript starts a background sleep, writes its PID to the file
// child, and then sleeps in the foreground.
const sleeperScript = `dir="$(dirname "$0")"
sleep 30 &
echo $! > "$dir/child.tmp" && mv "$dir/child.tmp" "$dir/child"
echo "started" >&2
sleep 30
`

func checkChildKilled(t *testing.T, dir string) {
	t.Helper()
	pid, err := strconv.Atoi(waitForFile(t, filepath.Join(dir, "child")))
	if err != nil {
		t.Fatalf("read child PID: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !processGone(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("background process %d of the program still runs 5s after the run ended; the process group was not killed", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTimeoutKillsProcessGroup(t *testing.T) {
	program, dir := writeScript(t, sleeperScript)
	p := &execprovider.Provider{Program: program, Timeout: 2 * time.Second}

	start := time.Now()
	_, err := p.AppendRecords(t.Context(), zone, []libdns.Record{txt("_acme-challenge.slow", "v")})
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("AppendRecords succeeded although the program ran past the timeout")
	}
	for _, want := range []string{"timed out after 2s", "EXEC_TIMEOUT", "present _acme-challenge.slow.example.test.", "started"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if elapsed > 10*time.Second {
		t.Errorf("AppendRecords returned after %s, want soon after the 2s timeout", elapsed)
	}
	checkChildKilled(t, dir)
}

func TestCancelKillsProcessGroup(t *testing.T) {
	program, dir := writeScript(t, sleeperScript)
	p := &execprovider.Provider{Program: program}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	errc := make(chan error, 1)
	go func() {
		_, err := p.AppendRecords(ctx, zone, []libdns.Record{txt("_acme-challenge.slow", "v")})
		errc <- err
	}()
	waitForFile(t, filepath.Join(dir, "child"))
	cancel()

	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("AppendRecords error = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("AppendRecords did not return within 10s of cancellation")
	}
	checkChildKilled(t, dir)
}

func TestEnvironmentWithoutSecrets(t *testing.T) {
	const secret = "sekrit-value-42"
	for _, name := range []string{
		"CLOUDFLARE_DNS_API_TOKEN", "CLOUDFLARE_ZONE_API_TOKEN", "CLOUDFLARE_API_KEY", "CF_DNS_API_TOKEN", "CF_API_KEY",
		"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "RFC2136_TSIG_SECRET", "DNSCERT_TEST_SECRET",
	} {
		t.Setenv(name, secret)
	}
	t.Setenv("CLOUDFLARE_DNS_API_TOKEN_FILE", "/run/secrets/cloudflare")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("HOOK_SETTING", "kept")

	program, _ := writeScript(t, `if env | grep -q '`+secret+`'; then
	echo "secret in environment: $(env | grep '`+secret+`' | cut -d= -f1 | tr '\n' ' ')" >&2
	exit 1
fi
[ "$HOOK_SETTING" = kept ] || { echo "HOOK_SETTING missing" >&2; exit 2; }
[ "$CLOUDFLARE_DNS_API_TOKEN_FILE" = /run/secrets/cloudflare ] || { echo "_FILE variable missing" >&2; exit 3; }
[ "$AWS_ACCESS_KEY_ID" = AKIDEXAMPLE ] || { echo "AWS_ACCESS_KEY_ID missing" >&2; exit 4; }
`)
	p := &execprovider.Provider{Program: program}
	if _, err := p.AppendRecords(t.Context(), zone, []libdns.Record{txt("_acme-challenge", "v")}); err != nil {
		t.Fatalf("AppendRecords: %v", err)
	}
}

func TestIsStripped(t *testing.T) {
	cases := map[string]bool{
		"CLOUDFLARE_DNS_API_TOKEN":      true,
		"CLOUDFLARE_ZONE_API_TOKEN":     true,
		"CLOUDFLARE_API_TOKEN":          true,
		"CLOUDFLARE_API_KEY":            true,
		"cloudflare_api_key":            true,
		"CF_DNS_API_TOKEN":              true,
		"CF_API_KEY":                    true,
		"AWS_SECRET_ACCESS_KEY":         true,
		"AWS_SESSION_TOKEN":             true,
		"AWS_SECURITY_TOKEN":            true,
		"RFC2136_TSIG_SECRET":           true,
		"DNSCERT_EAB_SECRET":            true,
		"DNSCERT_EAB_HMAC":              true,
		"CLOUDFLARE_DNS_API_TOKEN_FILE": false,
		"AWS_SECRET_ACCESS_KEY_FILE":    false,
		"RFC2136_TSIG_SECRET_FILE":      false,
		"CLOUDFLARE_EMAIL":              false,
		"AWS_ACCESS_KEY_ID":             false,
		"AWS_REGION":                    false,
		"AWS_PROFILE":                   false,
		"RFC2136_TSIG_KEY":              false,
		"RFC2136_NAMESERVER":            false,
		"DNSCERT_KEY_TYPE":              false,
		"PATH":                          false,
		"HOME":                          false,
		"EXEC_PATH":                     false,
	}
	for name, want := range cases {
		if got := execprovider.IsStripped(name); got != want {
			t.Errorf("IsStripped(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestFilterEnv(t *testing.T) {
	in := []string{"PATH=/bin", "AWS_SESSION_TOKEN=x", "EMPTY=", "CF_API_KEY=y=z", "NOEQUALS"}
	want := []string{"PATH=/bin", "EMPTY=", "NOEQUALS"}
	if got := execprovider.FilterEnv(in); !slices.Equal(got, want) {
		t.Errorf("FilterEnv = %q, want %q", got, want)
	}
}

func TestExplicitEnvIsFiltered(t *testing.T) {
	program, _ := writeScript(t, `[ -z "$AWS_SECRET_ACCESS_KEY" ] || exit 1
[ "$ONLY" = here ] || exit 2
[ -z "$HOME" ] || exit 3
`)
	p := &execprovider.Provider{Program: program, Env: []string{"ONLY=here", "AWS_SECRET_ACCESS_KEY=x", "PATH=" + os.Getenv("PATH")}}
	if _, err := p.AppendRecords(t.Context(), zone, []libdns.Record{txt("_acme-challenge", "v")}); err != nil {
		t.Fatalf("AppendRecords: %v", err)
	}
}

func TestOutputForwarded(t *testing.T) {
	program, _ := writeScript(t, `echo "out $1"; echo "err $1" >&2`)
	var out syncBuffer
	p := &execprovider.Provider{Program: program, Output: &out}
	if _, err := p.AppendRecords(t.Context(), zone, []libdns.Record{txt("_acme-challenge", "v")}); err != nil {
		t.Fatalf("AppendRecords: %v", err)
	}
	got := out.String()
	for _, want := range []string{"out present\n", "err present\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("Output = %q, want it to contain %q", got, want)
		}
	}
}

// TestBackgroundProcessKeepsOutputOpen checks that a program that exits
// with status 0 but leaves a process holding its output succeeds, and
// that the call waits for the output only briefly.
func TestBackgroundProcessKeepsOutputOpen(t *testing.T) {
	program, dir := writeScript(t, `dir="$(dirname "$0")"
sleep 30 &
echo $! > "$dir/child.tmp" && mv "$dir/child.tmp" "$dir/child"
exit 0
`)
	p := &execprovider.Provider{Program: program}
	start := time.Now()
	if _, err := p.AppendRecords(t.Context(), zone, []libdns.Record{txt("_acme-challenge", "v")}); err != nil {
		t.Fatalf("AppendRecords: %v", err)
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("AppendRecords took %s, want about 2s", elapsed)
	}
	pid, err := strconv.Atoi(waitForFile(t, filepath.Join(dir, "child")))
	if err != nil {
		t.Fatalf("read child PID: %v", err)
	}
	if proc, err := os.FindProcess(pid); err == nil {
		_ = proc.Kill()
	}
}

func TestRunsDoNotOverlap(t *testing.T) {
	// mkdir fails when the directory exists, so a second run that
	// starts before the first ends fails.
	program, _ := writeScript(t, `lock="$(dirname "$0")/lock"
mkdir "$lock" || { echo "runs overlap" >&2; exit 9; }
sleep 0.05
rmdir "$lock"
`)
	p := &execprovider.Provider{Program: program}
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			recs := []libdns.Record{txt(fmt.Sprintf("_acme-challenge.a%d", i), "v"), txt(fmt.Sprintf("_acme-challenge.b%d", i), "v")}
			_, errs[i] = p.AppendRecords(t.Context(), zone, recs)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
}

func TestCheckProgram(t *testing.T) {
	dir := t.TempDir()
	executable := filepath.Join(dir, "hook")
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(executable, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		program string
		want    string // "" for success
	}{
		{executable, ""},
		{"sh", ""},
		{"", "no program is set"},
		{filepath.Join(dir, "missing"), "does not exist"},
		{dir, "is a directory"},
		{plain, "chmod +x"},
		{"dnscert-no-such-program", "not found in PATH"},
	}
	for _, tc := range cases {
		err := execprovider.CheckProgram(tc.program)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("CheckProgram(%q) = %v, want nil", tc.program, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("CheckProgram(%q) = %v, want an error containing %q", tc.program, err, tc.want)
		}
	}
}

func TestValidateNegativeTimeout(t *testing.T) {
	p := &execprovider.Provider{Program: "sh", Timeout: -time.Second}
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "negative") {
		t.Errorf("Validate = %v, want an error about the negative timeout", err)
	}
}

func TestMissingProgramAtRunTime(t *testing.T) {
	p := &execprovider.Provider{Program: filepath.Join(t.TempDir(), "gone")}
	_, err := p.AppendRecords(t.Context(), zone, []libdns.Record{txt("_acme-challenge", "v")})
	if err == nil || !strings.Contains(err.Error(), "cannot run the program") {
		t.Errorf("AppendRecords = %v, want an error saying the program cannot run", err)
	}
}

// syncBuffer is a buffer that several goroutines can write and read.
type syncBuffer = syncbuf.Buffer
