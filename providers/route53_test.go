package providers

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libdns/libdns"

	"github.com/dnscert/dnscert/internal/fakeroute53"
	"github.com/dnscert/dnscert/providers/route53"
)

// These tests set the AWS SDK's environment variables, so none of them
// may run in parallel.

const (
	route53TestKeyID  = "AKIDFAKEPROVIDERS"
	route53TestSecret = "secret-bPxRfiCYEXAMPLEKEY-never-print"
)

// registerRoute53 adds the route53 provider to the registry for the test
// when registry.go does not list it yet.
func registerRoute53(t *testing.T) {
	t.Helper()
	if _, ok := Lookup("route53"); ok {
		return
	}
	saved := registry
	registry = append(slices.Clone(registry), route53Info())
	t.Cleanup(func() { registry = saved })
}

// startRoute53Fake starts a fake Route 53 and points the SDK's environment
// at it, without credentials.
func startRoute53Fake(t *testing.T) *fakeroute53.Server {
	t.Helper()
	srv, err := fakeroute53.Start()
	if err != nil {
		t.Fatalf("start fake Route 53: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	for _, name := range fakeroute53.SDKVariables {
		t.Setenv(name, "")
		os.Unsetenv(name)
	}
	for name, value := range srv.Env("", "") {
		t.Setenv(name, value)
	}
	srv.AddCredentials(route53TestKeyID, "")
	return srv
}

func route53Lookup(env map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
}

func TestRoute53Info(t *testing.T) {
	info := route53Info()
	if info.Name != "route53" {
		t.Errorf("Name = %q, want route53", info.Name)
	}
	if info.Usage == "" {
		t.Error("Usage is empty")
	}
	if info.Example == "" {
		t.Error("Example is empty")
	}
	if info.New == nil {
		t.Fatal("New is nil")
	}
	declared := map[string]Var{}
	for _, v := range info.Vars {
		declared[v.Name] = v
		if v.Required {
			t.Errorf("%s is required, want every variable optional because the credential chain decides", v.Name)
		}
		if v.Usage == "" {
			t.Errorf("%s has no usage", v.Name)
		}
	}
	for field, name := range route53Vars {
		if _, ok := declared[name]; !ok {
			t.Errorf("route53Vars maps %s to %s, which is not declared", field, name)
		}
	}
	for _, name := range []string{"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} {
		if !declared[name].Secret {
			t.Errorf("%s is not marked secret", name)
		}
	}
	for _, name := range []string{"AWS_ACCESS_KEY_ID", "AWS_HOSTED_ZONE_ID", "AWS_REGION"} {
		if declared[name].Secret {
			t.Errorf("%s is marked secret, want it shown in logs", name)
		}
	}
}

func TestRoute53NewSendsNoTraffic(t *testing.T) {
	srv := startRoute53Fake(t)
	registerRoute53(t)

	p, err := New("route53", route53Lookup(map[string]string{
		"AWS_ACCESS_KEY_ID":       route53TestKeyID,
		"AWS_SECRET_ACCESS_KEY":   route53TestSecret,
		"AWS_REGION":              "eu-west-1",
		"AWS_HOSTED_ZONE_ID":      "/hostedzone/Z0123456789ABCDEFGHIJ",
		"AWS_MAX_RETRIES":         "3",
		"AWS_PROPAGATION_TIMEOUT": "90",
		"AWS_POLLING_INTERVAL":    "500ms",
	}))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if _, ok := p.(libdns.ZoneLister); !ok {
		t.Errorf("the route53 provider %T does not implement libdns.ZoneLister", p)
	}
	if _, ok := Underlying(p).(*route53.Provider); !ok {
		t.Errorf("Underlying(p) is %T, want *route53.Provider", Underlying(p))
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("New sent %d requests, want 0", n)
	}
}

func TestRoute53InvalidValues(t *testing.T) {
	startRoute53Fake(t)
	registerRoute53(t)
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"retries not a number", map[string]string{"AWS_MAX_RETRIES": "many"}, "AWS_MAX_RETRIES"},
		{"negative retries", map[string]string{"AWS_MAX_RETRIES": "-1"}, "AWS_MAX_RETRIES"},
		{"timeout not a duration", map[string]string{"AWS_PROPAGATION_TIMEOUT": "soon"}, "AWS_PROPAGATION_TIMEOUT"},
		{"negative timeout", map[string]string{"AWS_PROPAGATION_TIMEOUT": "-5s"}, "AWS_PROPAGATION_TIMEOUT"},
		{"negative interval", map[string]string{"AWS_POLLING_INTERVAL": "-1"}, "AWS_POLLING_INTERVAL"},
		{"hosted zone ID", map[string]string{"AWS_HOSTED_ZONE_ID": "example.test"}, "AWS_HOSTED_ZONE_ID"},
		{"secret without key ID", map[string]string{"AWS_SECRET_ACCESS_KEY": route53TestSecret}, "AWS_ACCESS_KEY_ID"},
		{"key ID without secret", map[string]string{"AWS_ACCESS_KEY_ID": route53TestKeyID}, "AWS_SECRET_ACCESS_KEY"},
		{"missing profile", map[string]string{"AWS_PROFILE": "no-such-profile", "AWS_SECRET_ACCESS_KEY": route53TestSecret, "AWS_ACCESS_KEY_ID": route53TestKeyID}, "no-such-profile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New("route53", route53Lookup(tc.env))
			if err == nil {
				t.Fatal("New succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name %s", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "provider route53: ") {
				t.Errorf("error %q does not start with the provider name", err)
			}
			if strings.Contains(err.Error(), route53TestSecret) {
				t.Errorf("error %q contains the secret access key", err)
			}
		})
	}

	_, err := New("route53", route53Lookup(map[string]string{"AWS_HOSTED_ZONE_ID": "bad id"}))
	var se *route53.SettingError
	if !errors.As(err, &se) {
		t.Fatalf("error %v does not unwrap to a route53.SettingError", err)
	}
	if se.Field != "HostedZoneID" {
		t.Errorf("SettingError.Field = %q, want HostedZoneID", se.Field)
	}
}

func TestRoute53EndToEnd(t *testing.T) {
	srv := startRoute53Fake(t)
	registerRoute53(t)
	zoneID, err := srv.AddZone("example.test", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.SetRecordSet(zoneID, fakeroute53.RecordSet{Name: "_acme-challenge.example.test", Type: "TXT", TTL: 300, Values: []string{`"other-system-token"`}}); err != nil {
		t.Fatal(err)
	}
	secretFile := filepath.Join(t.TempDir(), "aws-secret")
	if err := os.WriteFile(secretFile, []byte(route53TestSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", route53TestKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY_FILE", secretFile)
	t.Setenv("AWS_POLLING_INTERVAL", "5ms")

	p, err := New("route53", os.LookupEnv)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	records := []libdns.Record{
		libdns.TXT{Name: "_acme-challenge", TTL: time.Minute, Text: "apex-token"},
		libdns.TXT{Name: "_acme-challenge", TTL: time.Minute, Text: "wildcard-token"},
	}
	if _, err := p.AppendRecords(t.Context(), "example.test.", records); err != nil {
		t.Fatalf("AppendRecords: %v", err)
	}
	got := slices.Sorted(slices.Values(srv.TXT(zoneID, "_acme-challenge.example.test")))
	if want := []string{"apex-token", "other-system-token", "wildcard-token"}; !slices.Equal(got, want) {
		t.Errorf("TXT after AppendRecords = %q, want %q", got, want)
	}
	if _, err := p.DeleteRecords(t.Context(), "example.test.", records); err != nil {
		t.Fatalf("DeleteRecords: %v", err)
	}
	if got := srv.TXT(zoneID, "_acme-challenge.example.test"); !slices.Equal(got, []string{"other-system-token"}) {
		t.Errorf("TXT after DeleteRecords = %q, want only the foreign value", got)
	}

	zones, err := p.(libdns.ZoneLister).ListZones(t.Context())
	if err != nil {
		t.Fatalf("ListZones: %v", err)
	}
	if len(zones) != 1 || zones[0].Name != "example.test." {
		t.Errorf("ListZones = %v, want [example.test.]", zones)
	}
}

func TestRoute53ErrorsNameVariables(t *testing.T) {
	srv := startRoute53Fake(t)
	registerRoute53(t)
	zoneID, err := srv.AddZone("example.test", false)
	if err != nil {
		t.Fatal(err)
	}
	base := map[string]string{
		"AWS_ACCESS_KEY_ID":     route53TestKeyID,
		"AWS_SECRET_ACCESS_KEY": route53TestSecret,
		"AWS_POLLING_INTERVAL":  "5ms",
	}
	with := func(extra map[string]string) func(string) (string, bool) {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		for k, v := range extra {
			env[k] = v
		}
		return route53Lookup(env)
	}
	records := []libdns.Record{libdns.TXT{Name: "_acme-challenge", TTL: time.Minute, Text: "token"}}
	noSecret := func(err error) {
		t.Helper()
		if err != nil && strings.Contains(err.Error(), route53TestSecret) {
			t.Errorf("error %q contains the secret access key", err)
		}
	}

	srv.SetChangeDelay(time.Hour)
	p, err := New("route53", with(map[string]string{"AWS_PROPAGATION_TIMEOUT": "50ms"}))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	_, err = p.AppendRecords(t.Context(), "example.test.", records)
	if err == nil {
		t.Fatal("sync timeout: no error, want one")
	}
	if !strings.Contains(err.Error(), "AWS_PROPAGATION_TIMEOUT") {
		t.Errorf("sync timeout: error %q does not name AWS_PROPAGATION_TIMEOUT", err)
	}
	if !strings.Contains(err.Error(), "PENDING") {
		t.Errorf("sync timeout: error %q does not say the change is PENDING", err)
	}
	noSecret(err)
	srv.SetChangeDelay(0)

	p, err = New("route53", with(map[string]string{"AWS_HOSTED_ZONE_ID": "ZNOSUCHZONE"}))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	_, err = p.AppendRecords(t.Context(), "example.test.", records)
	if err == nil {
		t.Fatal("missing pinned zone: no error, want one")
	}
	if !strings.Contains(err.Error(), "AWS_HOSTED_ZONE_ID") {
		t.Errorf("missing pinned zone: error %q does not name AWS_HOSTED_ZONE_ID", err)
	}
	if !strings.Contains(err.Error(), "ZNOSUCHZONE") {
		t.Errorf("missing pinned zone: error %q does not name the ID", err)
	}
	noSecret(err)

	srv.AllowChanges()
	p, err = New("route53", with(nil))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	// The timed-out change above stored "token", so this needs a new value.
	_, err = p.AppendRecords(t.Context(), "example.test.", []libdns.Record{libdns.TXT{Name: "_acme-challenge", TTL: time.Minute, Text: "token-2"}})
	var denied *route53.AccessDeniedError
	if !errors.As(err, &denied) {
		t.Fatalf("access denied: error %v, want a route53.AccessDeniedError", err)
	}
	if denied.ZoneID != zoneID {
		t.Errorf("access denied: ZoneID = %q, want %q", denied.ZoneID, zoneID)
	}
	var rejected *CredentialsError
	if !errors.As(err, &rejected) {
		t.Errorf("access denied: error %v, want a CredentialsError so that the run stops", err)
	}
	noSecret(err)

	p, err = New("route53", with(map[string]string{"AWS_ACCESS_KEY_ID": "AKIDUNKNOWN"}))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	_, err = p.AppendRecords(t.Context(), "example.test.", records)
	if !errors.As(err, &rejected) {
		t.Fatalf("unknown key: error %v, want a CredentialsError", err)
	}
	if !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Errorf("unknown key: error %q does not name AWS_ACCESS_KEY_ID", err)
	}
	noSecret(err)
}
