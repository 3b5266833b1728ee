package cloudflare

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/libdns/libdns"
)

func TestRelativeName(t *testing.T) {
	cases := []struct {
		name, zone string
		want       string
		wantErr    bool
	}{
		{"_acme-challenge", "example.com", "_acme-challenge", false},
		{"_ACME-Challenge.WWW", "example.com", "_acme-challenge.www", false},
		{"", "example.com", "@", false},
		{"@", "example.com", "@", false},
		{"example.com.", "example.com", "@", false},
		{"EXAMPLE.COM.", "example.com", "@", false},
		{"_acme-challenge.www.example.com.", "example.com", "_acme-challenge.www", false},
		{"_acme-challenge.notexample.com.", "example.com", "", true},
		{"_acme-challenge.other.org.", "example.com", "", true},
		{"_acme-challenge.example.com", "example.com", "", true},
		{"example.com", "example.com", "", true},
		{"a..b", "example.com", "", true},
		{".a", "example.com", "", true},
		{"a b", "example.com", "", true},
	}
	for _, tc := range cases {
		got, err := relativeName(tc.name, tc.zone)
		if (err != nil) != tc.wantErr {
			t.Errorf("relativeName(%q, %q) error = %v, want error %v", tc.name, tc.zone, err, tc.wantErr)
			continue
		}
		if got != tc.want {
			t.Errorf("relativeName(%q, %q) = %q, want %q", tc.name, tc.zone, got, tc.want)
		}
	}
}

func TestCanonicalZone(t *testing.T) {
	for in, want := range map[string]string{"Example.COM.": "example.com", "example.com": "example.com"} {
		if got, err := canonicalZone(in); err != nil || got != want {
			t.Errorf("canonicalZone(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", ".", "..", "a..b", ".example.com", "example com"} {
		if _, err := canonicalZone(in); err == nil {
			t.Errorf("canonicalZone(%q) succeeded, want an error", in)
		}
	}
}

func TestTXTRecordsRejectsOtherTypes(t *testing.T) {
	_, err := txtRecords([]libdns.Record{libdns.CNAME{Name: "www", Target: "example.net."}}, "example.com")
	if err == nil || !strings.Contains(err.Error(), "CNAME") {
		t.Errorf("error = %v, want one naming the type CNAME", err)
	}
	_, err = txtRecords([]libdns.Record{libdns.TXT{Name: "x"}}, "example.com")
	if err == nil || !strings.Contains(err.Error(), "empty value") {
		t.Errorf("error = %v, want one about the empty value", err)
	}
	got, err := txtRecords([]libdns.Record{libdns.RR{Name: "X", Type: "TXT", TTL: time.Minute, Data: "v"}}, "example.com")
	if err != nil {
		t.Fatal(err)
	}
	if want := (libdns.TXT{Name: "x", TTL: time.Minute, Text: "v"}); len(got) != 1 || got[0] != want {
		t.Errorf("txtRecords(RR) = %+v, want %+v", got, want)
	}
}

func TestValidate(t *testing.T) {
	const token = "tok-Hq3w9"
	cases := []struct {
		name   string
		p      *Provider
		fields []string
	}{
		{"valid", &Provider{APIToken: token}, nil},
		{"valid with all", &Provider{APIToken: token, ZoneToken: token, ZoneID: "0123456789ABCDEF0123456789abcdef", Timeout: time.Second}, nil},
		{"missing token", &Provider{}, []string{"APIToken"}},
		{"token with newline", &Provider{APIToken: token + "\n"}, []string{"APIToken"}},
		{"token with Bearer", &Provider{APIToken: "Bearer " + token}, []string{"APIToken"}},
		{"zone token with space", &Provider{APIToken: token, ZoneToken: "a " + token}, []string{"ZoneToken"}},
		{"short zone ID", &Provider{APIToken: token, ZoneID: "0123"}, []string{"ZoneID"}},
		{"zone ID not hex", &Provider{APIToken: token, ZoneID: "0123456789abcdef0123456789abcdeg"}, []string{"ZoneID"}},
		{"negative timeout", &Provider{APIToken: token, Timeout: -time.Second}, []string{"Timeout"}},
		{"negative retry", &Provider{APIToken: token, Retry: RetryPolicy{MaxWait: -1}}, []string{"Retry"}},
		{"several", &Provider{ZoneID: "x", Timeout: -1}, []string{"APIToken", "ZoneID", "Timeout"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Validate()
			var fields []string
			if joined, ok := err.(interface{ Unwrap() []error }); ok {
				for _, e := range joined.Unwrap() {
					var se *SettingError
					if !errors.As(e, &se) {
						t.Fatalf("error %v is not a *SettingError", e)
					}
					fields = append(fields, se.Field)
				}
			}
			if strings.Join(fields, ",") != strings.Join(tc.fields, ",") {
				t.Errorf("fields with errors = %v, want %v (error: %v)", fields, tc.fields, err)
			}
			if err != nil && strings.Contains(err.Error(), token) {
				t.Errorf("error contains the token: %v", err)
			}
		})
	}
}
