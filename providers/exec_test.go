package providers

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dnscert/dnscert/providers/conformance"
	"github.com/dnscert/dnscert/providers/execprovider"
)

func execLookup(env map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
}

// newExecFromEnv builds the exec provider from env as the registry does,
// without the registry's check of required variables.
func newExecFromEnv(env map[string]string) (Provider, error) {
	info := execInfo()
	return info.New(NewConfig(info, execLookup(env)))
}

// writeExecScript writes an executable shell script to a new temporary
// directory and returns its path.
func writeExecScript(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hook.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatalf("write script: %v", err)
	}
	return path
}

func TestExecInfo(t *testing.T) {
	info := execInfo()
	if info.Name != "exec" {
		t.Errorf("Name = %q, want exec", info.Name)
	}
	required := map[string]bool{}
	for _, v := range info.Vars {
		required[v.Name] = v.Required
		if v.Secret {
			t.Errorf("variable %s is marked secret; none of the exec variables holds a secret", v.Name)
		}
	}
	want := map[string]bool{"EXEC_PATH": true, "EXEC_MODE": false, "EXEC_TIMEOUT": false}
	for name, req := range want {
		got, ok := required[name]
		if !ok {
			t.Errorf("variable %s is not declared", name)
			continue
		}
		if got != req {
			t.Errorf("variable %s: Required = %v, want %v", name, got, req)
		}
	}
	if len(info.Vars) != len(want) {
		t.Errorf("declared %d variables, want %d", len(info.Vars), len(want))
	}
}

func TestNewExecSettings(t *testing.T) {
	program := writeExecScript(t, "exit 0\n")
	cases := []struct {
		name    string
		env     map[string]string
		timeout time.Duration
	}{
		{"defaults", map[string]string{"EXEC_PATH": program}, 0},
		{"whole seconds", map[string]string{"EXEC_PATH": program, "EXEC_TIMEOUT": "90"}, 90 * time.Second},
		{"Go duration", map[string]string{"EXEC_PATH": program, "EXEC_TIMEOUT": "2m"}, 2 * time.Minute},
		{"empty mode", map[string]string{"EXEC_PATH": program, "EXEC_MODE": ""}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := newExecFromEnv(tc.env)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			ep, ok := p.(*execprovider.Provider)
			if !ok {
				t.Fatalf("New returned %T, want *execprovider.Provider", p)
			}
			if ep.Program != program {
				t.Errorf("Program = %q, want %q", ep.Program, program)
			}
			if ep.Timeout != tc.timeout {
				t.Errorf("Timeout = %s, want %s", ep.Timeout, tc.timeout)
			}
			if ep.Output != os.Stderr {
				t.Errorf("Output = %v, want os.Stderr", ep.Output)
			}
		})
	}
}

func TestNewExecRejects(t *testing.T) {
	program := writeExecScript(t, "exit 0\n")
	plain := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"raw mode", map[string]string{"EXEC_PATH": program, "EXEC_MODE": "RAW"}, []string{"EXEC_MODE=RAW is not supported", "ACME token", "unset EXEC_MODE"}},
		{"raw mode lower case", map[string]string{"EXEC_PATH": program, "EXEC_MODE": "raw"}, []string{"RAW is not supported"}},
		{"unknown mode", map[string]string{"EXEC_PATH": program, "EXEC_MODE": "FAST"}, []string{"EXEC_MODE", `invalid mode "FAST"`}},
		{"missing program", map[string]string{"EXEC_PATH": filepath.Join(t.TempDir(), "gone.sh")}, []string{"EXEC_PATH", "does not exist"}},
		{"program not executable", map[string]string{"EXEC_PATH": plain}, []string{"EXEC_PATH", "chmod +x"}},
		{"program is a directory", map[string]string{"EXEC_PATH": t.TempDir()}, []string{"EXEC_PATH", "is a directory"}},
		{"invalid timeout", map[string]string{"EXEC_PATH": program, "EXEC_TIMEOUT": "soon"}, []string{"EXEC_TIMEOUT", `invalid duration "soon"`}},
		{"negative timeout", map[string]string{"EXEC_PATH": program, "EXEC_TIMEOUT": "-5s"}, []string{"EXEC_TIMEOUT", "negative"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := newExecFromEnv(tc.env)
			if err == nil {
				t.Fatalf("New returned %v, want an error", p)
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

// dnsHostScript is a stand-in DNS host for the exec provider: it keeps
// one "NAME VALUE" line per TXT value in the file records next to it.
// present adds the line unless it is there, and cleanup removes it.
const dnsHostScript = `set -eu
db="$(dirname "$0")/records"
line="$2 $3"
touch "$db"
case "$1" in
present)
	grep -qxF -- "$line" "$db" || printf '%s\n' "$line" >> "$db" ;;
cleanup)
	rc=0
	grep -vxF -- "$line" "$db" > "$db.tmp" || rc=$?
	[ "$rc" -le 1 ] || exit "$rc"
	mv "$db.tmp" "$db" ;;
*)
	echo "unknown action $1" >&2
	exit 2 ;;
esac
`

// readHostRecords returns the values at name in the records file of
// dnsHostScript.
func readHostRecords(path, name string) ([]string, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var values []string
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		owner, value, ok := strings.Cut(scanner.Text(), " ")
		if ok && owner == name {
			values = append(values, value)
		}
	}
	return values, scanner.Err()
}

func TestExecConformance(t *testing.T) {
	program := writeExecScript(t, dnsHostScript)
	records := filepath.Join(filepath.Dir(program), "records")
	p, err := newExecFromEnv(map[string]string{"EXEC_PATH": program, "EXEC_TIMEOUT": "30s"})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	conformance.Run(t, conformance.Harness{
		Provider: p,
		Zone:     "example.test.",
		Read: func(_ context.Context, name string) ([]string, error) {
			return readHostRecords(records, name)
		},
	})
}
