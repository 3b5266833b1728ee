package fakecloudflare

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestUnquoteTXT(t *testing.T) {
	for content, want := range map[string]string{
		`"abc"`:         "abc",
		`"abc" "def"`:   "abcdef",
		`"a\"b\\c"`:     `a"b\c`,
		`abc`:           "abc",
		`"abc" x "def"`: `"abc" x "def"`,
		`"unterminated`: `"unterminated`,
	} {
		if got := unquoteTXT(content); got != want {
			t.Errorf("unquoteTXT(%s) = %q, want %q", content, got, want)
		}
	}
}

func TestTXTByOwner(t *testing.T) {
	s := newTestServer(t)
	s.AddZone("example.test")
	s.AddRecord("example.test", Record{Type: "TXT", Name: "_acme-challenge", Content: `"one"`})
	s.AddRecord("example.test", Record{Type: "TXT", Name: "_acme-challenge.example.test", Content: "two"})
	s.AddRecord("example.test", Record{Type: "A", Name: "www", Content: "192.0.2.1"})

	got := s.TXT("Example.Test.")
	want := map[string][]string{"_acme-challenge.example.test.": {"one", "two"}}
	if len(got) != 1 || !slices.Equal(got["_acme-challenge.example.test."], want["_acme-challenge.example.test."]) {
		t.Errorf("TXT = %v, want %v", got, want)
	}
	if got := s.TXT("missing.test"); got != nil {
		t.Errorf("TXT of a missing zone = %v, want nil", got)
	}
}

// Only requests that can change records call the hook, after the change,
// also when the response to a create is lost.
func TestMirrorTransportCallsHook(t *testing.T) {
	s := newTestServer(t)
	id := s.AddZone("example.test")
	var mu sync.Mutex
	var calls []string
	var seen [][]string
	client := &http.Client{Transport: s.MirrorTransport(func(zone string) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, zone)
		seen = append(seen, s.TXT(zone)["_acme-challenge.example.test."])
	})}
	send := func(method, path, body string) int {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, "https://"+APIHost+pathPrefix+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	send("GET", "/zones", "")
	send("GET", "/zones/"+id+"/dns_records", "")
	if len(calls) != 0 {
		t.Errorf("reads called the hook for %v, want no calls", calls)
	}

	send("POST", "/zones/"+id+"/dns_records", `{"type":"TXT","name":"_acme-challenge","content":"\"v1\""}`)
	s.SetFaults(Faults{LostCreates: 1})
	if status := send("POST", "/zones/"+id+"/dns_records", `{"type":"TXT","name":"_acme-challenge","content":"\"v2\""}`); status != http.StatusGatewayTimeout {
		t.Errorf("lost create: status %d, want 504", status)
	}
	send("DELETE", "/zones/"+id+"/dns_records/"+s.Records("example.test")[0].ID, "")
	send("POST", "/zones/0123456789abcdef0123456789abcdef/dns_records", `{"type":"TXT","name":"x","content":"y"}`)

	if want := []string{"example.test", "example.test", "example.test"}; !slices.Equal(calls, want) {
		t.Errorf("hook calls = %v, want %v (create, lost create, delete; none for an unknown zone)", calls, want)
	}
	wantSeen := [][]string{{"v1"}, {"v1", "v2"}, {"v2"}}
	if !slices.EqualFunc(seen, wantSeen, slices.Equal) {
		t.Errorf("TXT values in the hook = %v, want %v", seen, wantSeen)
	}
}
