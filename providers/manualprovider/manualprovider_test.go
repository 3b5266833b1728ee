package manualprovider_test

import (
	"context"
	"errors"
	"github.com/dnscert/dnscert/internal/syncbuf"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dnscert/dnscert/providers/manualprovider"
	"github.com/libdns/libdns"
)

const zone = "example.test."

// syncBuffer is a buffer that several goroutines can write and read.
type syncBuffer = syncbuf.Buffer

// waitForOutput polls until out contains want n times.
func waitForOutput(t *testing.T, out *syncBuffer, want string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(out.String(), want) < n {
		if time.Now().After(deadline) {
			t.Fatalf("output does not contain %q %d times within 10s; output:\n%s", want, n, out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func txt(name, value string) libdns.TXT {
	return libdns.TXT{Name: name, TTL: 60 * time.Second, Text: value}
}

type result struct {
	recs []libdns.Record
	err  error
}

func appendAsync(ctx context.Context, p *manualprovider.Provider, zone string, recs ...libdns.Record) <-chan result {
	done := make(chan result, 1)
	go func() {
		out, err := p.AppendRecords(ctx, zone, recs)
		done <- result{out, err}
	}()
	return done
}

// expectPending fails the test when the call has returned.
func expectPending(t *testing.T, done <-chan result) {
	t.Helper()
	select {
	case r := <-done:
		t.Fatalf("AppendRecords returned before Enter was pressed: %v, %v", r.recs, r.err)
	case <-time.After(50 * time.Millisecond):
	}
}

func expectResult(t *testing.T, done <-chan result) result {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("AppendRecords did not return within 10s")
		return result{}
	}
}

func TestAppendWaitsForEnter(t *testing.T) {
	in, typing := io.Pipe()
	defer typing.Close()
	out := &syncBuffer{}
	p := &manualprovider.Provider{In: in, Out: out}

	done := appendAsync(t.Context(), p, "Example.Test",
		txt("_acme-challenge.www", "value-one"),
		txt("_ACME-Challenge.WWW", "value-two"),
		txt("_acme-challenge.abs.example.test.", "value-three"),
		txt("@", "apex"),
	)
	waitForOutput(t, out, "Press Enter", 1)
	expectPending(t, done)

	want := "\nAdd these DNS records to zone example.test., next to any TXT values already there:\n" +
		"_acme-challenge.www.example.test. 60 IN TXT \"value-one\"\n" +
		"_acme-challenge.www.example.test. 60 IN TXT \"value-two\"\n" +
		"_acme-challenge.abs.example.test. 60 IN TXT \"value-three\"\n" +
		"example.test. 60 IN TXT \"apex\"\n" +
		"\nPress Enter once the records are published.\n"
	if got := out.String(); got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}

	if _, err := io.WriteString(typing, "\n"); err != nil {
		t.Fatal(err)
	}
	r := expectResult(t, done)
	if r.err != nil {
		t.Fatalf("AppendRecords: %v", r.err)
	}
	wantNames := []string{"_acme-challenge.www", "_acme-challenge.www", "_acme-challenge.abs", "@"}
	if len(r.recs) != len(wantNames) {
		t.Fatalf("AppendRecords returned %d records, want %d", len(r.recs), len(wantNames))
	}
	for i, rec := range r.recs {
		if got := rec.RR().Name; got != wantNames[i] {
			t.Errorf("returned record %d has name %q, want %q", i, got, wantNames[i])
		}
	}
}

func TestAppendAcceptsAnyLine(t *testing.T) {
	p := &manualprovider.Provider{In: strings.NewReader("done\n"), Out: io.Discard}
	if _, err := p.AppendRecords(t.Context(), zone, []libdns.Record{txt("_acme-challenge", "v")}); err != nil {
		t.Fatalf("AppendRecords: %v", err)
	}
}

func TestAppendOneEnterPerPrompt(t *testing.T) {
	p := &manualprovider.Provider{In: strings.NewReader("\n\n"), Out: io.Discard}
	for i := range 2 {
		if _, err := p.AppendRecords(t.Context(), zone, []libdns.Record{txt("_acme-challenge", "v")}); err != nil {
			t.Fatalf("AppendRecords %d: %v", i, err)
		}
	}
	_, err := p.AppendRecords(t.Context(), zone, []libdns.Record{txt("_acme-challenge", "v")})
	if err == nil || !strings.Contains(err.Error(), "ended before Enter") {
		t.Errorf("third AppendRecords = %v, want an error because the input has only two lines", err)
	}
}

func TestAppendInputEndsBeforeEnter(t *testing.T) {
	p := &manualprovider.Provider{In: strings.NewReader(""), Out: io.Discard}
	_, err := p.AppendRecords(t.Context(), zone, []libdns.Record{txt("_acme-challenge", "v")})
	if err == nil || !strings.Contains(err.Error(), "ended before Enter") {
		t.Errorf("AppendRecords = %v, want an error about the input ending", err)
	}
}

func TestCancelWhileWaiting(t *testing.T) {
	in, typing := io.Pipe()
	defer typing.Close()
	out := &syncBuffer{}
	p := &manualprovider.Provider{In: in, Out: out}

	ctx, cancel := context.WithCancel(t.Context())
	done := appendAsync(ctx, p, zone, txt("_acme-challenge", "v"))
	waitForOutput(t, out, "Press Enter", 1)
	cancel()
	r := expectResult(t, done)
	if !errors.Is(r.err, context.Canceled) {
		t.Errorf("AppendRecords error = %v, want context.Canceled", r.err)
	}

	// The read begun by the canceled call answers the next prompt, so
	// no Enter is lost to a stale reader.
	done = appendAsync(t.Context(), p, zone, txt("_acme-challenge", "w"))
	waitForOutput(t, out, "Press Enter", 2)
	expectPending(t, done)
	if _, err := io.WriteString(typing, "\n"); err != nil {
		t.Fatal(err)
	}
	if r := expectResult(t, done); r.err != nil {
		t.Errorf("AppendRecords after a canceled one: %v", r.err)
	}
}

func TestDeadlineWhileWaiting(t *testing.T) {
	in, typing := io.Pipe()
	defer typing.Close()
	p := &manualprovider.Provider{In: in, Out: io.Discard}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.AppendRecords(ctx, zone, []libdns.Record{txt("_acme-challenge", "v")})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("AppendRecords error = %v, want context.DeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("AppendRecords returned after %s, want soon after the 100ms deadline", elapsed)
	}
}

func TestPromptsTakeTurns(t *testing.T) {
	in, typing := io.Pipe()
	defer typing.Close()
	out := &syncBuffer{}
	p := &manualprovider.Provider{In: in, Out: out}

	first := appendAsync(t.Context(), p, "one.test.", txt("_acme-challenge", "a"))
	waitForOutput(t, out, "Press Enter", 1)
	second := appendAsync(t.Context(), p, "two.test.", txt("_acme-challenge", "b"))
	time.Sleep(50 * time.Millisecond)
	if n := strings.Count(out.String(), "Press Enter"); n != 1 {
		t.Fatalf("%d prompts printed before the first was answered, want 1; output:\n%s", n, out.String())
	}

	if _, err := io.WriteString(typing, "\n"); err != nil {
		t.Fatal(err)
	}
	if r := expectResult(t, first); r.err != nil {
		t.Fatalf("first AppendRecords: %v", r.err)
	}
	waitForOutput(t, out, "Press Enter", 2)
	expectPending(t, second)
	if _, err := io.WriteString(typing, "\n"); err != nil {
		t.Fatal(err)
	}
	if r := expectResult(t, second); r.err != nil {
		t.Fatalf("second AppendRecords: %v", r.err)
	}
}

func TestDeletePrintsWithoutWaiting(t *testing.T) {
	in, typing := io.Pipe()
	defer typing.Close()
	out := &syncBuffer{}
	p := &manualprovider.Provider{In: in, Out: out}

	deleted, err := p.DeleteRecords(t.Context(), zone, []libdns.Record{txt("_acme-challenge.www", "value-one"), txt("_acme-challenge", "value-two")})
	if err != nil {
		t.Fatalf("DeleteRecords: %v", err)
	}
	want := "\nThese DNS records are no longer needed; remove them from zone example.test. (dnscert does not wait for this):\n" +
		"_acme-challenge.www.example.test. 60 IN TXT \"value-one\"\n" +
		"_acme-challenge.example.test. 60 IN TXT \"value-two\"\n"
	if got := out.String(); got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
	if len(deleted) != 2 {
		t.Errorf("DeleteRecords returned %d records, want 2", len(deleted))
	}
}

func TestEmptyCallPrintsNothing(t *testing.T) {
	out := &syncBuffer{}
	p := &manualprovider.Provider{In: strings.NewReader(""), Out: out}
	if _, err := p.AppendRecords(t.Context(), zone, nil); err != nil {
		t.Errorf("AppendRecords(nil): %v", err)
	}
	if _, err := p.DeleteRecords(t.Context(), zone, nil); err != nil {
		t.Errorf("DeleteRecords(nil): %v", err)
	}
	if got := out.String(); got != "" {
		t.Errorf("output = %q, want nothing", got)
	}
}

func TestZoneFileLines(t *testing.T) {
	long := strings.Repeat("a", 300)
	cases := []struct {
		name string
		rec  libdns.Record
		want string
	}{
		{"quote and backslash", txt("_acme-challenge", `say "hi" \ bye`), `_acme-challenge.example.test. 60 IN TXT "say \"hi\" \\ bye"`},
		{"control and non-ASCII bytes", txt("_acme-challenge", "a\tb\né"), `_acme-challenge.example.test. 60 IN TXT "a\009b\010\195\169"`},
		{"empty value", txt("_acme-challenge", ""), `_acme-challenge.example.test. 60 IN TXT ""`},
		{"split at 255 bytes", txt("_acme-challenge", long), `_acme-challenge.example.test. 60 IN TXT "` + long[:255] + `" "` + long[255:] + `"`},
		{"zero TTL left out", libdns.TXT{Name: "_acme-challenge", Text: "v"}, `_acme-challenge.example.test. IN TXT "v"`},
		{"other type", libdns.RR{Name: "www", TTL: 300 * time.Second, Type: "a", Data: "192.0.2.1"}, `www.example.test. 300 IN A 192.0.2.1`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := &syncBuffer{}
			p := &manualprovider.Provider{In: strings.NewReader(""), Out: out}
			if _, err := p.DeleteRecords(t.Context(), zone, []libdns.Record{tc.rec}); err != nil {
				t.Fatalf("DeleteRecords: %v", err)
			}
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if got := lines[len(lines)-1]; got != tc.want {
				t.Errorf("line = %s\nwant   %s", got, tc.want)
			}
		})
	}
}

func TestInvalidCalls(t *testing.T) {
	cases := []struct {
		name string
		p    *manualprovider.Provider
		zone string
		rec  libdns.Record
		want string
	}{
		{"outside zone", &manualprovider.Provider{In: strings.NewReader("\n"), Out: io.Discard}, zone, txt("_acme-challenge.other.test.", "v"), "is not in zone"},
		{"empty zone", &manualprovider.Provider{In: strings.NewReader("\n"), Out: io.Discard}, "", txt("_acme-challenge", "v"), "zone name is empty"},
		{"no type", &manualprovider.Provider{In: strings.NewReader("\n"), Out: io.Discard}, zone, libdns.RR{Name: "x", Data: "v"}, "has no type"},
		{"no input", &manualprovider.Provider{Out: io.Discard}, zone, txt("_acme-challenge", "v"), "set In"},
		{"no output", &manualprovider.Provider{In: strings.NewReader("\n")}, zone, txt("_acme-challenge", "v"), "set Out"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.p.AppendRecords(t.Context(), tc.zone, []libdns.Record{tc.rec})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("AppendRecords = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestCheckTerminalRejects(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	regular, err := os.Create(filepath.Join(t.TempDir(), "input"))
	if err != nil {
		t.Fatal(err)
	}
	defer regular.Close()

	cases := []struct {
		name string
		f    *os.File
		want string
	}{
		{"pipe", r, "is a pipe, not a terminal"},
		{"dev null", devNull, "is a character device such as /dev/null, not a terminal"},
		{"regular file", regular, "is a file, not a terminal"},
		{"nil", nil, "closed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := manualprovider.CheckTerminal(tc.f)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("CheckTerminal = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
