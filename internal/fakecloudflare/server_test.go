package fakecloudflare

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

const testToken = "fake-test-token-Wm3pZ8"

// apiResponse is a decoded API response.
type apiResponse struct {
	Status     int
	Header     http.Header
	Body       string
	Success    bool       `json:"success"`
	Errors     []apiError `json:"errors"`
	Messages   []any      `json:"messages"`
	Result     json.RawMessage
	ResultInfo *resultInfo `json:"result_info"`
}

func (a apiResponse) code() int {
	if len(a.Errors) == 0 {
		return -1
	}
	return a.Errors[0].Code
}

func newTestServer(t *testing.T) *Server {
	t.Helper()
	s := New()
	t.Cleanup(s.Close)
	s.AddToken(testToken, AllAccess)
	return s
}

// call sends a request for path below /client/v4 through the server's
// transport, with token unless it is empty.
func call(t *testing.T, s *Server, method, path, token, body string) apiResponse {
	t.Helper()
	var reader io.Reader
	if body != "" {
		reader = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, "https://"+APIHost+pathPrefix+path, reader)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}

	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}

	a := apiResponse{Status: resp.StatusCode, Header: resp.Header, Body: string(data)}
	var raw struct {
		Success    bool            `json:"success"`
		Errors     []apiError      `json:"errors"`
		Messages   []any           `json:"messages"`
		Result     json.RawMessage `json:"result"`
		ResultInfo *resultInfo     `json:"result_info"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatalf("%s %s: response is not JSON: %v\n%s", method, path, err, data)
	}
	if raw.Errors == nil || raw.Messages == nil {
		t.Errorf("%s %s: response lacks errors or messages list: %s", method, path, data)
	}
	a.Success, a.Errors, a.Messages, a.Result, a.ResultInfo = raw.Success, raw.Errors, raw.Messages, raw.Result, raw.ResultInfo
	return a
}

func TestZoneListPaging(t *testing.T) {
	s := newTestServer(t)
	for i := range 150 {
		s.AddZone(fmt.Sprintf("a%03d.test", i))
	}
	s.AddZone("Example.Test.")

	var names []string
	for page := 1; page <= 4; page++ {
		a := call(t, s, "GET", fmt.Sprintf("/zones?page=%d&per_page=500", page), testToken, "")
		if a.Status != 200 || !a.Success {
			t.Fatalf("page %d: status %d, success %v", page, a.Status, a.Success)
		}
		info := a.ResultInfo
		if info == nil {
			t.Fatalf("page %d: no result_info", page)
		}
		if info.PerPage != 50 || info.TotalCount != 151 || info.TotalPages != 4 || info.Page != page {
			t.Errorf("page %d: result_info = %+v, want per_page 50, total_count 151, total_pages 4", page, *info)
		}
		var zones []struct{ ID, Name string }
		if err := json.Unmarshal(a.Result, &zones); err != nil {
			t.Fatal(err)
		}
		if info.Count != len(zones) {
			t.Errorf("page %d: count %d, but %d zones", page, info.Count, len(zones))
		}
		for _, z := range zones {
			names = append(names, z.Name)
		}
	}
	if len(names) != 151 {
		t.Fatalf("listed %d zones, want 151", len(names))
	}
	if !slices.IsSorted(names) {
		t.Error("zones are not sorted by name")
	}
	if names[150] != "example.test" {
		t.Errorf("last zone = %q, want example.test", names[150])
	}
}

func TestZoneListDefaultPageSize(t *testing.T) {
	s := newTestServer(t)
	for i := range 30 {
		s.AddZone(fmt.Sprintf("z%02d.test", i))
	}
	a := call(t, s, "GET", "/zones", testToken, "")
	if a.ResultInfo == nil || a.ResultInfo.PerPage != 20 || a.ResultInfo.Count != 20 {
		t.Errorf("result_info = %+v, want per_page and count 20", a.ResultInfo)
	}
}

func TestZoneLookupByName(t *testing.T) {
	s := newTestServer(t)
	id := s.AddZone("example.test")
	s.AddZone("other.test")

	a := call(t, s, "GET", "/zones?name=EXAMPLE.test", testToken, "")
	var zones []struct{ ID, Name string }
	if err := json.Unmarshal(a.Result, &zones); err != nil {
		t.Fatal(err)
	}
	if len(zones) != 1 || zones[0].ID != id || zones[0].Name != "example.test" {
		t.Errorf("zones = %+v, want example.test with ID %s", zones, id)
	}

	a = call(t, s, "GET", "/zones?name=missing.test", testToken, "")
	if a.Status != 200 || string(a.Result) != "[]" {
		t.Errorf("lookup of a missing zone: status %d, result %s; want 200 and []", a.Status, a.Result)
	}

	a = call(t, s, "GET", "/zones/"+id, testToken, "")
	if a.Status != 200 || !strings.Contains(string(a.Result), `"name":"example.test"`) {
		t.Errorf("zone details: status %d, result %s", a.Status, a.Result)
	}
	a = call(t, s, "GET", "/zones/0123456789abcdef0123456789abcdef", testToken, "")
	if a.Status != 400 || a.code() != CodeInvalidObjectID {
		t.Errorf("unknown zone ID: status %d, code %d; want 400 and %d", a.Status, a.code(), CodeInvalidObjectID)
	}
}

func TestAuthentication(t *testing.T) {
	s := newTestServer(t)
	s.AddZone("example.test")
	const unknown = "unknown-token-Zr8s"
	cases := []struct {
		name   string
		header string
		status int
		code   int
	}{
		{"missing", "", 400, CodeMissingAuth},
		{"not bearer", "Basic " + unknown, 400, CodeInvalidHeaders},
		{"unknown token", "Bearer " + unknown, 403, CodeAuthentication},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), "GET", "https://"+APIHost+pathPrefix+"/zones", nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := s.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("status = %d, want %d", resp.StatusCode, tc.status)
			}
			if !strings.Contains(string(body), fmt.Sprintf(`"code":%d`, tc.code)) {
				t.Errorf("body %s lacks code %d", body, tc.code)
			}
			if strings.Contains(string(body), unknown) {
				t.Errorf("body echoes the token: %s", body)
			}
		})
	}
}

func TestScopedToken(t *testing.T) {
	s := newTestServer(t)
	id := s.AddZone("example.test")
	other := s.AddZone("other.test")
	const scoped = "scoped-token-Pq2"
	s.AddToken(scoped, Token{Zones: []string{id}, ZoneRead: true, DNSEdit: true})

	if a := call(t, s, "GET", "/zones?name=example.test", scoped, ""); a.Status != 200 || !strings.Contains(string(a.Result), id) {
		t.Errorf("own zone by name: status %d, result %s", a.Status, a.Result)
	}
	for _, name := range []string{"other.test", "missing.test"} {
		if a := call(t, s, "GET", "/zones?name="+name, scoped, ""); a.Status != 403 || a.code() != CodeUnauthorized {
			t.Errorf("zone %s by name: status %d, code %d; want 403 and %d", name, a.Status, a.code(), CodeUnauthorized)
		}
	}
	a := call(t, s, "GET", "/zones", scoped, "")
	if a.ResultInfo == nil || a.ResultInfo.TotalCount != 1 {
		t.Errorf("zone list of a scoped token: %s, want only its zone", a.Body)
	}
	for _, path := range []string{"/zones/" + other, "/zones/" + other + "/dns_records"} {
		if a := call(t, s, "GET", path, scoped, ""); a.Status != 403 {
			t.Errorf("GET %s: status %d, want 403", path, a.Status)
		}
	}
	body := `{"type":"TXT","name":"_acme-challenge","content":"\"v\"","ttl":60}`
	if a := call(t, s, "POST", "/zones/"+other+"/dns_records", scoped, body); a.Status != 403 {
		t.Errorf("create in other zone: status %d, want 403", a.Status)
	}
	if a := call(t, s, "POST", "/zones/"+id+"/dns_records", scoped, body); a.Status != 200 {
		t.Errorf("create in own zone: status %d, want 200: %s", a.Status, a.Body)
	}
}

func TestPermissions(t *testing.T) {
	s := newTestServer(t)
	id := s.AddZone("example.test")
	s.AddToken("read-only", Token{ZoneRead: true, DNSRead: true})
	s.AddToken("dns-only", Token{DNSEdit: true})
	body := `{"type":"TXT","name":"x","content":"\"v\""}`
	if a := call(t, s, "POST", "/zones/"+id+"/dns_records", "read-only", body); a.Status != 403 || a.code() != CodeUnauthorized {
		t.Errorf("create with DNS:Read: status %d, code %d; want 403 and %d", a.Status, a.code(), CodeUnauthorized)
	}
	if a := call(t, s, "GET", "/zones/"+id+"/dns_records", "read-only", ""); a.Status != 200 {
		t.Errorf("list with DNS:Read: status %d, want 200", a.Status)
	}
	if a := call(t, s, "GET", "/zones?name=example.test", "dns-only", ""); a.Status != 403 {
		t.Errorf("zone lookup without Zone:Read: status %d, want 403", a.Status)
	}
	if a := call(t, s, "GET", "/zones/"+id, "dns-only", ""); a.Status != 403 {
		t.Errorf("zone details without Zone:Read: status %d, want 403", a.Status)
	}
	if a := call(t, s, "POST", "/zones/"+id+"/dns_records", "dns-only", body); a.Status != 200 {
		t.Errorf("create with DNS:Edit: status %d, want 200", a.Status)
	}
}

func TestCreateRecord(t *testing.T) {
	s := newTestServer(t)
	id := s.AddZone("example.test")
	a := call(t, s, "POST", "/zones/"+id+"/dns_records", testToken, `{"type":"txt","name":"_ACME-Challenge.WWW","content":"\"Value\"","ttl":60,"proxied":false}`)
	if a.Status != 200 || !a.Success {
		t.Fatalf("create: status %d: %s", a.Status, a.Body)
	}
	var rec struct {
		ID, Name, Type, Content string
		ZoneID                  string `json:"zone_id"`
		TTL                     int
	}
	if err := json.Unmarshal(a.Result, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Name != "_acme-challenge.www.example.test" || rec.Type != "TXT" || rec.Content != `"Value"` || rec.TTL != 60 || rec.ZoneID != id || rec.ID == "" {
		t.Errorf("created record = %+v", rec)
	}

	recs := s.Records("example.test.")
	if len(recs) != 1 || recs[0].Name != "_acme-challenge.www.example.test" || recs[0].Content != `"Value"` || recs[0].Proxied {
		t.Errorf("stored records = %+v", recs)
	}

	for _, tc := range []struct{ name, body string }{
		{"relative", `{"type":"TXT","name":"_acme-challenge.www","content":"\"Value\""}`},
		{"fqdn", `{"type":"TXT","name":"_acme-challenge.www.example.test.","content":"\"Value\""}`},
	} {
		a := call(t, s, "POST", "/zones/"+id+"/dns_records", testToken, tc.body)
		if a.Status != 400 || a.code() != CodeIdenticalRecordExists || a.Errors[0].Message != "An identical record already exists." {
			t.Errorf("%s duplicate: status %d, errors %+v; want 400 and %d", tc.name, a.Status, a.Errors, CodeIdenticalRecordExists)
		}
	}
	s.SetDuplicateCode(CodeRecordExists)
	a = call(t, s, "POST", "/zones/"+id+"/dns_records", testToken, `{"type":"TXT","name":"_acme-challenge.www","content":"\"Value\""}`)
	if a.code() != CodeRecordExists {
		t.Errorf("duplicate with SetDuplicateCode: code %d, want %d", a.code(), CodeRecordExists)
	}
	// Another value, or the same value in another case, is a new record.
	a = call(t, s, "POST", "/zones/"+id+"/dns_records", testToken, `{"type":"TXT","name":"_acme-challenge.www","content":"\"value\""}`)
	if a.Status != 200 {
		t.Errorf("create of a second value: status %d: %s", a.Status, a.Body)
	}
	a = call(t, s, "POST", "/zones/"+id+"/dns_records", testToken, `{"type":"TXT","name":"@","content":"\"v\"","proxied":true}`)
	if a.Status != 400 || a.code() != CodeCannotProxy {
		t.Errorf("proxied TXT: status %d, code %d; want 400 and %d", a.Status, a.code(), CodeCannotProxy)
	}
	if got := len(s.Records("example.test")); got != 2 {
		t.Errorf("zone has %d records, want 2", got)
	}
}

func TestListRecordFilters(t *testing.T) {
	s := newTestServer(t)
	id := s.AddZone("example.test")
	s.AddRecord("example.test", Record{Type: "TXT", Name: "_acme-challenge", Content: `"abc"`})
	s.AddRecord("example.test", Record{Type: "TXT", Name: "_acme-challenge", Content: `"xABCx"`})
	s.AddRecord("example.test", Record{Type: "TXT", Name: "_acme-challenge.www", Content: `"abc"`})
	s.AddRecord("example.test", Record{Type: "A", Name: "_acme-challenge", Content: "192.0.2.1"})

	cases := []struct {
		query string
		want  []string
	}{
		{"type=TXT&name=_acme-challenge.example.test", []string{`"abc"`, `"xABCx"`}},
		{"type=TXT&name=_ACME-challenge.example.test.", []string{`"abc"`, `"xABCx"`}},
		{"type=TXT&name.exact=_acme-challenge.www.example.test", []string{`"abc"`}},
		{"type=TXT&name=_acme-challenge.example.test&content.contains=abc", []string{`"abc"`, `"xABCx"`}},
		{"type=TXT&name=_acme-challenge.example.test&content.exact=%22abc%22", []string{`"abc"`}},
		{"type=TXT&name=_acme-challenge.example.test&content=%22xABCx%22", []string{`"xABCx"`}},
		{"type=A", []string{"192.0.2.1"}},
	}
	for _, tc := range cases {
		a := call(t, s, "GET", "/zones/"+id+"/dns_records?"+tc.query, testToken, "")
		var recs []struct{ Content string }
		if err := json.Unmarshal(a.Result, &recs); err != nil {
			t.Fatalf("%s: %v: %s", tc.query, err, a.Body)
		}
		var got []string
		for _, r := range recs {
			got = append(got, r.Content)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: contents %q, want %q", tc.query, got, tc.want)
		}
	}

	a := call(t, s, "GET", "/zones/"+id+"/dns_records?page=2&per_page=2", testToken, "")
	if info := a.ResultInfo; info == nil || info.Page != 2 || info.PerPage != 5 || info.Count != 0 || info.TotalCount != 4 || info.TotalPages != 1 {
		t.Errorf("paging with per_page below the minimum: result_info %+v", a.ResultInfo)
	}
	a = call(t, s, "GET", "/zones/"+id+"/dns_records?contents=abc", testToken, "")
	if a.Status != 400 || a.code() != CodeFake {
		t.Errorf("unknown filter: status %d, code %d; want 400 and %d", a.Status, a.code(), CodeFake)
	}
}

func TestDeleteRecord(t *testing.T) {
	s := newTestServer(t)
	id := s.AddZone("example.test")
	rid := s.AddRecord("example.test", Record{Type: "TXT", Name: "_acme-challenge", Content: `"v"`})
	keep := s.AddRecord("example.test", Record{Type: "TXT", Name: "_acme-challenge", Content: `"w"`})

	a := call(t, s, "DELETE", "/zones/"+id+"/dns_records/"+rid, testToken, "")
	if a.Status != 200 || !strings.Contains(string(a.Result), rid) {
		t.Errorf("delete: status %d, result %s", a.Status, a.Result)
	}
	a = call(t, s, "DELETE", "/zones/"+id+"/dns_records/"+rid, testToken, "")
	if a.Status != 404 || a.code() != CodeRecordNotFound {
		t.Errorf("second delete: status %d, code %d; want 404 and %d", a.Status, a.code(), CodeRecordNotFound)
	}
	recs := s.Records("example.test")
	if len(recs) != 1 || recs[0].ID != keep {
		t.Errorf("records after delete = %+v, want only %s", recs, keep)
	}
	if a := call(t, s, "GET", "/zones/"+id+"/dns_records/"+keep, testToken, ""); a.Status != 200 {
		t.Errorf("GET of the kept record: status %d", a.Status)
	}
}

func TestUnknownRoute(t *testing.T) {
	s := newTestServer(t)
	id := s.AddZone("example.test")
	for _, tc := range []struct{ method, path string }{
		{"GET", "/user"},
		{"PATCH", "/zones/" + id + "/dns_records/x"},
	} {
		if a := call(t, s, tc.method, tc.path, testToken, ""); a.Status != 404 || a.code() != CodeNoRoute {
			t.Errorf("%s %s: status %d, code %d; want 404 and %d", tc.method, tc.path, a.Status, a.code(), CodeNoRoute)
		}
	}
	if got := s.Requests()["GET unknown"]; got != 1 {
		t.Errorf("unknown GET requests = %d, want 1", got)
	}
}

func TestFaultsRateLimitAndServerErrors(t *testing.T) {
	s := newTestServer(t)
	s.AddZone("example.test")
	s.SetFaults(Faults{RateLimited: 2, RetryAfter: "7", ServerErrors: 1, ServerErrorStatus: 502})

	for i := range 2 {
		a := call(t, s, "GET", "/zones", testToken, "")
		if a.Status != 429 || a.code() != CodeRateLimited || a.Header.Get("Retry-After") != "7" {
			t.Errorf("request %d: status %d, code %d, Retry-After %q; want 429, %d, 7", i, a.Status, a.code(), a.Header.Get("Retry-After"), CodeRateLimited)
		}
	}
	// Faults come before authentication.
	if a := call(t, s, "GET", "/zones", "", ""); a.Status != 502 {
		t.Errorf("third request: status %d, want 502", a.Status)
	}
	if a := call(t, s, "GET", "/zones", testToken, ""); a.Status != 200 {
		t.Errorf("fourth request: status %d, want 200", a.Status)
	}
	if f := s.Faults(); f.RateLimited != 0 || f.ServerErrors != 0 {
		t.Errorf("remaining faults = %+v, want none", f)
	}
	if got := s.Requests()["GET /zones"]; got != 4 {
		t.Errorf("GET /zones count = %d, want 4", got)
	}
	var statuses []int
	for _, r := range s.RequestLog() {
		statuses = append(statuses, r.Status)
	}
	if !slices.Equal(statuses, []int{429, 429, 502, 200}) {
		t.Errorf("logged statuses = %v", statuses)
	}
}

func TestFaultsLostCreate(t *testing.T) {
	s := newTestServer(t)
	id := s.AddZone("example.test")
	body := `{"type":"TXT","name":"_acme-challenge","content":"\"v\""}`

	s.SetFaults(Faults{LostCreates: 1})
	if a := call(t, s, "POST", "/zones/"+id+"/dns_records", testToken, body); a.Status != 504 {
		t.Errorf("lost create: status %d, want 504", a.Status)
	}
	if got := len(s.Records("example.test")); got != 1 {
		t.Errorf("zone has %d records after the lost create, want 1", got)
	}

	s.SetFaults(Faults{LostCreates: 1, DropConnection: true})
	req, err := http.NewRequestWithContext(t.Context(), "POST", "https://"+APIHost+pathPrefix+"/zones/"+id+"/dns_records",
		strings.NewReader(`{"type":"TXT","name":"_acme-challenge","content":"\"w\""}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	if resp, err := s.Client().Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("dropped create: got status %d, want a connection error", resp.StatusCode)
	}
	if got := len(s.Records("example.test")); got != 2 {
		t.Errorf("zone has %d records after the dropped create, want 2", got)
	}
	log := s.RequestLog()
	if last := log[len(log)-1]; last.Status != 0 {
		t.Errorf("dropped create logged with status %d, want 0", last.Status)
	}
}

func TestFaultsLatency(t *testing.T) {
	s := newTestServer(t)
	s.SetFaults(Faults{Latency: 100 * time.Millisecond})
	start := time.Now()
	call(t, s, "GET", "/zones", testToken, "")
	if elapsed := time.Since(start); elapsed < 100*time.Millisecond {
		t.Errorf("request took %v, want at least 100ms", elapsed)
	}
}

func TestTransportRejectsOtherHosts(t *testing.T) {
	s := newTestServer(t)
	for _, u := range []string{"https://example.com/client/v4/zones", "http://" + APIHost + "/client/v4/zones"} {
		req, err := http.NewRequestWithContext(t.Context(), "GET", u, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp, err := s.Client().Do(req); err == nil {
			resp.Body.Close()
			t.Errorf("request for %s succeeded, want an error", u)
		}
	}
	if got := s.TotalRequests(); got != 0 {
		t.Errorf("server received %d requests, want 0", got)
	}
}

func TestAddZoneIDs(t *testing.T) {
	s := newTestServer(t)
	id := s.AddZone("Example.Test.")
	if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
		t.Errorf("zone ID %q is not 32 lower-case hexadecimal digits", id)
	}
	if again := s.AddZone("example.test"); again != id {
		t.Errorf("second AddZone = %q, want %q", again, id)
	}
	if got := s.ZoneID("EXAMPLE.test"); got != id {
		t.Errorf("ZoneID = %q, want %q", got, id)
	}
	if other := New(); other.AddZone("example.test") != id {
		t.Error("zone IDs differ between servers")
		other.Close()
	} else {
		other.Close()
	}
}
