package dns01

import (
	"fmt"
	"strings"
	"testing"
)

func TestNormalizeNameValid(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{in: "example.com", want: "example.com"},
		{in: "Example.COM.", want: "example.com"},
		{in: "*.example.com", want: "*.example.com"},
		{in: "*.Example.Com", want: "*.example.com"},
		{in: "  www.example.com ", want: "www.example.com"},
		{in: "Shop.Bücher.test", want: "shop.xn--bcher-kva.test"},
		{in: "*.BÜCHER.test", want: "*.xn--bcher-kva.test"},
		{in: "xn--bcher-kva.test", want: "xn--bcher-kva.test"},
		{in: "a-b.example.com", want: "a-b.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := NormalizeName(tt.in)
			if err != nil {
				t.Fatalf("NormalizeName(%q) error: %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("NormalizeName(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestNormalizeNameInvalid(t *testing.T) {
	long := strings.Repeat("a", 64) + ".example.com"
	tooLong := strings.Repeat(strings.Repeat("a", 60)+".", 4) + "com"
	tests := []struct {
		in      string
		message string // part of the error that tells the user what to fix
	}{
		{in: "", message: "empty"},
		{in: "   ", message: "empty"},
		{in: "www.*.example.com", message: "leftmost label"},
		{in: "w*.example.com", message: "leftmost label"},
		{in: "*", message: "leftmost label"},
		{in: "*.*.example.com", message: "leftmost label"},
		{in: "192.0.2.1", message: "IP addresses"},
		{in: "2001:db8::1", message: "IP addresses"},
		{in: "[2001:db8::1]", message: "IP addresses"},
		{in: "localhost", message: "two labels"},
		{in: "a..example.com", message: "empty label"},
		{in: long, message: "at most 63"},
		{in: tooLong, message: "too long"},
		{in: "under_score.example.com", message: "letters, digits and hyphens"},
		{in: "-lead.example.com", message: "letters, digits and hyphens"},
		{in: "sp ace.example.com", message: "letters, digits and hyphens"},
		{in: "example.123", message: "top-level label"},
		{in: "0x7f.1", message: "top-level label"},
		{in: strings.Repeat("abcdefgh.", 30) + "com", message: "at most 253"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := NormalizeName(tt.in)
			if err == nil {
				t.Fatalf("NormalizeName(%q) succeeded, want an error", tt.in)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("error %q does not contain %q", err, tt.message)
			}
			if tt.in != "" && !strings.Contains(err.Error(), fmt.Sprintf("%q", tt.in)) {
				t.Errorf("error %q does not name the input %q", err, tt.in)
			}
		})
	}
}

func TestNormalizeNamesDuplicates(t *testing.T) {
	_, err := NormalizeNames([]string{"example.com", "www.example.com", "EXAMPLE.com."})
	if err == nil {
		t.Fatal("duplicate accepted")
	}
	if !strings.Contains(err.Error(), `"EXAMPLE.com."`) || !strings.Contains(err.Error(), "duplicate") {
		t.Errorf("error %q does not name the duplicate", err)
	}
}

func TestNormalizeNamesIDNADuplicate(t *testing.T) {
	_, err := NormalizeNames([]string{"bücher.test", "xn--bcher-kva.test"})
	if err == nil {
		t.Fatal("U-label and A-label of one name accepted")
	}
}

func TestNormalizeNamesLimit(t *testing.T) {
	names := make([]string, MaxNames+1)
	for i := range names {
		names[i] = fmt.Sprintf("h%d.example.com", i)
	}
	_, err := NormalizeNames(names)
	if err == nil || !strings.Contains(err.Error(), "101 domain names") {
		t.Fatalf("101 names: err = %v, want a limit error naming the count", err)
	}
	got, err := NormalizeNames(names[:MaxNames])
	if err != nil {
		t.Fatalf("100 names: %v", err)
	}
	if len(got) != MaxNames {
		t.Errorf("got %d names, want %d", len(got), MaxNames)
	}
}

func TestNormalizeNamesReportsEveryError(t *testing.T) {
	_, err := NormalizeNames([]string{"ok.example.com", "192.0.2.1", "a.*.example.com"})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`"192.0.2.1"`, `"a.*.example.com"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestNormalizeNamesEmpty(t *testing.T) {
	if _, err := NormalizeNames(nil); err == nil {
		t.Fatal("no names accepted")
	}
}

func TestChallengeName(t *testing.T) {
	tests := map[string]string{
		"example.com":     "_acme-challenge.example.com.",
		"*.example.com":   "_acme-challenge.example.com.",
		"www.example.com": "_acme-challenge.www.example.com.",
	}
	for in, want := range tests {
		if got := ChallengeName(in); got != want {
			t.Errorf("ChallengeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRelativeName(t *testing.T) {
	tests := []struct {
		name, zone, want string
		wantErr          bool
	}{
		{name: "_acme-challenge.example.com.", zone: "example.com.", want: "_acme-challenge"},
		{name: "_acme-challenge.www.example.com", zone: "Example.com", want: "_acme-challenge.www"},
		{name: "example.com.", zone: "example.com.", want: "@"},
		{name: "_acme-challenge.xexample.com.", zone: "example.com.", wantErr: true},
		{name: "_acme-challenge.example.org.", zone: "example.com.", wantErr: true},
	}
	for _, tt := range tests {
		got, err := RelativeName(tt.name, tt.zone)
		if tt.wantErr {
			if err == nil {
				t.Errorf("RelativeName(%q, %q) = %q, want an error", tt.name, tt.zone, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("RelativeName(%q, %q) = %q, %v; want %q", tt.name, tt.zone, got, err, tt.want)
		}
	}
}

func FuzzNormalizeName(f *testing.F) {
	for _, seed := range []string{"example.com", "*.example.com", "Bücher.test", "192.0.2.1", "a..b", "*", "xn--", "_x.example.com"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := NormalizeName(in)
		if err != nil {
			return
		}
		// A normalized name is stable, lower case and has no trailing dot.
		again, err := NormalizeName(out)
		if err != nil {
			t.Fatalf("NormalizeName(%q) = %q, which is rejected: %v", in, out, err)
		}
		if again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q", in, out, again)
		}
		if strings.ToLower(out) != out || strings.HasSuffix(out, ".") {
			t.Fatalf("NormalizeName(%q) = %q, not canonical", in, out)
		}
		if strings.Contains(BaseName(out), "*") {
			t.Fatalf("NormalizeName(%q) = %q keeps a wildcard below the leftmost label", in, out)
		}
	})
}

func TestZoneASCII(t *testing.T) {
	tests := map[string]string{
		"Bücher.test":         "xn--bcher-kva.test.",
		"xn--bcher-kva.test.": "xn--bcher-kva.test.",
		"Example.COM":         "example.com.",
	}
	for in, want := range tests {
		if got := zoneASCII(in); got != want {
			t.Errorf("zoneASCII(%q) = %q, want %q", in, got, want)
		}
	}
}
