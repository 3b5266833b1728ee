package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dnscert/dnscert/internal/cli"
	"github.com/dnscert/dnscert/internal/testbed"
	"github.com/dnscert/dnscert/storage"
)

// assertOneUsageLine fails unless res is a usage error reported as one
// line on stderr that contains every string in want, without the help
// text.
func assertOneUsageLine(t *testing.T, res result, want ...string) {
	t.Helper()
	if res.code != cli.ExitUsage {
		t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", res.code, cli.ExitUsage, res.stdout, res.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(res.stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "dnscert: ") {
		t.Errorf("stderr has %d lines, want one starting with \"dnscert: \":\n%s", len(lines), res.stderr)
	}
	for _, w := range want {
		if !strings.Contains(res.stderr, w) {
			t.Errorf("stderr does not contain %q:\n%s", w, res.stderr)
		}
	}
	for _, help := range []string{"USAGE:", "NAME:", "OPTIONS:"} {
		if strings.Contains(res.stdout+res.stderr, help) {
			t.Errorf("the output holds the help text (%s):\n%s", help, res.stdout)
		}
	}
}

// A word that is not a flag stops urfave/cli's flag parsing, so every
// flag after it would be dropped without a message.
func TestStrayArgumentRejected(t *testing.T) {
	bed := startBed(t, testbed.Options{})
	dir := filepath.Join(t.TempDir(), "store")
	issue := func(extra ...string) []string {
		return append(bed.IssueArgs(dir), extra...)
	}
	tests := []struct {
		name     string
		args     []string
		want     []string
		wantJSON bool
	}{
		{name: "second name without -d", args: issue("-d", "a.example.test", "b.example.test"),
			want: []string{`unexpected argument "b.example.test"`, "repeat -d for each name"}},
		{name: "flags after the word", args: issue("-d", "c.example.test", "junk", "--key-type", "rsa2048", "--json"),
			want: []string{`unexpected argument "junk"`}, wantJSON: true},
		{name: "word before the flags", args: []string{"dnscert", "--path", dir, "issue", "junk", "-d", "x.example.test"},
			want: []string{`unexpected argument "junk"`}},
		{name: "list", args: []string{"dnscert", "--path", dir, "list", "extra"},
			want: []string{`unexpected argument "extra"`, "dnscert list takes no arguments"}},
		{name: "renew", args: []string{"dnscert", "--path", dir, "renew", "--server", bed.Pebble.DirectoryURL, "www.example.test"},
			want: []string{`unexpected argument "www.example.test"`, "--cert-name"}},
		{name: "revoke", args: []string{"dnscert", "--path", dir, "revoke", "--server", bed.Pebble.DirectoryURL, "www.example.test"},
			want: []string{`unexpected argument "www.example.test"`, "--cert-name"}},
		{name: "account list", args: []string{"dnscert", "--path", dir, "account", "list", "extra"},
			want: []string{`unexpected argument "extra"`}},
		{name: "cleanup", args: []string{"dnscert", "--path", dir, "cleanup", "extra"},
			want: []string{`unexpected argument "extra"`}},
		{name: "providers", args: []string{"dnscert", "providers", "extra"},
			want: []string{`unexpected argument "extra"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := bed.Pebble.Requests()
			res := run(t, tt.args...)
			assertOneUsageLine(t, res, tt.want...)
			if n := bed.Pebble.Requests() - before; n != 0 {
				t.Errorf("%d requests reached the CA", n)
			}
			if _, err := os.Stat(dir); err == nil {
				t.Errorf("the storage directory %s was created", dir)
			}
			if !tt.wantJSON {
				if res.stdout != "" {
					t.Errorf("stdout = %q, want nothing", res.stdout)
				}
				return
			}
			out := parseJSON(t, res.stdout)
			if out.OK || out.ExitCode != cli.ExitUsage || !strings.Contains(out.Error, "junk") {
				t.Errorf("JSON ok = %t, exit_code = %d, error = %q; want a failure with exit code 2 naming the word", out.OK, out.ExitCode, out.Error)
			}
		})
	}
}

func TestFlagErrorsAreOneLine(t *testing.T) {
	bed := startBed(t, testbed.Options{})
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{name: "unknown flag", args: append(bed.IssueArgs(dir, "www.example.test"), "--bogus"),
			want: []string{"unknown flag --bogus", "dnscert issue --help"}},
		{name: "missing value", args: append(bed.IssueArgs(dir), "-d"),
			want: []string{"flag -d needs a value"}},
		{name: "bad timeout", args: append(bed.IssueArgs(dir, "www.example.test"), "--propagation-timeout", "abc"),
			want: []string{`"abc"`, "--propagation-timeout", "whole seconds"}},
		{name: "bad timeout variable", args: bed.IssueArgs(dir, "www.example.test"),
			env:  map[string]string{"DNSCERT_PROPAGATION_TIMEOUT": "abc"},
			want: []string{`"abc"`, "DNSCERT_PROPAGATION_TIMEOUT", "whole seconds"}},
		{name: "bad boolean variable", args: []string{"dnscert", "--path", dir, "list"},
			env:  map[string]string{"DNSCERT_JSON": "yes"},
			want: []string{`DNSCERT_JSON="yes"`, "true or false"}},
		{name: "bad number", args: []string{"dnscert", "--path", dir, "renew", "--server", bed.Pebble.DirectoryURL, "--days", "abc"},
			want: []string{`invalid --days "abc"`, "whole number"}},
		{name: "unknown list flag", args: []string{"dnscert", "--path", dir, "list", "--bogus"},
			want: []string{"unknown flag --bogus", "dnscert list --help"}},
		{name: "unknown flag before the command", args: []string{"dnscert", "--bogus", "list"},
			want: []string{"unknown flag --bogus"}},
		{name: "unknown subcommand", args: []string{"dnscert", "--path", dir, "account", "nosuch"},
			want: []string{`unknown command "nosuch"`, "show, register, deactivate, list"}},
		{name: "unknown command", args: []string{"dnscert", "nosuch"},
			want: []string{`unknown command "nosuch"`, "issue"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			before := bed.Pebble.Requests()
			res := run(t, tt.args...)
			assertOneUsageLine(t, res, tt.want...)
			if res.stdout != "" {
				t.Errorf("stdout = %q, want nothing", res.stdout)
			}
			if n := bed.Pebble.Requests() - before; n != 0 {
				t.Errorf("%d requests reached the CA", n)
			}
		})
	}
}

// --propagation-timeout takes whole seconds, as the providers' timeouts do.
func TestIssueTimeoutInSeconds(t *testing.T) {
	bed := startBed(t, testbed.Options{})
	res := run(t, append(bed.IssueArgs(t.TempDir(), "www.example.test"), "--propagation-timeout", "600")...)
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
}

func TestIssueJSONOnInputErrors(t *testing.T) {
	bed := startBed(t, testbed.Options{})
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{name: "invalid flag value", args: append(bed.IssueArgs(dir, "www.example.test"), "--json", "--key-type", "dsa1024"),
			code: cli.ExitUsage, want: `"dsa1024"`},
		{name: "parse error", args: append(bed.IssueArgs(dir, "www.example.test"), "--json", "--propagation-timeout", "abc"),
			code: cli.ExitUsage, want: `"abc"`},
		{name: "unknown flag", args: append(bed.IssueArgs(dir, "www.example.test"), "--json", "--bogus"),
			code: cli.ExitUsage, want: "--bogus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, tt.args...)
			if res.code != tt.code {
				t.Fatalf("exit %d, want %d\n%s", res.code, tt.code, res.stderr)
			}
			var out map[string]any
			if err := json.Unmarshal([]byte(res.stdout), &out); err != nil {
				t.Fatalf("stdout is not one JSON object: %v\n%s", err, res.stdout)
			}
			if out["ok"] != false || out["status"] != "failed" || out["exit_code"] != float64(tt.code) {
				t.Errorf("ok = %v, status = %v, exit_code = %v; want false, failed, %d", out["ok"], out["status"], out["exit_code"], tt.code)
			}
			if msg, _ := out["error"].(string); !strings.Contains(msg, tt.want) {
				t.Errorf("error = %q, want it to contain %s", msg, tt.want)
			}
			if names, ok := out["names"].([]any); !ok || len(names) != 0 {
				t.Errorf("names = %v, want an empty array", out["names"])
			}
		})
	}
}

// Another run on the same certificate holds its lock: issue --json still
// prints one object, and the message gives the fix once.
func TestIssueLockedJSON(t *testing.T) {
	bed := startBed(t, testbed.Options{})
	dir := t.TempDir()
	store, err := storage.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := store.Lock(t.Context(), "cert-www.example.test", false)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()

	res := run(t, append(bed.IssueArgs(dir, "www.example.test"), "--json")...)
	if res.code != cli.ExitLocked {
		t.Fatalf("exit %d, want %d\n%s", res.code, cli.ExitLocked, res.stderr)
	}
	out := parseJSON(t, res.stdout)
	if out.OK || out.ExitCode != cli.ExitLocked {
		t.Errorf("ok = %t, exit_code = %d; want false, %d", out.OK, out.ExitCode, cli.ExitLocked)
	}
	if n := strings.Count(res.stderr, "wait"); n != 2 || !strings.Contains(res.stderr, "or pass --wait") {
		t.Errorf("stderr mentions waiting %d times, want once plus --wait:\n%s", n, res.stderr)
	}
}

func TestRenewJSONOnInputErrors(t *testing.T) {
	bed := startBed(t, testbed.Options{})
	dir := t.TempDir()
	for _, extra := range [][]string{{"--days", "-1"}, {"--days", "abc"}, {"extra"}} {
		t.Run(strings.Join(extra, " "), func(t *testing.T) {
			res := run(t, renewArgs(bed, dir, extra...)...)
			if res.code != cli.ExitUsage {
				t.Fatalf("exit %d, want %d\n%s", res.code, cli.ExitUsage, res.stderr)
			}
			var out struct {
				renewSummary
				Error string `json:"error"`
			}
			if err := json.Unmarshal([]byte(res.stdout), &out); err != nil {
				t.Fatalf("stdout is not one JSON object: %v\n%s", err, res.stdout)
			}
			if out.OK || out.ExitCode != cli.ExitUsage || out.Error == "" || out.Certificates == nil {
				t.Errorf("summary = %+v, want ok false, exit code 2, an error and no certificates", out)
			}
		})
	}
}

// list only reads: a missing storage directory is an empty store, and it
// is not created.
func TestListMissingStorageDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	for _, args := range [][]string{{"list"}, {"list", "--json"}, {"account", "list"}} {
		res := run(t, append([]string{"dnscert", "--path", dir}, args...)...)
		if res.code != 0 {
			t.Errorf("%s: exit %d\n%s", args, res.code, res.stderr)
		}
		if _, err := os.Stat(dir); err == nil {
			t.Fatalf("%s created the storage directory", args)
		}
	}
}

func TestStoragePathNotADirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "afile")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{file, filepath.Join(file, "sub")} {
		res := run(t, "dnscert", "--path", path, "list")
		assertOneUsageLine(t, res, "not a directory")
		if strings.Contains(res.stderr, "permissions") {
			t.Errorf("--path %s: stderr suggests fixing permissions:\n%s", path, res.stderr)
		}
		if strings.Count(res.stderr, "storage directory") > 1 {
			t.Errorf("--path %s: stderr repeats \"storage directory\":\n%s", path, res.stderr)
		}
	}
}

func TestHelpShowsDefaults(t *testing.T) {
	res := run(t, "dnscert", "issue", "--help")
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	help := strings.Join(strings.Fields(res.stdout), " ")
	for _, want := range []string{
		"/var/lib/dnscert for root",
		"$XDG_DATA_HOME/dnscert or ~/.local/share/dnscert",
		"(default ec256 for issue; renew keeps the certificate's type)",
		"whole seconds",
	} {
		if !strings.Contains(help, want) {
			t.Errorf("issue --help does not contain %q:\n%s", want, res.stdout)
		}
	}
}
