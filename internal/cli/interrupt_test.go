package cli_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dnscert/dnscert/internal/cli"
	"github.com/dnscert/dnscert/internal/testbed"
)

// servesAnyTXT reports whether any server of the bed serves a value at
// name.
func servesAnyTXT(bed *testbed.Bed, name string) bool {
	for _, values := range bed.DNS.TXT(name) {
		if len(values) > 0 {
			return true
		}
	}
	return false
}

// cancelWhen calls cancel once ready returns true, polling it until ctx
// is done.
func cancelWhen(ctx context.Context, cancel context.CancelFunc, ready func() bool) {
	go func() {
		for ctx.Err() == nil {
			if ready() {
				cancel()
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
}

// lastLine returns the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// An interrupt while the run waits for a nameserver removes the records,
// the last line reports that, and --json reports the status.
func TestIssueInterruptedRemovesRecords(t *testing.T) {
	zones := testbed.DefaultZones()
	zones[0].Delays = map[string]time.Duration{"127.0.0.12": -1}
	bed := startBed(t, testbed.Options{Zones: zones})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	cancelWhen(ctx, cancel, func() bool { return servesAnyTXT(bed, "_acme-challenge.www.example.test.") })

	res := runContext(t, ctx, append(bed.IssueArgs(t.TempDir(), "www.example.test"), "--json")...)
	if res.code != cli.ExitInterrupted {
		t.Fatalf("exit %d, want %d\n%s", res.code, cli.ExitInterrupted, res.stderr)
	}
	if got, want := lastLine(res.stderr), "dnscert: interrupted; the records added were removed"; got != want {
		t.Errorf("last line of stderr = %q, want %q", got, want)
	}
	if strings.Contains(res.stderr, "context canceled") {
		t.Errorf("stderr shows the internal cancellation:\n%s", res.stderr)
	}
	out := parseJSON(t, res.stdout)
	if out.OK || out.Status != "interrupted" || out.ExitCode != cli.ExitInterrupted {
		t.Errorf("ok = %t, status = %q, exit_code = %d; want false, interrupted, %d", out.OK, out.Status, out.ExitCode, cli.ExitInterrupted)
	}
	assertNoChallengeRecords(t, bed)
}

// An interrupt during the deploy hook stops the hook and exits 130, not 6;
// the certificate stays stored.
func TestIssueInterruptedDuringHook(t *testing.T) {
	bed := startBed(t, testbed.Options{})
	dir := t.TempDir()
	started := filepath.Join(t.TempDir(), "hook-started")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	cancelWhen(ctx, cancel, func() bool {
		_, err := os.Stat(started)
		return err == nil
	})

	begin := time.Now()
	res := runContext(t, ctx, append(bed.IssueArgs(dir, "www.example.test"), "--json", "--deploy-hook", "touch "+started+"; sleep 60")...)
	if res.code != cli.ExitInterrupted {
		t.Fatalf("exit %d, want %d\n%s", res.code, cli.ExitInterrupted, res.stderr)
	}
	if took := time.Since(begin); took > 30*time.Second {
		t.Errorf("the run took %s: the hook was not stopped", took)
	}
	last := lastLine(res.stderr)
	if !strings.Contains(last, "interrupted") || !strings.Contains(last, "deploy hook") {
		t.Errorf("last line of stderr = %q, want it to say the deploy hook was interrupted", last)
	}
	out := parseJSON(t, res.stdout)
	if !out.OK || out.Status != "issued" || out.ExitCode != cli.ExitInterrupted {
		t.Errorf("ok = %t, status = %q, exit_code = %d; want true, issued, %d", out.OK, out.Status, out.ExitCode, cli.ExitInterrupted)
	}
	if _, err := os.Stat(filepath.Join(dir, "certificates", "www.example.test", "fullchain.pem")); err != nil {
		t.Errorf("the certificate is not stored: %v", err)
	}
}

// A failing deploy hook leaves the stored certificate reported as issued,
// with the hook's error and exit code.
func TestIssueFailingHookJSON(t *testing.T) {
	bed := startBed(t, testbed.Options{})
	res := run(t, append(bed.IssueArgs(t.TempDir(), "www.example.test"), "--json", "--deploy-hook", "exit 1")...)
	if res.code != cli.ExitHook {
		t.Fatalf("exit %d, want %d\n%s", res.code, cli.ExitHook, res.stderr)
	}
	out := parseJSON(t, res.stdout)
	if !out.OK || out.Status != "issued" || out.ExitCode != cli.ExitHook {
		t.Errorf("ok = %t, status = %q, exit_code = %d; want true, issued, %d", out.OK, out.Status, out.ExitCode, cli.ExitHook)
	}
	if !strings.Contains(out.Error, "deploy hook") {
		t.Errorf("error = %q, want the hook's failure", out.Error)
	}
	if out.Files.FullChain == "" {
		t.Error("the result names no files, although the certificate is stored")
	}
	assertKeyOnce(t, res.stderr, "certificate=", "running deploy hook", "deploy hook")
}

// assertKeyOnce fails when a log line whose message contains one of
// messages has key more than once, or lacks it.
func assertKeyOnce(t *testing.T, logs, key string, messages ...string) {
	t.Helper()
	checked := 0
	for _, line := range strings.Split(logs, "\n") {
		for _, msg := range messages {
			if !strings.Contains(line, `msg="`+msg) {
				continue
			}
			checked++
			if n := strings.Count(line, " "+key); n != 1 {
				t.Errorf("log line has %s %d times, want once: %s", key, n, line)
			}
			break
		}
	}
	if checked == 0 {
		t.Errorf("no log line with a message among %q:\n%s", messages, logs)
	}
}

// issue --wait waits for a run on the same certificate, and when that run
// stored a certificate for the same names, does not order it again.
func TestIssueWaitUsesOtherRunsCertificate(t *testing.T) {
	zones := testbed.DefaultZones()
	zones[0].Delays = map[string]time.Duration{"127.0.0.12": 2 * time.Second}
	bed := startBed(t, testbed.Options{Zones: zones})
	dir := t.TempDir()

	first := make(chan result, 1)
	go func() { first <- run(t, bed.IssueArgs(dir, "www.example.test")...) }()
	// The first run holds the lock while it waits for the lagging ns2.
	deadline := time.Now().Add(30 * time.Second)
	for !servesAnyTXT(bed, "_acme-challenge.www.example.test.") {
		if time.Now().After(deadline) {
			t.Fatal("the first run did not publish its record within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	orders := bed.Pebble.RequestsTo(testbed.NewOrderPath)

	second := run(t, append(bed.IssueArgs(dir, "www.example.test"), "--wait", "--json")...)
	if res := <-first; res.code != 0 {
		t.Fatalf("first run: exit %d\n%s", res.code, res.stderr)
	}
	if second.code != 0 {
		t.Fatalf("second run: exit %d\n%s", second.code, second.stderr)
	}
	out := parseJSON(t, second.stdout)
	if !out.OK || out.Status != "issued_by_other_run" {
		t.Errorf("ok = %t, status = %q; want true, issued_by_other_run", out.OK, out.Status)
	}
	if n := bed.Pebble.RequestsTo(testbed.NewOrderPath) - orders; n != 0 {
		t.Errorf("the second run created %d orders, want none", n)
	}
	assertKeyOnce(t, second.stderr, "certificate=", "waiting for another run")

	text := run(t, append(bed.IssueArgs(dir, "www.example.test"), "--wait")...)
	if text.code != 0 {
		t.Fatalf("third run: exit %d\n%s", text.code, text.stderr)
	}
	if strings.Contains(text.stdout, "another run") {
		t.Errorf("a run that did not wait reports the certificate as issued by another run:\n%s", text.stdout)
	}
}

// The dnscert binary turns SIGTERM into an interrupt: it names the signal,
// removes the records and exits 130 with a last line that reports it.
func TestBinaryStopsOnSIGTERM(t *testing.T) {
	binary := filepath.Join(t.TempDir(), "dnscert")
	if out, err := runGo(t, "build", "-o", binary, "github.com/dnscert/dnscert/cmd/dnscert"); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	zones := testbed.DefaultZones()
	zones[0].Delays = map[string]time.Duration{"127.0.0.12": -1}
	bed := startBed(t, testbed.Options{Zones: zones})

	args := bed.IssueArgs(t.TempDir(), "www.example.test")
	cmd := exec.CommandContext(t.Context(), binary, args[1:]...)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !servesAnyTXT(bed, "_acme-challenge.www.example.test.") {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the record was not published within 30s\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != cli.ExitInterrupted {
		t.Fatalf("exit: %v, want code %d\n%s", err, cli.ExitInterrupted, stderr.String())
	}
	if !strings.Contains(stderr.String(), "dnscert: SIGTERM received, stopping and removing the records added") {
		t.Errorf("stderr does not name SIGTERM:\n%s", stderr.String())
	}
	if got, want := lastLine(stderr.String()), "dnscert: interrupted; the records added were removed"; got != want {
		t.Errorf("last line of stderr = %q, want %q", got, want)
	}
	assertNoChallengeRecords(t, bed)
}
