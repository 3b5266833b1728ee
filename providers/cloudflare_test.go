package providers

import (
	"context"
	"errors"
	"fmt"
	"github.com/dnscert/dnscert/internal/syncbuf"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libdns/libdns"

	"github.com/dnscert/dnscert/internal/fakecloudflare"
	"github.com/dnscert/dnscert/providers/cloudflare"
)

// The tests build the provider through New, so the registry must list it.
// This adds it for the tests when registry.go does not list it.
func init() {
	if _, ok := Lookup("cloudflare"); !ok {
		registry = append(registry, cloudflareInfo())
	}
}

// cloudflareToken is the token of the tests. It is distinctive so that the
// tests can search errors and logs for it.
const cloudflareToken = "cf-test-token-Qx7vR2mZ9kLp4T"

func cloudflareLookup(env map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
}

// syncBuffer is a buffer that several goroutines can write and read.
type syncBuffer = syncbuf.Buffer

// cloudflareSetup is a fake API with the zone example.test and a provider
// built through New that sends its requests to the fake.
type cloudflareSetup struct {
	fake     *fakecloudflare.Server
	provider *cloudflare.Provider
	zoneID   string
	logs     *syncBuffer
}

// newCloudflareSetup registers cloudflareToken with all permissions unless
// env sets the token itself, and builds the provider from env plus the
// token.
func newCloudflareSetup(t testing.TB, env map[string]string) *cloudflareSetup {
	t.Helper()
	fake := fakecloudflare.New()
	t.Cleanup(fake.Close)
	setup := &cloudflareSetup{fake: fake, zoneID: fake.AddZone("example.test"), logs: &syncBuffer{}}

	if env == nil {
		env = map[string]string{}
	}
	if _, ok := env["CLOUDFLARE_DNS_API_TOKEN"]; !ok && env["CF_DNS_API_TOKEN"] == "" && env["CLOUDFLARE_DNS_API_TOKEN_FILE"] == "" {
		env["CLOUDFLARE_DNS_API_TOKEN"] = cloudflareToken
		fake.AddToken(cloudflareToken, fakecloudflare.AllAccess)
	}
	p, err := New("cloudflare", cloudflareLookup(env))
	if err != nil {
		t.Fatalf("New(cloudflare): %v", err)
	}
	cp, ok := Underlying(p).(*cloudflare.Provider)
	if !ok {
		t.Fatalf("New(cloudflare) returned %T, want *cloudflare.Provider", p)
	}
	cp.HTTPClient = fake.Client()
	cp.Retry = cloudflare.RetryPolicy{BaseDelay: 5 * time.Millisecond, MaxDelay: 40 * time.Millisecond, MaxWait: 5 * time.Second}
	cp.Logger = slog.New(slog.NewTextHandler(setup.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	setup.provider = cp
	return setup
}

func txt(name, value string) libdns.Record {
	return libdns.TXT{Name: name, TTL: 60 * time.Second, Text: value}
}

// values returns the TXT values stored at fqdn, unquoted and sorted.
func (s *cloudflareSetup) values(fqdn string) []string {
	var out []string
	for _, r := range s.fake.Records("example.test") {
		if r.Type == "TXT" && r.Name == fqdn {
			out = append(out, strings.Trim(r.Content, `"`))
		}
	}
	slices.Sort(out)
	return out
}

func (s *cloudflareSetup) checkNoToken(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), cloudflareToken) {
		t.Errorf("error contains the API token: %v", err)
	}
	if strings.Contains(s.logs.String(), cloudflareToken) {
		t.Errorf("log contains the API token:\n%s", s.logs.String())
	}
}

func TestCloudflareNewVariables(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(cloudflareToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name          string
		env           map[string]string
		wantToken     string
		wantZoneToken string
		wantZoneID    string
		wantTimeout   time.Duration
	}{
		{"variable", map[string]string{"CLOUDFLARE_DNS_API_TOKEN": "a"}, "a", "", "", 0},
		{"alias", map[string]string{"CF_DNS_API_TOKEN": "b"}, "b", "", "", 0},
		{"variable before alias", map[string]string{"CLOUDFLARE_DNS_API_TOKEN": "a", "CF_DNS_API_TOKEN": "b"}, "a", "", "", 0},
		{"file", map[string]string{"CLOUDFLARE_DNS_API_TOKEN_FILE": tokenFile}, cloudflareToken, "", "", 0},
		{"zone token alias", map[string]string{"CF_DNS_API_TOKEN": "b", "CF_ZONE_API_TOKEN": "z"}, "b", "z", "", 0},
		{"zone token file", map[string]string{"CF_DNS_API_TOKEN": "b", "CLOUDFLARE_ZONE_API_TOKEN_FILE": tokenFile}, "b", cloudflareToken, "", 0},
		{"zone ID", map[string]string{"CF_DNS_API_TOKEN": "b", "CLOUDFLARE_ZONE_ID": "0123456789abcdef0123456789ABCDEF"}, "b", "", "0123456789abcdef0123456789ABCDEF", 0},
		{"timeout seconds", map[string]string{"CF_DNS_API_TOKEN": "b", "CLOUDFLARE_HTTP_TIMEOUT": "45"}, "b", "", "", 45 * time.Second},
		{"timeout duration", map[string]string{"CF_DNS_API_TOKEN": "b", "CLOUDFLARE_HTTP_TIMEOUT": "1m30s"}, "b", "", "", 90 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New("cloudflare", cloudflareLookup(tc.env))
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			cp := Underlying(p).(*cloudflare.Provider)
			if cp.APIToken != tc.wantToken {
				t.Errorf("APIToken = %q, want %q", cp.APIToken, tc.wantToken)
			}
			if cp.ZoneToken != tc.wantZoneToken {
				t.Errorf("ZoneToken = %q, want %q", cp.ZoneToken, tc.wantZoneToken)
			}
			if cp.ZoneID != tc.wantZoneID {
				t.Errorf("ZoneID = %q, want %q", cp.ZoneID, tc.wantZoneID)
			}
			if cp.Timeout != tc.wantTimeout {
				t.Errorf("Timeout = %v, want %v", cp.Timeout, tc.wantTimeout)
			}
		})
	}
}

func TestCloudflareNewInvalidValues(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		want    []string
		notWant string
	}{
		{"missing token", map[string]string{"CLOUDFLARE_ZONE_ID": "0123456789abcdef0123456789abcdef"},
			[]string{"provider cloudflare", "CLOUDFLARE_DNS_API_TOKEN", "CF_DNS_API_TOKEN", "CLOUDFLARE_DNS_API_TOKEN_FILE"}, ""},
		{"token with line break", map[string]string{"CLOUDFLARE_DNS_API_TOKEN": cloudflareToken + "\n"},
			[]string{"provider cloudflare", "CLOUDFLARE_DNS_API_TOKEN:", "line break"}, cloudflareToken},
		{"token with Bearer", map[string]string{"CF_DNS_API_TOKEN": "Bearer " + cloudflareToken},
			[]string{"CF_DNS_API_TOKEN:", `"Bearer "`}, cloudflareToken},
		{"zone token with space", map[string]string{"CF_DNS_API_TOKEN": "a", "CF_ZONE_API_TOKEN": cloudflareToken + " x"},
			[]string{"CF_ZONE_API_TOKEN:", "space"}, cloudflareToken},
		{"zone ID", map[string]string{"CF_DNS_API_TOKEN": "a", "CLOUDFLARE_ZONE_ID": "example.test"},
			[]string{"CLOUDFLARE_ZONE_ID:", `"example.test"`, "32 hexadecimal digits"}, ""},
		{"timeout", map[string]string{"CF_DNS_API_TOKEN": "a", "CLOUDFLARE_HTTP_TIMEOUT": "soon"},
			[]string{"CLOUDFLARE_HTTP_TIMEOUT:", `"soon"`}, ""},
		{"negative timeout", map[string]string{"CF_DNS_API_TOKEN": "a", "CLOUDFLARE_HTTP_TIMEOUT": "-5s"},
			[]string{"CLOUDFLARE_HTTP_TIMEOUT:", "negative"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New("cloudflare", cloudflareLookup(tc.env))
			if err == nil {
				t.Fatal("New succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if tc.notWant != "" && strings.Contains(err.Error(), tc.notWant) {
				t.Errorf("error %q contains the secret", err)
			}
		})
	}
}

func TestCloudflareNewKeepsSettingError(t *testing.T) {
	_, err := New("cloudflare", cloudflareLookup(map[string]string{"CF_DNS_API_TOKEN": "a", "CLOUDFLARE_ZONE_ID": "x"}))
	var se *cloudflare.SettingError
	if !errors.As(err, &se) {
		t.Fatalf("error %v does not unwrap to *cloudflare.SettingError", err)
	}
	if se.Field != "ZoneID" {
		t.Errorf("Field = %q, want ZoneID", se.Field)
	}
}

func TestCloudflareAddTwoValuesAtOneName(t *testing.T) {
	s := newCloudflareSetup(t, nil)
	ctx := t.Context()
	added, err := s.provider.AppendRecords(ctx, "example.test.", []libdns.Record{
		txt("_acme-challenge.www", "value-one"),
		txt("_acme-challenge.www", "value-two"),
	})
	if err != nil {
		t.Fatalf("AppendRecords: %v", err)
	}
	if len(added) != 2 {
		t.Errorf("AppendRecords returned %d records, want 2", len(added))
	}
	if got, want := s.values("_acme-challenge.www.example.test"), []string{"value-one", "value-two"}; !slices.Equal(got, want) {
		t.Errorf("values = %q, want %q", got, want)
	}
	for _, r := range s.fake.Records("example.test") {
		if r.TTL != 60 {
			t.Errorf("record %s has TTL %d, want 60", r.Content, r.TTL)
		}
		if r.Proxied {
			t.Errorf("record %s is proxied", r.Content)
		}
	}
	if got := s.fake.Requests()["GET /zones"]; got != 1 {
		t.Errorf("zone lookups = %d, want 1", got)
	}
	s.checkNoToken(t, nil)
}

func TestCloudflareDeleteKeepsOtherValues(t *testing.T) {
	s := newCloudflareSetup(t, nil)
	ctx := t.Context()
	name := "_acme-challenge.www.example.test"
	// A value that contains the deleted one, which a substring search
	// finds too, and the same value at another name.
	s.fake.AddRecord("example.test", fakecloudflare.Record{Type: "TXT", Name: "_acme-challenge.www", Content: `"xx-value-one-xx"`, TTL: 60})
	s.fake.AddRecord("example.test", fakecloudflare.Record{Type: "TXT", Name: "_acme-challenge.api", Content: `"value-one"`, TTL: 60})
	recs := []libdns.Record{txt("_acme-challenge.www", "value-one"), txt("_acme-challenge.www", "value-two")}
	if _, err := s.provider.AppendRecords(ctx, "example.test.", recs); err != nil {
		t.Fatalf("AppendRecords: %v", err)
	}

	deleted, err := s.provider.DeleteRecords(ctx, "example.test.", recs[:1])
	if err != nil {
		t.Fatalf("DeleteRecords: %v", err)
	}
	if len(deleted) != 1 {
		t.Errorf("DeleteRecords returned %d records, want 1", len(deleted))
	}
	if got, want := s.values(name), []string{"value-two", "xx-value-one-xx"}; !slices.Equal(got, want) {
		t.Errorf("values at %s = %q, want %q", name, got, want)
	}
	if got, want := s.values("_acme-challenge.api.example.test"), []string{"value-one"}; !slices.Equal(got, want) {
		t.Errorf("values at the other name = %q, want %q", got, want)
	}
}

func TestCloudflareAddExistingValue(t *testing.T) {
	for _, code := range []int{fakecloudflare.CodeIdenticalRecordExists, fakecloudflare.CodeRecordExists} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			s := newCloudflareSetup(t, nil)
			s.fake.SetDuplicateCode(code)
			ctx := t.Context()
			rec := txt("_acme-challenge", "same-value")
			if _, err := s.provider.AppendRecords(ctx, "example.test.", []libdns.Record{rec}); err != nil {
				t.Fatalf("first AppendRecords: %v", err)
			}
			added, err := s.provider.AppendRecords(ctx, "example.test.", []libdns.Record{rec, rec})
			if err != nil {
				t.Fatalf("AppendRecords of an existing value: %v", err)
			}
			if len(added) != 2 {
				t.Errorf("AppendRecords returned %d records, want 2", len(added))
			}
			if got := len(s.fake.Records("example.test")); got != 1 {
				t.Errorf("zone has %d records, want 1", got)
			}
			if got := s.fake.Requests()["POST /zones/{zone_id}/dns_records"]; got != 3 {
				t.Errorf("creates = %d, want 3", got)
			}
		})
	}
}

func TestCloudflareDeleteAbsentValue(t *testing.T) {
	s := newCloudflareSetup(t, nil)
	s.fake.AddRecord("example.test", fakecloudflare.Record{Type: "TXT", Name: "_acme-challenge", Content: `"other"`, TTL: 60})
	deleted, err := s.provider.DeleteRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "absent")})
	if err != nil {
		t.Fatalf("DeleteRecords: %v", err)
	}
	if len(deleted) != 0 {
		t.Errorf("DeleteRecords returned %v, want none", deleted)
	}
	if got := s.fake.Requests()["DELETE /zones/{zone_id}/dns_records/{dns_record_id}"]; got != 0 {
		t.Errorf("deletes = %d, want 0", got)
	}
	if got := len(s.fake.Records("example.test")); got != 1 {
		t.Errorf("zone has %d records, want 1", got)
	}
}

func TestCloudflareDeleteGoneBetweenLookupAndDelete(t *testing.T) {
	s := newCloudflareSetup(t, nil)
	ctx := t.Context()
	rec := txt("_acme-challenge", "value")
	if _, err := s.provider.AppendRecords(ctx, "example.test.", []libdns.Record{rec}); err != nil {
		t.Fatalf("AppendRecords: %v", err)
	}
	// The record is deleted and its response lost: the retry gets 404.
	lost := &lostDeleteTransport{base: s.fake.Transport()}
	s2 := newCloudflareSetupWithFake(t, s.fake, lost)
	if _, err := s2.DeleteRecords(ctx, "example.test.", []libdns.Record{rec}); err != nil {
		t.Fatalf("DeleteRecords: %v", err)
	}
	if got := len(s.fake.Records("example.test")); got != 0 {
		t.Errorf("zone has %d records, want 0", got)
	}
	if got := s.fake.Requests()["DELETE /zones/{zone_id}/dns_records/{dns_record_id}"]; got != 2 {
		t.Errorf("deletes = %d, want 2", got)
	}
}

// cloudflareRequestCounts returns the requests of one AppendRecords and one
// DeleteRecords call with n records in one zone, on a new provider each.
func cloudflareRequestCounts(t *testing.T, n int) (publish, cleanup map[string]int) {
	t.Helper()
	s := newCloudflareSetup(t, nil)
	ctx := t.Context()
	recs := make([]libdns.Record, n)
	for i := range recs {
		recs[i] = txt(fmt.Sprintf("_acme-challenge.host%03d", i), fmt.Sprintf("value-%03d", i))
	}
	if _, err := s.provider.AppendRecords(ctx, "example.test.", recs); err != nil {
		t.Fatalf("AppendRecords: %v", err)
	}
	publish = s.fake.Requests()
	if got := len(s.fake.Records("example.test")); got != n {
		t.Fatalf("zone has %d records after publishing, want %d", got, n)
	}
	s.fake.ResetRequests()

	cleaner := newCloudflareSetupWithFake(t, s.fake, s.fake.Transport())
	deleted, err := cleaner.DeleteRecords(ctx, "example.test.", recs)
	if err != nil {
		t.Fatalf("DeleteRecords: %v", err)
	}
	if len(deleted) != n {
		t.Errorf("DeleteRecords returned %d records, want %d", len(deleted), n)
	}
	if got := len(s.fake.Records("example.test")); got != 0 {
		t.Fatalf("zone has %d records after cleanup, want 0", got)
	}
	return publish, s.fake.Requests()
}

func TestCloudflareRequestCounts(t *testing.T) {
	for _, n := range []int{2, 10, 100} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			publish, cleanup := cloudflareRequestCounts(t, n)
			wantPublish := map[string]int{"GET /zones": 1, "POST /zones/{zone_id}/dns_records": n}
			wantCleanup := map[string]int{"GET /zones": 1, "GET /zones/{zone_id}/dns_records": n, "DELETE /zones/{zone_id}/dns_records/{dns_record_id}": n}
			if !mapsEqual(publish, wantPublish) {
				t.Errorf("publish requests = %v, want %v", publish, wantPublish)
			}
			if !mapsEqual(cleanup, wantCleanup) {
				t.Errorf("cleanup requests = %v, want %v", cleanup, wantCleanup)
			}
			t.Logf("records=%d publish=%v cleanup=%v", n, publish, cleanup)
		})
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestCloudflareNameForms(t *testing.T) {
	s := newCloudflareSetup(t, nil)
	ctx := t.Context()
	recs := []libdns.Record{
		txt("_ACME-Challenge.WWW", "upper"),
		txt("_acme-challenge.API.Example.Test.", "fqdn"),
		txt("@", "apex"),
		txt("Example.TEST.", "apex-fqdn"),
	}
	if _, err := s.provider.AppendRecords(ctx, "EXAMPLE.test.", recs); err != nil {
		t.Fatalf("AppendRecords: %v", err)
	}
	want := map[string][]string{
		"_acme-challenge.www.example.test": {"upper"},
		"_acme-challenge.api.example.test": {"fqdn"},
		"example.test":                     {"apex", "apex-fqdn"},
	}
	for name, values := range want {
		if got := s.values(name); !slices.Equal(got, values) {
			t.Errorf("values at %s = %q, want %q", name, got, values)
		}
	}

	// Deleting with other spellings of the same names.
	other := []libdns.Record{
		txt("_acme-challenge.www.example.test.", "upper"),
		txt("_ACME-CHALLENGE.api", "fqdn"),
		txt("example.test.", "apex"),
		txt("", "apex-fqdn"),
	}
	if _, err := s.provider.DeleteRecords(ctx, "example.test", other); err != nil {
		t.Fatalf("DeleteRecords: %v", err)
	}
	if got := s.fake.Records("example.test"); len(got) != 0 {
		t.Errorf("zone has %d records left, want 0: %+v", len(got), got)
	}
}

func TestCloudflareRejectsNamesOutsideZone(t *testing.T) {
	s := newCloudflareSetup(t, nil)
	for _, name := range []string{"_acme-challenge.other.test.", "_acme-challenge.example.test"} {
		_, err := s.provider.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt(name, "v")})
		if err == nil {
			t.Errorf("AppendRecords with name %q succeeded, want an error", name)
			continue
		}
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %q", err, name)
		}
	}
	if got := s.fake.TotalRequests(); got != 0 {
		t.Errorf("requests = %d, want 0", got)
	}
}

func TestCloudflareRetryAfterHonoured(t *testing.T) {
	s := newCloudflareSetup(t, nil)
	s.fake.SetFaults(fakecloudflare.Faults{RateLimited: 1, RetryAfter: "1"})
	start := time.Now()
	_, err := s.provider.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "v")})
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("AppendRecords: %v", err)
	}
	if elapsed < time.Second {
		t.Errorf("AppendRecords took %v, want at least the Retry-After of 1s", elapsed)
	}
	if got := len(s.fake.Records("example.test")); got != 1 {
		t.Errorf("zone has %d records, want 1", got)
	}
	logs := s.logs.String()
	for _, want := range []string{"level=WARN", "status=429", "attempt=1", "wait=1s"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log does not contain %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "Authorization") {
		t.Errorf("log contains a header:\n%s", logs)
	}
	s.checkNoToken(t, err)
}

func TestCloudflareRetryAfterHTTPDate(t *testing.T) {
	s := newCloudflareSetup(t, nil)
	// HTTP dates have whole seconds, so the wait is between 1s and 2s.
	date := time.Now().Add(2 * time.Second).UTC().Format(http1123)
	s.fake.SetFaults(fakecloudflare.Faults{RateLimited: 1, RetryAfter: date})
	start := time.Now()
	if _, err := s.provider.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "v")}); err != nil {
		t.Fatalf("AppendRecords: %v", err)
	}
	if elapsed := time.Since(start); elapsed < 900*time.Millisecond {
		t.Errorf("AppendRecords took %v, want the wait until %s", elapsed, date)
	}
}

const http1123 = "Mon, 02 Jan 2006 15:04:05 GMT"

func TestCloudflareRetryAfterBeyondLimit(t *testing.T) {
	s := newCloudflareSetup(t, nil)
	s.fake.SetFaults(fakecloudflare.Faults{RateLimited: 1, RetryAfter: "3600"})
	start := time.Now()
	_, err := s.provider.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "v")})
	if err == nil {
		t.Fatal("AppendRecords succeeded, want the rate-limit error")
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("AppendRecords took %v, want an immediate error", elapsed)
	}
	var apiErr *cloudflare.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 {
		t.Fatalf("error %v is not an APIError with status 429", err)
	}
	for _, want := range []string{"HTTP 429", "code 971", "Retry-After: 3600", "rate limit"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestCloudflareServerErrorsRetried(t *testing.T) {
	s := newCloudflareSetup(t, nil)
	s.fake.SetFaults(fakecloudflare.Faults{ServerErrors: 2})
	if _, err := s.provider.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "v")}); err != nil {
		t.Fatalf("AppendRecords: %v", err)
	}
	if got := len(s.fake.Records("example.test")); got != 1 {
		t.Errorf("zone has %d records, want 1", got)
	}
	// The zone lookup gets both errors, then succeeds.
	if got := s.fake.Requests()["GET /zones"]; got != 3 {
		t.Errorf("zone lookups = %d, want 3", got)
	}
	if got := strings.Count(s.logs.String(), "status=500"); got != 2 {
		t.Errorf("log has %d retries after status 500, want 2:\n%s", got, s.logs.String())
	}
}

func TestCloudflareServerErrorsExhaustAttempts(t *testing.T) {
	s := newCloudflareSetup(t, nil)
	s.fake.SetFaults(fakecloudflare.Faults{ServerErrors: 100, ServerErrorStatus: 503})
	_, err := s.provider.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "v")})
	if err == nil {
		t.Fatal("AppendRecords succeeded, want an error")
	}
	if got := s.fake.TotalRequests(); got != cloudflare.DefaultMaxAttempts {
		t.Errorf("requests = %d, want %d", got, cloudflare.DefaultMaxAttempts)
	}
	for _, want := range []string{"HTTP 503", "after 5 attempts", "try again later"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestCloudflareLostCreate(t *testing.T) {
	for _, drop := range []bool{false, true} {
		t.Run(fmt.Sprintf("drop=%v", drop), func(t *testing.T) {
			s := newCloudflareSetup(t, nil)
			s.fake.SetFaults(fakecloudflare.Faults{LostCreates: 1, DropConnection: drop})
			added, err := s.provider.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "v")})
			if err != nil {
				t.Fatalf("AppendRecords: %v", err)
			}
			if len(added) != 1 {
				t.Errorf("AppendRecords returned %d records, want 1", len(added))
			}
			if got := len(s.fake.Records("example.test")); got != 1 {
				t.Errorf("zone has %d records, want 1", got)
			}
			if got := s.fake.Requests()["POST /zones/{zone_id}/dns_records"]; got != 2 {
				t.Errorf("creates = %d, want 2", got)
			}
		})
	}
}

func TestCloudflareAttemptTimeout(t *testing.T) {
	s := newCloudflareSetup(t, map[string]string{"CLOUDFLARE_HTTP_TIMEOUT": "50ms"})
	s.provider.Retry.MaxAttempts = 2
	s.fake.SetFaults(fakecloudflare.Faults{Latency: 500 * time.Millisecond})
	start := time.Now()
	_, err := s.provider.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "v")})
	if err == nil {
		t.Fatal("AppendRecords succeeded, want a timeout")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not match context.DeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > 400*time.Millisecond {
		t.Errorf("AppendRecords took %v, want about two attempts of 50ms", elapsed)
	}
	if !strings.Contains(err.Error(), "after 2 attempts") {
		t.Errorf("error %q does not count the attempts", err)
	}
}

func TestCloudflareCancelDuringRetryWait(t *testing.T) {
	s := newCloudflareSetup(t, nil)
	s.fake.SetFaults(fakecloudflare.Faults{RateLimited: 1, RetryAfter: "3"})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.provider.AppendRecords(ctx, "example.test.", []libdns.Record{txt("_acme-challenge", "v")})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not match context.DeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("AppendRecords took %v after the context ended", elapsed)
	}
}

func TestCloudflareBadToken(t *testing.T) {
	for _, variable := range []string{"CLOUDFLARE_DNS_API_TOKEN", "CF_DNS_API_TOKEN"} {
		t.Run(variable, func(t *testing.T) {
			// The fake has no registered token, so it rejects this one.
			s := newCloudflareSetup(t, map[string]string{variable: cloudflareToken})
			_, err := s.provider.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "v")})
			if err == nil {
				t.Fatal("AppendRecords succeeded, want an error")
			}
			for _, want := range []string{"cloudflare", variable, "example.test", "Zone:Read and DNS:Edit", "code 10000"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			s.checkNoToken(t, err)
			_, err = s.provider.DeleteRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "v")})
			if err == nil {
				t.Fatal("DeleteRecords succeeded, want an error")
			}
			s.checkNoToken(t, err)
		})
	}
}

func TestCloudflareTokenWithoutDNSEdit(t *testing.T) {
	s := newCloudflareSetup(t, map[string]string{"CLOUDFLARE_DNS_API_TOKEN": cloudflareToken})
	s.fake.AddToken(cloudflareToken, fakecloudflare.Token{ZoneRead: true, DNSRead: true})
	_, err := s.provider.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "v")})
	var apiErr *cloudflare.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("error %v is not an *cloudflare.APIError", err)
	}
	for _, want := range []string{"adding TXT record", "HTTP 403", "code 9109", "CLOUDFLARE_DNS_API_TOKEN", "DNS:Edit"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	s.checkNoToken(t, err)
}

func TestCloudflareScopedToken(t *testing.T) {
	s := newCloudflareSetup(t, map[string]string{"CLOUDFLARE_DNS_API_TOKEN": cloudflareToken})
	s.fake.AddZone("other.test")
	s.fake.AddToken(cloudflareToken, fakecloudflare.Token{Zones: []string{s.zoneID}, ZoneRead: true, DNSEdit: true})
	ctx := t.Context()

	zone, err := s.provider.FindZone(ctx, "_acme-challenge.www.example.test.")
	if err != nil {
		t.Fatalf("FindZone: %v", err)
	}
	if zone != "example.test." {
		t.Errorf("FindZone = %q, want example.test.", zone)
	}

	_, err = s.provider.AppendRecords(ctx, "other.test.", []libdns.Record{txt("_acme-challenge", "v")})
	if !errors.Is(err, cloudflare.ErrZoneNotFound) {
		t.Fatalf("AppendRecords in another zone: error %v, want ErrZoneNotFound", err)
	}
	for _, want := range []string{"other.test", "HTTP 403", "CLOUDFLARE_DNS_API_TOKEN", "Zone:Read and DNS:Edit"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}

	_, err = s.provider.FindZone(ctx, "_acme-challenge.www.other.test")
	var notFound *cloudflare.ZoneNotFoundError
	if !errors.As(err, &notFound) {
		t.Fatalf("FindZone in another zone: error %v, want *ZoneNotFoundError", err)
	}
	var tried []string
	for _, a := range notFound.Tried {
		tried = append(tried, a.Zone)
	}
	if want := []string{"_acme-challenge.www.other.test", "www.other.test", "other.test"}; !slices.Equal(tried, want) {
		t.Errorf("tried %q, want %q", tried, want)
	}
	for _, want := range []string{"tried _acme-challenge.www.other.test (HTTP 403", "Zone:Read and DNS:Edit"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}

	if _, err := s.provider.AppendRecords(ctx, "example.test.", []libdns.Record{txt("_acme-challenge", "v")}); err != nil {
		t.Fatalf("AppendRecords in the token's zone: %v", err)
	}
	// Each name was looked up once; the outcomes are remembered.
	if got := s.fake.Requests()["GET /zones"]; got != 6 {
		t.Errorf("zone lookups = %d, want 6", got)
	}
	s.checkNoToken(t, err)
}

func TestCloudflareZoneListPaging(t *testing.T) {
	s := newCloudflareSetup(t, nil)
	for i := range 150 {
		s.fake.AddZone(fmt.Sprintf("a%03d.test", i))
	}
	zones, err := s.provider.ListZones(t.Context())
	if err != nil {
		t.Fatalf("ListZones: %v", err)
	}
	if len(zones) != 151 {
		t.Fatalf("ListZones returned %d zones, want 151", len(zones))
	}
	if last := zones[len(zones)-1].Name; last != "example.test." {
		t.Errorf("last zone = %q, want example.test.", last)
	}
	if got := s.fake.Requests()["GET /zones"]; got != 4 {
		t.Errorf("zone list pages = %d, want 4", got)
	}
	// The listed zones need no lookup.
	if _, err := s.provider.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "v")}); err != nil {
		t.Fatalf("AppendRecords: %v", err)
	}
	if got := s.fake.Requests()["GET /zones"]; got != 4 {
		t.Errorf("zone requests after AppendRecords = %d, want still 4", got)
	}
}

func TestCloudflareZoneToken(t *testing.T) {
	const zoneToken = "cf-zone-token-8hYtq3"
	s := newCloudflareSetup(t, map[string]string{"CLOUDFLARE_DNS_API_TOKEN": cloudflareToken, "CF_ZONE_API_TOKEN": zoneToken})
	// The DNS token may edit records of one zone but not read zones.
	s.fake.AddToken(cloudflareToken, fakecloudflare.Token{Zones: []string{s.zoneID}, DNSEdit: true})
	s.fake.AddToken(zoneToken, fakecloudflare.Token{ZoneRead: true})
	ctx := t.Context()
	recs := []libdns.Record{txt("_acme-challenge", "v")}
	if _, err := s.provider.AppendRecords(ctx, "example.test.", recs); err != nil {
		t.Fatalf("AppendRecords: %v", err)
	}
	if _, err := s.provider.DeleteRecords(ctx, "example.test.", recs); err != nil {
		t.Fatalf("DeleteRecords: %v", err)
	}
	if got := len(s.fake.Records("example.test")); got != 0 {
		t.Errorf("zone has %d records, want 0", got)
	}
	zones, err := s.provider.ListZones(ctx)
	if err != nil {
		t.Fatalf("ListZones: %v", err)
	}
	if len(zones) != 1 {
		t.Errorf("ListZones = %v, want example.test.", zones)
	}

	// Without the zone token, the lookup fails.
	plain := newCloudflareSetupWithFake(t, s.fake, s.fake.Transport())
	plain.ZoneToken = ""
	_, err = plain.AppendRecords(ctx, "example.test.", recs)
	if !errors.Is(err, cloudflare.ErrZoneNotFound) {
		t.Errorf("AppendRecords without zone token: error %v, want ErrZoneNotFound", err)
	}
}

func TestCloudflareZoneID(t *testing.T) {
	s := newCloudflareSetup(t, nil)
	s.provider.ZoneID = s.zoneID
	s.fake.AddZone("other.test")
	ctx := t.Context()
	recs := []libdns.Record{txt("_acme-challenge", "v1"), txt("_acme-challenge", "v2")}
	if _, err := s.provider.AppendRecords(ctx, "example.test.", recs); err != nil {
		t.Fatalf("AppendRecords: %v", err)
	}
	if _, err := s.provider.DeleteRecords(ctx, "example.test.", recs); err != nil {
		t.Fatalf("DeleteRecords: %v", err)
	}
	_, err := s.provider.AppendRecords(ctx, "other.test.", recs)
	if !errors.Is(err, cloudflare.ErrZoneNotFound) {
		t.Errorf("AppendRecords in another zone: error %v, want ErrZoneNotFound", err)
	}
	if err != nil && !strings.Contains(err.Error(), "CLOUDFLARE_ZONE_ID selects zone example.test") {
		t.Errorf("error %q does not name the zone of the zone ID", err)
	}
	requests := s.fake.Requests()
	if got := requests["GET /zones"]; got != 0 {
		t.Errorf("zone lookups by name = %d, want 0", got)
	}
	if got := requests["GET /zones/{zone_id}"]; got != 1 {
		t.Errorf("zone reads by ID = %d, want 1", got)
	}
}

func TestCloudflareZoneIDUnreadable(t *testing.T) {
	s := newCloudflareSetup(t, map[string]string{"CLOUDFLARE_DNS_API_TOKEN": cloudflareToken, "CLOUDFLARE_ZONE_ID": "0123456789abcdef0123456789abcdef"})
	s.fake.AddToken(cloudflareToken, fakecloudflare.AllAccess)
	_, err := s.provider.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "v")})
	if err == nil {
		t.Fatal("AppendRecords succeeded, want an error")
	}
	for _, want := range []string{"0123456789abcdef0123456789abcdef", "CLOUDFLARE_ZONE_ID", "code 7003", "Zone:Read"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

// newCloudflareSetupWithFake builds another provider through New, with
// cloudflareToken, that sends its requests to fake through transport.
func newCloudflareSetupWithFake(t *testing.T, fake *fakecloudflare.Server, transport http.RoundTripper) *cloudflare.Provider {
	t.Helper()
	p, err := New("cloudflare", cloudflareLookup(map[string]string{"CLOUDFLARE_DNS_API_TOKEN": cloudflareToken}))
	if err != nil {
		t.Fatalf("New(cloudflare): %v", err)
	}
	cp := Underlying(p).(*cloudflare.Provider)
	cp.HTTPClient = &http.Client{Transport: transport}
	cp.Retry = cloudflare.RetryPolicy{BaseDelay: 5 * time.Millisecond, MaxDelay: 40 * time.Millisecond}
	return cp
}

// lostDeleteTransport loses the response to the first DELETE request after
// the fake has carried it out.
type lostDeleteTransport struct {
	base http.RoundTripper
	mu   sync.Mutex
	done bool
}

func (t *lostDeleteTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	t.mu.Lock()
	defer t.mu.Unlock()
	if err == nil && req.Method == http.MethodDelete && !t.done {
		t.done = true
		resp.Body.Close()
		return nil, io.ErrUnexpectedEOF
	}
	return resp, err
}

func TestCloudflareZoneIDWithoutZoneRead(t *testing.T) {
	s := newCloudflareSetup(t, map[string]string{"CLOUDFLARE_DNS_API_TOKEN": cloudflareToken})
	s.fake.AddToken(cloudflareToken, fakecloudflare.Token{Zones: []string{s.zoneID}, DNSEdit: true})
	s.provider.ZoneID = s.zoneID
	ctx := t.Context()
	recs := []libdns.Record{txt("_acme-challenge", "v")}
	if _, err := s.provider.AppendRecords(ctx, "example.test.", recs); err != nil {
		t.Fatalf("AppendRecords: %v", err)
	}
	if got := s.values("_acme-challenge.example.test"); !slices.Equal(got, []string{"v"}) {
		t.Errorf("values = %q, want [v]", got)
	}
	if _, err := s.provider.DeleteRecords(ctx, "example.test.", recs); err != nil {
		t.Fatalf("DeleteRecords: %v", err)
	}
	if got := len(s.fake.Records("example.test")); got != 0 {
		t.Errorf("zone has %d records, want 0", got)
	}
	// The first zone named is bound to the ID; another one is not found.
	if _, err := s.provider.AppendRecords(ctx, "other.test.", recs); !errors.Is(err, cloudflare.ErrZoneNotFound) {
		t.Errorf("AppendRecords in another zone: error %v, want ErrZoneNotFound", err)
	}
	if !strings.Contains(s.logs.String(), "cannot read the zone of the configured zone ID") {
		t.Errorf("log does not warn about the unchecked zone ID:\n%s", s.logs.String())
	}
	if got := s.fake.Requests()["GET /zones"]; got != 0 {
		t.Errorf("zone lookups by name = %d, want 0", got)
	}
}

func TestCloudflareCredentialsErrorThroughNew(t *testing.T) {
	fake := fakecloudflare.New()
	t.Cleanup(fake.Close)
	fake.AddZone("example.test")
	p, err := New("cloudflare", cloudflareLookup(map[string]string{"CF_DNS_API_TOKEN": cloudflareToken}))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	cp := Underlying(p).(*cloudflare.Provider)
	cp.HTTPClient = fake.Client()
	_, err = p.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt("_acme-challenge", "v")})
	var credErr *CredentialsError
	if !errors.As(err, &credErr) {
		t.Fatalf("error %v is not a *CredentialsError", err)
	}
	if !errors.Is(err, cloudflare.ErrZoneNotFound) {
		t.Errorf("error %v does not match ErrZoneNotFound", err)
	}
	for _, want := range []string{"provider cloudflare", "CLOUDFLARE_DNS_API_TOKEN", "CF_DNS_API_TOKEN"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if strings.Contains(err.Error(), cloudflareToken) {
		t.Errorf("error contains the API token: %v", err)
	}
}

func TestCloudflareDeleteSearchFails(t *testing.T) {
	cases := []struct {
		name   string
		faults fakecloudflare.Faults
		token  fakecloudflare.Token
		want   string
	}{
		{"server errors", fakecloudflare.Faults{ServerErrors: 100}, fakecloudflare.AllAccess, "HTTP 500"},
		{"no DNS permission", fakecloudflare.Faults{}, fakecloudflare.Token{ZoneRead: true}, "HTTP 403"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newCloudflareSetup(t, nil)
			ctx := t.Context()
			rec := txt("_acme-challenge", "v")
			if _, err := s.provider.AppendRecords(ctx, "example.test.", []libdns.Record{rec}); err != nil {
				t.Fatalf("AppendRecords: %v", err)
			}
			s.fake.AddToken(cloudflareToken, tc.token)
			s.fake.SetFaults(tc.faults)
			_, err := s.provider.DeleteRecords(ctx, "example.test.", []libdns.Record{rec})
			if err == nil {
				t.Fatal("DeleteRecords succeeded although the search for the record failed")
			}
			for _, want := range []string{"deleting TXT record", tc.want} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			if got := len(s.fake.Records("example.test")); got != 1 {
				t.Errorf("zone has %d records, want the record kept", got)
			}
		})
	}
}

// BenchmarkCloudflarePublishAndCleanup adds and deletes n records in one
// zone per iteration, against the fake without latency, so it measures the
// provider's own cost and reports the requests it sends.
func BenchmarkCloudflarePublishAndCleanup(b *testing.B) {
	for _, n := range []int{2, 10, 100} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s := newCloudflareSetup(b, nil)
			s.provider.Logger = nil
			ctx := b.Context()
			recs := make([]libdns.Record, n)
			for i := range recs {
				recs[i] = txt(fmt.Sprintf("_acme-challenge.host%03d", i), fmt.Sprintf("value-%03d", i))
			}
			s.fake.ResetRequests()
			for b.Loop() {
				if _, err := s.provider.AppendRecords(ctx, "example.test.", recs); err != nil {
					b.Fatal(err)
				}
				if _, err := s.provider.DeleteRecords(ctx, "example.test.", recs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(s.fake.TotalRequests())/float64(b.N), "requests/op")
		})
	}
}
