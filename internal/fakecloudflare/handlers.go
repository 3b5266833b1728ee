package fakecloudflare

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Error codes of the Cloudflare v4 API that the fake sends.
const (
	CodeRateLimited           = 971   // "Please wait and consider throttling your request speed"
	CodeAuthentication        = 10000 // "Authentication error", for an unknown token
	CodeInvalidHeaders        = 6003  // "Invalid request headers"
	CodeInvalidAuthHeader     = 6111  // "Invalid format for Authorization header", in error_chain of 6003
	CodeMissingAuth           = 9106  // missing Authorization header
	CodeUnauthorized          = 9109  // "Unauthorized to access requested resource"
	CodeCannotProxy           = 9004  // "This record type cannot be proxied."
	CodeNoRoute               = 7000  // "No route for that URI"
	CodeInvalidObjectID       = 7003  // "Could not route to ..., perhaps your object identifier is invalid?"
	CodeRecordExists          = 81057 // "The record already exists."
	CodeIdenticalRecordExists = 81058 // "An identical record already exists."
	CodeRecordNotFound        = 81044 // "Record does not exist."
	// CodeFake marks responses that are the fake's own, such as a rejected
	// query parameter or an injected server error. Cloudflare does not
	// use it.
	CodeFake = 0
)

// Page sizes of the API: the default, minimum and maximum of per_page.
const (
	zonesPerPageDefault   = 20
	zonesPerPageMax       = 50
	recordsPerPageDefault = 100
	recordsPerPageMax     = 5_000_000
	perPageMin            = 5
)

// maxBody limits the size of a request body.
const maxBody = 1 << 20

type apiError struct {
	Code       int        `json:"code"`
	Message    string     `json:"message"`
	ErrorChain []apiError `json:"error_chain,omitempty"`
}

type resultInfo struct {
	Page       int `json:"page"`
	PerPage    int `json:"per_page"`
	Count      int `json:"count"`
	TotalCount int `json:"total_count"`
	TotalPages int `json:"total_pages"`
}

type envelope struct {
	Success    bool        `json:"success"`
	Errors     []apiError  `json:"errors"`
	Messages   []any       `json:"messages"`
	Result     any         `json:"result"`
	ResultInfo *resultInfo `json:"result_info,omitempty"`
}

type tokenKey struct{}

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+pathPrefix+"/zones", s.listZones)
	mux.HandleFunc("GET "+pathPrefix+"/zones/{zone_id}", s.zoneDetails)
	mux.HandleFunc("GET "+pathPrefix+"/zones/{zone_id}/dns_records", s.listRecords)
	mux.HandleFunc("POST "+pathPrefix+"/zones/{zone_id}/dns_records", s.createRecord)
	mux.HandleFunc("GET "+pathPrefix+"/zones/{zone_id}/dns_records/{dns_record_id}", s.recordDetails)
	mux.HandleFunc("DELETE "+pathPrefix+"/zones/{zone_id}/dns_records/{dns_record_id}", s.deleteRecord)
	return mux
}

// statusWriter records the status of the response in the request log.
type statusWriter struct {
	http.ResponseWriter
	status *int
}

func (w statusWriter) WriteHeader(code int) {
	*w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection.
func (w statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// serve counts the request, applies faults and authentication, and passes
// the request to its route.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	_, pattern := s.mux.Handler(r)
	endpoint := "unknown"
	if _, path, found := strings.Cut(pattern, " "); found {
		endpoint = strings.TrimPrefix(path, pathPrefix)
	}

	s.mu.Lock()
	index := len(s.requests)
	s.requests = append(s.requests, Request{Method: r.Method, Endpoint: endpoint, Path: r.URL.Path, Query: r.URL.RawQuery})
	f, faults := s.takeFaultLocked()
	s.mu.Unlock()

	status := 0
	defer func() {
		s.mu.Lock()
		s.requests[index].Status = status
		s.mu.Unlock()
	}()
	w = statusWriter{ResponseWriter: w, status: &status}

	if faults.Latency > 0 {
		if !sleep(r.Context(), faults.Latency) {
			return
		}
	}

	switch f {
	case faultRateLimit:
		if faults.RetryAfter != "" {
			w.Header().Set("Retry-After", faults.RetryAfter)
		}
		writeError(w, http.StatusTooManyRequests, apiError{Code: CodeRateLimited, Message: "Please wait and consider throttling your request speed"})
		return
	case faultServerError:
		code := faults.ServerErrorStatus
		if code == 0 {
			code = http.StatusInternalServerError
		}
		writeError(w, code, apiError{Code: CodeFake, Message: fmt.Sprintf("Injected fault: HTTP %d", code)})
		return
	}

	token, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	if pattern == "" {
		writeError(w, http.StatusNotFound, apiError{Code: CodeNoRoute, Message: "No route for that URI"})
		return
	}
	s.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tokenKey{}, token)))
}

// authenticate checks the bearer token and writes the error response when
// it is missing, malformed or unknown. No response contains the token.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (Token, bool) {
	header := r.Header.Get("Authorization")
	if header == "" {
		writeError(w, http.StatusBadRequest, apiError{Code: CodeMissingAuth, Message: "Missing X-Auth-Key, X-Auth-Email or Authorization headers"})
		return Token{}, false
	}
	secret, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || secret == "" || strings.ContainsAny(secret, " \t") {
		writeError(w, http.StatusBadRequest, apiError{
			Code:       CodeInvalidHeaders,
			Message:    "Invalid request headers",
			ErrorChain: []apiError{{Code: CodeInvalidAuthHeader, Message: "Invalid format for Authorization header"}},
		})
		return Token{}, false
	}
	s.mu.Lock()
	token, known := s.tokens[secret]
	s.mu.Unlock()
	if !known {
		writeError(w, http.StatusForbidden, apiError{Code: CodeAuthentication, Message: "Authentication error"})
		return Token{}, false
	}
	return token, true
}

func tokenOf(r *http.Request) Token {
	t, _ := r.Context().Value(tokenKey{}).(Token)
	return t
}

func (t Token) allowsZone(id string) bool {
	return len(t.Zones) == 0 || slices.Contains(t.Zones, id)
}

func unauthorized(w http.ResponseWriter) {
	writeError(w, http.StatusForbidden, apiError{Code: CodeUnauthorized, Message: "Unauthorized to access requested resource"})
}

func (s *Server) listZones(w http.ResponseWriter, r *http.Request) {
	q, ok := checkQuery(w, r, "name", "status", "page", "per_page")
	if !ok {
		return
	}
	token := tokenOf(r)
	if !token.ZoneRead {
		unauthorized(w)
		return
	}
	page, perPage, ok := paging(w, q, zonesPerPageDefault, zonesPerPageMax)
	if !ok {
		return
	}

	name := canonicalName(q.Get("name"))
	status := q.Get("status")
	s.mu.Lock()
	var matched []map[string]any
	for _, z := range s.sortedZones() {
		if q.Has("name") && z.name != name {
			continue
		}
		if status != "" && status != "active" {
			continue
		}
		if !token.allowsZone(z.id) {
			continue
		}
		matched = append(matched, zoneJSON(z))
	}
	s.mu.Unlock()

	// A token limited to some zones gets 403, not an empty list, when it
	// requests a zone by a name that is not among them.
	if q.Has("name") && len(token.Zones) > 0 && len(matched) == 0 {
		unauthorized(w)
		return
	}
	writeList(w, matched, page, perPage)
}

// zoneFor returns the zone of the request's {zone_id} after checking that
// the token may access it with the permission given by allowed.
func (s *Server) zoneFor(w http.ResponseWriter, r *http.Request, allowed func(Token) bool) (*zone, bool) {
	id := r.PathValue("zone_id")
	token := tokenOf(r)
	if !token.allowsZone(id) || !allowed(token) {
		unauthorized(w)
		return nil, false
	}
	s.mu.Lock()
	z := s.zones[id]
	s.mu.Unlock()
	if z == nil {
		writeError(w, http.StatusBadRequest, apiError{Code: CodeInvalidObjectID, Message: fmt.Sprintf("Could not route to %s, perhaps your object identifier is invalid?", r.URL.Path)})
		return nil, false
	}
	return z, true
}

func canReadZone(t Token) bool    { return t.ZoneRead }
func canReadRecords(t Token) bool { return t.DNSRead || t.DNSEdit }
func canEditRecords(t Token) bool { return t.DNSEdit }

func (s *Server) zoneDetails(w http.ResponseWriter, r *http.Request) {
	if _, ok := checkQuery(w, r); !ok {
		return
	}
	z, ok := s.zoneFor(w, r, canReadZone)
	if !ok {
		return
	}
	s.mu.Lock()
	result := zoneJSON(z)
	s.mu.Unlock()
	writeResult(w, http.StatusOK, result)
}

func (s *Server) listRecords(w http.ResponseWriter, r *http.Request) {
	q, ok := checkQuery(w, r, "type", "name", "name.exact", "content", "content.exact", "content.contains", "page", "per_page")
	if !ok {
		return
	}
	z, ok := s.zoneFor(w, r, canReadRecords)
	if !ok {
		return
	}
	page, perPage, ok := paging(w, q, recordsPerPageDefault, recordsPerPageMax)
	if !ok {
		return
	}

	s.mu.Lock()
	var matched []map[string]any
	for _, rec := range z.records {
		if recordMatches(rec, q) {
			matched = append(matched, recordJSON(rec, z))
		}
	}
	s.mu.Unlock()
	writeList(w, matched, page, perPage)
}

// recordMatches applies the filters of the record list: names compare
// without regard to case, content compares exactly, and content.contains
// is a substring match without regard to case.
func recordMatches(rec *Record, q url.Values) bool {
	if q.Has("type") && !strings.EqualFold(q.Get("type"), rec.Type) {
		return false
	}
	for _, key := range []string{"name", "name.exact"} {
		if q.Has(key) && canonicalName(q.Get(key)) != rec.Name {
			return false
		}
	}
	for _, key := range []string{"content", "content.exact"} {
		if q.Has(key) && q.Get(key) != rec.Content {
			return false
		}
	}
	if q.Has("content.contains") && !strings.Contains(strings.ToLower(rec.Content), strings.ToLower(q.Get("content.contains"))) {
		return false
	}
	return true
}

func (s *Server) recordDetails(w http.ResponseWriter, r *http.Request) {
	if _, ok := checkQuery(w, r); !ok {
		return
	}
	z, ok := s.zoneFor(w, r, canReadRecords)
	if !ok {
		return
	}
	id := r.PathValue("dns_record_id")
	s.mu.Lock()
	var result map[string]any
	for _, rec := range z.records {
		if rec.ID == id {
			result = recordJSON(rec, z)
		}
	}
	s.mu.Unlock()
	if result == nil {
		writeError(w, http.StatusNotFound, apiError{Code: CodeRecordNotFound, Message: "Record does not exist."})
		return
	}
	writeResult(w, http.StatusOK, result)
}

// createBody is the request body of a record creation. Fields that the
// fake does not store, such as comment and tags, are accepted and ignored.
type createBody struct {
	Type     string `json:"type"`
	Name     string `json:"name"`
	Content  string `json:"content"`
	TTL      int    `json:"ttl"`
	Proxied  bool   `json:"proxied"`
	Priority int    `json:"priority"`
}

func (s *Server) createRecord(w http.ResponseWriter, r *http.Request) {
	if _, ok := checkQuery(w, r); !ok {
		return
	}
	z, ok := s.zoneFor(w, r, canEditRecords)
	if !ok {
		return
	}
	var body createBody
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err == nil {
		err = json.Unmarshal(data, &body)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, apiError{Code: CodeFake, Message: "Request body is not a JSON object: " + err.Error()})
		return
	}
	body.Type = strings.ToUpper(body.Type)
	switch {
	case body.Type == "":
		writeError(w, http.StatusBadRequest, apiError{Code: CodeFake, Message: "DNS record type is missing"})
		return
	case body.Name == "":
		writeError(w, http.StatusBadRequest, apiError{Code: CodeFake, Message: "DNS record name is missing"})
		return
	case body.Content == "":
		writeError(w, http.StatusBadRequest, apiError{Code: CodeFake, Message: "DNS record content is missing"})
		return
	case body.Proxied && body.Type != "A" && body.Type != "AAAA" && body.Type != "CNAME":
		writeError(w, http.StatusBadRequest, apiError{Code: CodeCannotProxy, Message: "This record type cannot be proxied."})
		return
	}

	name := recordName(body.Name, z.name)
	s.mu.Lock()
	for _, rec := range z.records {
		if rec.Name == name && rec.Type == body.Type && rec.Content == body.Content {
			code := s.duplicateCode
			s.mu.Unlock()
			message := "An identical record already exists."
			if code == CodeRecordExists {
				message = "The record already exists."
			}
			writeError(w, http.StatusBadRequest, apiError{Code: code, Message: message})
			return
		}
	}
	stored := s.storeLocked(z, Record{Type: body.Type, Name: name, Content: body.Content, TTL: body.TTL, Proxied: body.Proxied, Priority: body.Priority})
	result := recordJSON(stored, z)
	s.mu.Unlock()

	if lost, drop := s.takeLostCreate(); lost {
		if drop {
			dropConnection(w)
			return
		}
		writeError(w, http.StatusGatewayTimeout, apiError{Code: CodeFake, Message: "Injected fault: the record was created but the response was lost"})
		return
	}
	writeResult(w, http.StatusOK, result)
}

func (s *Server) deleteRecord(w http.ResponseWriter, r *http.Request) {
	if _, ok := checkQuery(w, r); !ok {
		return
	}
	z, ok := s.zoneFor(w, r, canEditRecords)
	if !ok {
		return
	}
	id := r.PathValue("dns_record_id")
	s.mu.Lock()
	found := false
	z.records = slices.DeleteFunc(z.records, func(rec *Record) bool {
		if rec.ID == id {
			found = true
		}
		return rec.ID == id
	})
	s.mu.Unlock()
	if !found {
		writeError(w, http.StatusNotFound, apiError{Code: CodeRecordNotFound, Message: "Record does not exist."})
		return
	}
	writeResult(w, http.StatusOK, map[string]string{"id": id})
}

// dropConnection closes the client's connection without a response. The
// request has been read completely at this point.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// HTTP/2 connections cannot be hijacked; abort the stream instead.
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}

// checkQuery rejects query parameters that the endpoint does not take, so
// a client that sends a misspelled filter fails in tests instead of
// silently getting unfiltered results.
func checkQuery(w http.ResponseWriter, r *http.Request, allowed ...string) (url.Values, bool) {
	q := r.URL.Query()
	for key := range q {
		if !slices.Contains(allowed, key) {
			writeError(w, http.StatusBadRequest, apiError{Code: CodeFake, Message: fmt.Sprintf("fakecloudflare does not support the query parameter %q on this endpoint", key)})
			return nil, false
		}
	}
	return q, true
}

// paging reads page and per_page. Like the API, it raises per_page to the
// minimum and lowers it to the maximum.
func paging(w http.ResponseWriter, q url.Values, defaultPerPage, maxPerPage int) (page, perPage int, ok bool) {
	page, perPage = 1, defaultPerPage
	for key, dst := range map[string]*int{"page": &page, "per_page": &perPage} {
		v, set := q[key]
		if !set {
			continue
		}
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, apiError{Code: CodeFake, Message: fmt.Sprintf("%s must be a positive integer, got %q", key, v[0])})
			return 0, 0, false
		}
		*dst = n
	}
	perPage = min(max(perPage, perPageMin), maxPerPage)
	return page, perPage, true
}

func writeList(w http.ResponseWriter, items []map[string]any, page, perPage int) {
	total := len(items)
	start := min((page-1)*perPage, total)
	end := min(start+perPage, total)
	result := items[start:end]
	if result == nil {
		result = []map[string]any{}
	}
	writeJSON(w, http.StatusOK, envelope{
		Success: true,
		Errors:  []apiError{},
		Result:  result,
		ResultInfo: &resultInfo{
			Page:       page,
			PerPage:    perPage,
			Count:      len(result),
			TotalCount: total,
			TotalPages: (total + perPage - 1) / perPage,
		},
	})
}

func writeResult(w http.ResponseWriter, status int, result any) {
	writeJSON(w, status, envelope{Success: true, Errors: []apiError{}, Result: result})
}

func writeError(w http.ResponseWriter, status int, e apiError) {
	writeJSON(w, status, envelope{Success: false, Errors: []apiError{e}})
}

func writeJSON(w http.ResponseWriter, status int, e envelope) {
	if e.Messages == nil {
		e.Messages = []any{}
	}
	data, err := json.Marshal(e)
	if err != nil {
		panic("fakecloudflare: encoding a response: " + err.Error())
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

func zoneJSON(z *zone) map[string]any {
	created := z.created.Format(time.RFC3339Nano)
	return map[string]any{
		"id":                    z.id,
		"name":                  z.name,
		"status":                "active",
		"paused":                false,
		"type":                  "full",
		"development_mode":      0,
		"name_servers":          []string{"ada.ns.cloudflare.com", "bob.ns.cloudflare.com"},
		"original_name_servers": []string{},
		"created_on":            created,
		"modified_on":           created,
		"activated_on":          created,
		"account":               map[string]string{"id": "0123456789abcdef0123456789abcdef", "name": "fakecloudflare"},
		"permissions":           []string{},
		"plan":                  map[string]any{"id": "0feeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "name": "Free Website", "price": 0, "currency": "USD", "frequency": "", "is_subscribed": false, "can_subscribe": false},
	}
}

func recordJSON(rec *Record, z *zone) map[string]any {
	created := rec.Created.Format(time.RFC3339Nano)
	m := map[string]any{
		"id":          rec.ID,
		"zone_id":     z.id,
		"zone_name":   z.name,
		"name":        rec.Name,
		"type":        rec.Type,
		"content":     rec.Content,
		"proxiable":   rec.Type == "A" || rec.Type == "AAAA" || rec.Type == "CNAME",
		"proxied":     rec.Proxied,
		"ttl":         rec.TTL,
		"settings":    map[string]any{},
		"meta":        map[string]any{"auto_added": false, "source": "primary"},
		"comment":     nil,
		"tags":        []string{},
		"created_on":  created,
		"modified_on": created,
	}
	if rec.Type == "MX" {
		m["priority"] = rec.Priority
	}
	return m
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
