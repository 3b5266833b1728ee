// Package fakecloudflare serves a small part of the Cloudflare v4 API on
// 127.0.0.1 for tests and benchmarks of DNS clients.
//
// It serves the zone list and zone details, and lists, creates and deletes
// DNS records, with the response envelope, paging, filters and error codes
// that Cloudflare documents for these endpoints. Tokens are registered with
// [Server.AddToken] and can be limited to some zones and permissions.
// [Faults] make the server respond 429 or 5xx, lose the response to a create
// or add latency. [Server.Requests] counts the requests by endpoint.
//
// The fake reads only the Authorization header. It never writes a token
// into a response, a log entry or an error.
//
// Clients that have the API's base URL built in, such as
// github.com/libdns/cloudflare, reach the fake through [Server.Transport],
// which sends requests for https://api.cloudflare.com to the fake.
package fakecloudflare

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// APIHost is the host of the real API. [Server.Transport] accepts requests
// for this host only.
const APIHost = "api.cloudflare.com"

// pathPrefix is the path of the v4 API on APIHost.
const pathPrefix = "/client/v4"

// Record is a DNS record as the fake stores it. Name is the fully
// qualified name in lower case without a trailing dot, as Cloudflare
// returns names. Content is stored as the client sent it, so TXT values
// keep the quotes that a client added.
type Record struct {
	ID       string
	ZoneID   string
	Type     string
	Name     string
	Content  string
	TTL      int // seconds; 1 means "automatic"
	Proxied  bool
	Priority int
	Created  time.Time
}

// Token describes what a registered API token may do.
type Token struct {
	// Zones lists the IDs of the zones the token may access. Empty means
	// every zone. Requests for other zones get HTTP 403, and a zone list
	// filtered by the name of a zone outside the list gets HTTP 403 too.
	Zones []string
	// ZoneRead allows listing zones and reading zone details (Zone:Read).
	ZoneRead bool
	// DNSRead allows listing DNS records (DNS:Read).
	DNSRead bool
	// DNSEdit allows listing, creating and deleting DNS records
	// (DNS:Edit).
	DNSEdit bool
}

// AllAccess is a token with every permission on every zone.
var AllAccess = Token{ZoneRead: true, DNSRead: true, DNSEdit: true}

// Request is one request that the fake received. It contains no header,
// so it never contains a token.
type Request struct {
	Method   string
	Endpoint string // the route, such as "POST /zones/{zone_id}/dns_records"
	Path     string // the URL path
	Query    string // the raw query
	Status   int    // 0 when the connection was closed without a response
}

type zone struct {
	id      string
	name    string
	created time.Time
	records []*Record // in creation order
}

// Server is a fake Cloudflare API. Its methods are safe for concurrent use,
// also while it serves requests.
type Server struct {
	srv *httptest.Server
	mux *http.ServeMux

	mu            sync.Mutex
	zones         map[string]*zone // by ID
	tokens        map[string]Token
	faults        Faults
	duplicateCode int
	nextRecord    int
	requests      []Request
}

// New starts a fake API on an ephemeral port of 127.0.0.1. Close it when
// done.
func New() *Server {
	s := &Server{
		zones:         make(map[string]*zone),
		tokens:        make(map[string]Token),
		duplicateCode: CodeIdenticalRecordExists,
	}
	s.mux = s.routes()
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Close shuts the server down and waits for running requests to finish.
func (s *Server) Close() { s.srv.Close() }

// URL returns the base URL of the server, such as http://127.0.0.1:38123.
// The API is under URL + "/client/v4".
func (s *Server) URL() string { return s.srv.URL }

// AddToken registers secret as a valid API token with the given access.
// Registering a secret again replaces its access.
func (s *Server) AddToken(secret string, t Token) {
	t.Zones = slices.Clone(t.Zones)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[secret] = t
}

// AddZone creates the zone name and returns its ID. The name is stored in
// lower case without a trailing dot. Adding an existing zone returns the
// ID it already has. IDs are 32 hexadecimal digits, like Cloudflare's, and
// derived from the name, so they are the same in every run.
func (s *Server) AddZone(name string) string {
	name = canonicalName(name)
	sum := sha256.Sum256([]byte("zone:" + name))
	id := hex.EncodeToString(sum[:16])
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.zones[id]; !ok {
		s.zones[id] = &zone{id: id, name: name, created: time.Now().UTC()}
	}
	return id
}

// ZoneID returns the ID of the zone name, or "" when there is none.
func (s *Server) ZoneID(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if z := s.zoneByName(canonicalName(name)); z != nil {
		return z.id
	}
	return ""
}

// AddRecord stores r in the zone named zoneName, which must exist, and
// returns its ID. A relative r.Name is taken as relative to the zone, as
// the API does, and "@" or "" names the apex. r.ID, r.ZoneID and r.Created
// are set by the fake. AddRecord does not check for duplicates, so tests
// can set up states that the API would reject.
func (s *Server) AddRecord(zoneName string, r Record) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	z := s.zoneByName(canonicalName(zoneName))
	if z == nil {
		panic("fakecloudflare: AddRecord: no zone " + zoneName + "; call AddZone first")
	}
	r.Name = recordName(r.Name, z.name)
	r.Type = strings.ToUpper(r.Type)
	return s.storeLocked(z, r).ID
}

// Records returns a copy of the records of the zone named zoneName in
// creation order, or nil when there is no such zone.
func (s *Server) Records(zoneName string) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	z := s.zoneByName(canonicalName(zoneName))
	if z == nil {
		return nil
	}
	out := make([]Record, 0, len(z.records))
	for _, r := range z.records {
		out = append(out, *r)
	}
	return out
}

// SetDuplicateCode selects the error code of the response to a create that
// duplicates an existing record: [CodeIdenticalRecordExists] (81058, the
// default) or [CodeRecordExists] (81057), which Cloudflare has sent for
// the same condition.
func (s *Server) SetDuplicateCode(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.duplicateCode = code
}

// Requests returns the number of requests received per endpoint, keyed
// like "GET /zones" or "DELETE /zones/{zone_id}/dns_records/{dns_record_id}".
// Requests to unknown routes count under "unknown". Requests that a fault
// responded to are counted too.
func (s *Server) Requests() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	counts := make(map[string]int)
	for _, r := range s.requests {
		counts[r.Method+" "+r.Endpoint]++
	}
	return counts
}

// RequestLog returns every request received so far, in order of arrival.
func (s *Server) RequestLog() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// TotalRequests returns the number of requests received so far.
func (s *Server) TotalRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

// ResetRequests clears the request log and the counts.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

func (s *Server) zoneByName(name string) *zone {
	for _, z := range s.zones {
		if z.name == name {
			return z
		}
	}
	return nil
}

// sortedZones returns the zones in name order, the order in which the fake
// lists them.
func (s *Server) sortedZones() []*zone {
	zones := make([]*zone, 0, len(s.zones))
	for _, z := range s.zones {
		zones = append(zones, z)
	}
	slices.SortFunc(zones, func(a, b *zone) int { return strings.Compare(a.name, b.name) })
	return zones
}

func (s *Server) storeLocked(z *zone, r Record) *Record {
	s.nextRecord++
	sum := sha256.Sum256([]byte(z.id + ":" + strconv.Itoa(s.nextRecord)))
	r.ID = hex.EncodeToString(sum[:16])
	r.ZoneID = z.id
	r.Created = time.Now().UTC()
	if r.TTL == 0 {
		r.TTL = 1
	}
	stored := &r
	z.records = append(z.records, stored)
	return stored
}

// canonicalName returns name in lower case without a trailing dot.
func canonicalName(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, "."))
}

// recordName turns a record name sent by a client into the stored form,
// as the API does: "@" and "" name the apex, a name that ends in the zone
// name is taken as fully qualified, and any other name is relative to the
// zone.
func recordName(name, zoneName string) string {
	name = canonicalName(name)
	switch {
	case name == "" || name == "@" || name == zoneName:
		return zoneName
	case strings.HasSuffix(name, "."+zoneName):
		return name
	default:
		return name + "." + zoneName
	}
}
