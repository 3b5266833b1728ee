package providers_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dnscert/dnscert/providers"
	"github.com/dnscert/dnscert/providers/rfc2136"
	"github.com/libdns/libdns"
)

// validSecret is base64 of 32 bytes, as tsig-keygen prints.
const validSecret = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

func mapLookup(env map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
}

func testInfo() providers.Info {
	return providers.Info{
		Name: "test",
		Vars: []providers.Var{
			{Name: "TEST_TOKEN", Secret: true, Aliases: []string{"TEST_API_TOKEN", "LEGACY_TOKEN"}},
			{Name: "TEST_URL"},
		},
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "value")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	return path
}

func TestConfigGetSources(t *testing.T) {
	file := writeFile(t, "from-file\r\n\n")
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"unset", map[string]string{}, ""},
		{"variable", map[string]string{"TEST_TOKEN": "direct"}, "direct"},
		{"first alias", map[string]string{"TEST_API_TOKEN": "alias"}, "alias"},
		{"second alias", map[string]string{"LEGACY_TOKEN": "legacy"}, "legacy"},
		{"variable before alias", map[string]string{"TEST_TOKEN": "direct", "TEST_API_TOKEN": "alias"}, "direct"},
		{"aliases in order", map[string]string{"TEST_API_TOKEN": "alias", "LEGACY_TOKEN": "legacy"}, "alias"},
		{"empty counts as unset", map[string]string{"TEST_TOKEN": "", "TEST_API_TOKEN": "alias"}, "alias"},
		{"file", map[string]string{"TEST_TOKEN_FILE": file}, "from-file"},
		{"alias before file", map[string]string{"LEGACY_TOKEN": "legacy", "TEST_TOKEN_FILE": file}, "legacy"},
		{"empty file variable counts as unset", map[string]string{"TEST_TOKEN_FILE": ""}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := providers.NewConfig(testInfo(), mapLookup(tc.env))
			got, err := cfg.Get("TEST_TOKEN")
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if got != tc.want {
				t.Errorf("Get = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestConfigGetUnreadableFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-file")
	cases := []struct {
		name, path string
		target     error
	}{
		{"missing file", missing, fs.ErrNotExist},
		{"directory", t.TempDir(), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := providers.NewConfig(testInfo(), mapLookup(map[string]string{"TEST_TOKEN_FILE": tc.path}))
			_, err := cfg.Get("TEST_TOKEN")
			if err == nil {
				t.Fatal("Get succeeded, want an error")
			}
			for _, want := range []string{"TEST_TOKEN_FILE", tc.path} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if tc.target != nil && !errors.Is(err, tc.target) {
				t.Errorf("error %v does not wrap %v", err, tc.target)
			}
		})
	}
}

func TestConfigGetEmptyFile(t *testing.T) {
	path := writeFile(t, "\n")
	cfg := providers.NewConfig(testInfo(), mapLookup(map[string]string{"TEST_TOKEN_FILE": path}))

	_, err := cfg.Get("TEST_TOKEN")

	if err == nil || !strings.Contains(err.Error(), "empty") || !strings.Contains(err.Error(), path) {
		t.Errorf("Get error = %v, want an empty-file error naming %s", err, path)
	}
}

func TestConfigGetUndeclared(t *testing.T) {
	cfg := providers.NewConfig(testInfo(), mapLookup(map[string]string{"OTHER": "x"}))

	_, err := cfg.Get("OTHER")

	if err == nil || !strings.Contains(err.Error(), "OTHER") {
		t.Errorf("Get error = %v, want an error naming OTHER", err)
	}
}

func TestConfigLogValueHidesSecret(t *testing.T) {
	const secret = "tok-3f9a-very-secret"
	path := writeFile(t, "file-secret-content")
	cfg := providers.NewConfig(testInfo(), mapLookup(map[string]string{
		"TEST_API_TOKEN": secret,
		"TEST_URL":       "https://api.example.test",
	}))
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("provider configured", "config", cfg)
	text := buf.String() + fmt.Sprint(cfg) + fmt.Sprintf("%+v %#v", cfg, cfg)

	if strings.Contains(text, secret) {
		t.Errorf("output contains the secret: %s", text)
	}
	for _, want := range []string{"TEST_API_TOKEN=[redacted]", "TEST_URL=https://api.example.test"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log %q does not contain %q", buf.String(), want)
		}
	}

	fileCfg := providers.NewConfig(testInfo(), mapLookup(map[string]string{"TEST_TOKEN_FILE": path}))
	buf.Reset()
	slog.New(slog.NewTextHandler(&buf, nil)).Info("provider configured", "config", fileCfg)
	if !strings.Contains(buf.String(), path) {
		t.Errorf("log %q does not show the file path", buf.String())
	}
	if strings.Contains(buf.String(), "file-secret-content") {
		t.Errorf("log %q contains the file content", buf.String())
	}
}

func TestNewUnknownProvider(t *testing.T) {
	_, err := providers.New("nosuchdns", mapLookup(nil))

	if err == nil {
		t.Fatal("New succeeded for an unknown provider")
	}
	for _, want := range []string{`"nosuchdns"`, "rfc2136"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestNewNilLookup(t *testing.T) {
	if _, err := providers.New("rfc2136", nil); err == nil {
		t.Error("New succeeded with a nil lookup function")
	}
}

func TestNewMissingRequiredVariable(t *testing.T) {
	_, err := providers.New("rfc2136", mapLookup(map[string]string{"RFC2136_TSIG_KEY": "dnscert"}))

	if err == nil {
		t.Fatal("New succeeded without RFC2136_NAMESERVER")
	}
	for _, want := range []string{"provider rfc2136", "missing required variable RFC2136_NAMESERVER", "RFC2136_NAMESERVER_FILE"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestNewRFC2136(t *testing.T) {
	secretFile := writeFile(t, validSecret+"\n")
	cases := []struct {
		name        string
		env         map[string]string
		wantTimeout time.Duration
		wantKey     string
	}{
		{"no key", map[string]string{"RFC2136_NAMESERVER": "127.0.0.1"}, 0, ""},
		{"secret inline", map[string]string{
			"RFC2136_NAMESERVER":     "ns1.example.test:5353",
			"RFC2136_TSIG_KEY":       "dnscert",
			"RFC2136_TSIG_SECRET":    validSecret,
			"RFC2136_TSIG_ALGORITHM": "HMAC-SHA512.",
			"RFC2136_TIMEOUT":        "1m30s",
		}, 90 * time.Second, "dnscert"},
		{"secret from file, lego timeout", map[string]string{
			"RFC2136_NAMESERVER":       "127.0.0.1",
			"RFC2136_TSIG_KEY":         "dnscert.",
			"RFC2136_TSIG_SECRET_FILE": secretFile,
			"RFC2136_DNS_TIMEOUT":      "30",
		}, 30 * time.Second, "dnscert."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := providers.New("RFC2136", mapLookup(tc.env))
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			p = providers.Underlying(p)
			rp, ok := p.(*rfc2136.Provider)
			if !ok {
				t.Fatalf("New returned %T, want *rfc2136.Provider", p)
			}
			if _, ok := p.(libdns.RecordGetter); !ok {
				t.Error("the rfc2136 provider does not implement libdns.RecordGetter")
			}
			if rp.Timeout != tc.wantTimeout {
				t.Errorf("Timeout = %s, want %s", rp.Timeout, tc.wantTimeout)
			}
			if rp.TSIGKey != tc.wantKey {
				t.Errorf("TSIGKey = %q, want %q", rp.TSIGKey, tc.wantKey)
			}
			if tc.wantKey != "" && rp.TSIGSecret != validSecret {
				t.Error("TSIGSecret differs from the configured secret")
			}
			if err := rp.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestNewRFC2136InvalidValues(t *testing.T) {
	const badSecret = "hunter2-not-base64!"
	badFile := writeFile(t, badSecret+"\n")
	cases := []struct {
		name  string
		env   map[string]string
		wants []string
	}{
		{"bad secret", map[string]string{
			"RFC2136_NAMESERVER": "127.0.0.1", "RFC2136_TSIG_KEY": "dnscert", "RFC2136_TSIG_SECRET": badSecret,
		}, []string{"provider rfc2136", "RFC2136_TSIG_SECRET:", "base64"}},
		{"bad secret in file", map[string]string{
			"RFC2136_NAMESERVER": "127.0.0.1", "RFC2136_TSIG_KEY": "dnscert", "RFC2136_TSIG_SECRET_FILE": badFile,
		}, []string{"RFC2136_TSIG_SECRET_FILE:", "base64"}},
		{"secret without key", map[string]string{
			"RFC2136_NAMESERVER": "127.0.0.1", "RFC2136_TSIG_SECRET": badSecret,
		}, []string{"RFC2136_TSIG_KEY:", "RFC2136_TSIG_SECRET:"}},
		{"md5", map[string]string{
			"RFC2136_NAMESERVER": "127.0.0.1", "RFC2136_TSIG_KEY": "k", "RFC2136_TSIG_SECRET": validSecret, "RFC2136_TSIG_ALGORITHM": "hmac-md5",
		}, []string{"RFC2136_TSIG_ALGORITHM:", "hmac-sha256"}},
		{"bad nameserver", map[string]string{"RFC2136_NAMESERVER": "ns1.example.test:dns"}, []string{"RFC2136_NAMESERVER:", "invalid port"}},
		{"bad timeout", map[string]string{"RFC2136_NAMESERVER": "127.0.0.1", "RFC2136_TIMEOUT": "soon"}, []string{"RFC2136_TIMEOUT:", `"soon"`}},
		{"bad lego timeout", map[string]string{"RFC2136_NAMESERVER": "127.0.0.1", "RFC2136_DNS_TIMEOUT": "-5"}, []string{"RFC2136_DNS_TIMEOUT:", "negative"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := providers.New("rfc2136", mapLookup(tc.env))
			if err == nil {
				t.Fatal("New succeeded, want an error")
			}
			for _, want := range tc.wants {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			if strings.Contains(err.Error(), badSecret) || strings.Contains(err.Error(), validSecret) {
				t.Errorf("error %q contains a secret value", err)
			}
		})
	}
}

func TestNewUnreadableSecretFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing-secret")

	_, err := providers.New("rfc2136", mapLookup(map[string]string{
		"RFC2136_NAMESERVER":       "127.0.0.1",
		"RFC2136_TSIG_KEY":         "dnscert",
		"RFC2136_TSIG_SECRET_FILE": path,
	}))

	if err == nil {
		t.Fatal("New succeeded with an unreadable secret file")
	}
	for _, want := range []string{"RFC2136_TSIG_SECRET_FILE", path} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if n := strings.Count(err.Error(), "provider rfc2136"); n != 1 {
		t.Errorf("error %q names the provider %d times, want once", err, n)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %v does not wrap fs.ErrNotExist", err)
	}
}

func TestNewPrefixesEveryError(t *testing.T) {
	_, err := providers.New("rfc2136", mapLookup(map[string]string{
		"RFC2136_NAMESERVER":     "a b",
		"RFC2136_TSIG_ALGORITHM": "hmac-md5",
	}))

	if err == nil {
		t.Fatal("New succeeded with two invalid values")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 2 {
		t.Fatalf("error has %d lines, want 2: %q", len(lines), err)
	}
	for _, line := range lines {
		if !strings.HasPrefix(line, "provider rfc2136: RFC2136_") {
			t.Errorf("line %q does not start with the provider and variable", line)
		}
	}
}

func TestNewKeepsSettingError(t *testing.T) {
	_, err := providers.New("rfc2136", mapLookup(map[string]string{"RFC2136_NAMESERVER": ""}))
	if err == nil {
		t.Fatal("New succeeded without a nameserver")
	}

	_, err = providers.New("rfc2136", mapLookup(map[string]string{"RFC2136_NAMESERVER": "a b"}))
	var se *rfc2136.SettingError
	if !errors.As(err, &se) {
		t.Fatalf("error %v does not unwrap to *rfc2136.SettingError", err)
	}
	if se.Field != "Nameserver" {
		t.Errorf("SettingError.Field = %q, want Nameserver", se.Field)
	}
}

func TestNewSendsNoTraffic(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on loopback: %v", err)
	}
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })

	_, err = providers.New("rfc2136", mapLookup(map[string]string{
		"RFC2136_NAMESERVER":  ln.Addr().String(),
		"RFC2136_TSIG_KEY":    "dnscert",
		"RFC2136_TSIG_SECRET": validSecret,
	}))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	time.Sleep(50 * time.Millisecond)

	if n := accepted.Load(); n != 0 {
		t.Errorf("New opened %d connections, want 0", n)
	}
}

func TestRegistryListing(t *testing.T) {
	all := providers.All()
	names := providers.Names()
	if !slices.IsSorted(names) {
		t.Errorf("Names() = %v, want sorted", names)
	}
	if len(all) != len(names) {
		t.Fatalf("All() has %d entries, Names() %d", len(all), len(names))
	}
	if !slices.Contains(names, "rfc2136") {
		t.Errorf("Names() = %v, want rfc2136 listed", names)
	}
	for i, info := range all {
		if info.Name != names[i] {
			t.Errorf("All()[%d].Name = %q, want %q", i, info.Name, names[i])
		}
		if info.Name != strings.ToLower(info.Name) || info.Usage == "" || info.Example == "" || info.New == nil {
			t.Errorf("provider %q lacks a lower-case name, usage, example or constructor", info.Name)
		}
		seen := map[string]bool{}
		for _, v := range info.Vars {
			if v.Usage == "" {
				t.Errorf("provider %s: variable %s has no usage", info.Name, v.Name)
			}
			for _, n := range append([]string{v.Name, v.Name + "_FILE"}, v.Aliases...) {
				if seen[n] {
					t.Errorf("provider %s: variable name %s is declared twice", info.Name, n)
				}
				seen[n] = true
			}
		}
	}
}

func TestLookupReturnsCopy(t *testing.T) {
	info, ok := providers.Lookup(" RFC2136 ")
	if !ok {
		t.Fatal("Lookup(\" RFC2136 \") found nothing")
	}
	info.Vars[0].Name = "CHANGED"
	info.Vars[len(info.Vars)-1].Aliases[0] = "CHANGED"

	again, _ := providers.Lookup("rfc2136")
	if again.Vars[0].Name == "CHANGED" || again.Vars[len(again.Vars)-1].Aliases[0] == "CHANGED" {
		t.Error("changing the Info returned by Lookup changed the registry")
	}
	if _, ok := providers.Lookup("nosuchdns"); ok {
		t.Error("Lookup found an unknown provider")
	}
}
