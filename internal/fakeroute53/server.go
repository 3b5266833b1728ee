// Package fakeroute53 is an in-memory Amazon Route 53 API server for tests
// and benchmarks. It speaks the REST/XML protocol of API version
// 2013-04-01 as the AWS SDK for Go v2 sends it, listens on 127.0.0.1 only,
// and covers the operations a DNS-01 client needs:
//
//   - ListHostedZonesByName and ListHostedZones, with paging
//   - GetHostedZone
//   - ListResourceRecordSets, in Route 53's order and with paging
//   - ChangeResourceRecordSets, atomic, with Route 53's CREATE, DELETE and
//     UPSERT rules and its request limits
//   - GetChange, which reports PENDING until a configurable delay passes
//
// It also serves the STS operation AssumeRoleWithWebIdentity, so that the
// SDK's web identity credentials can be tested against it.
//
// Point the SDK at it with AWS_ENDPOINT_URL_ROUTE_53 (and
// AWS_ENDPOINT_URL_STS for web identity) set to [Server.URL]. Requests must
// carry a SigV4 Authorization header whose credential scope names an
// access key registered with [Server.AddCredentials]. The signature itself
// is not verified.
//
// Faults can be injected: errors for the next requests, throttling above a
// request rate, PriorRequestNotComplete while a change is pending,
// AccessDenied for zones outside an allow list, and a hook that runs
// between a client's read and its change. Every request is counted by
// operation.
package fakeroute53

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Operation names, as used by [Server.Count] and [Request.Operation].
const (
	OpListHostedZonesByName     = "ListHostedZonesByName"
	OpListHostedZones           = "ListHostedZones"
	OpGetHostedZone             = "GetHostedZone"
	OpListResourceRecordSets    = "ListResourceRecordSets"
	OpChangeResourceRecordSets  = "ChangeResourceRecordSets"
	OpGetChange                 = "GetChange"
	OpAssumeRoleWithWebIdentity = "AssumeRoleWithWebIdentity"
)

// AccountID is the account that owns every fake resource. It appears in
// the ARNs of AccessDenied messages.
const AccountID = "123456789012"

const (
	route53Namespace = "https://route53.amazonaws.com/doc/2013-04-01/"
	stsNamespace     = "https://sts.amazonaws.com/doc/2011-06-15/"
	maxBodyBytes     = 1 << 20
)

// Server is a fake Route 53 endpoint. Its methods are safe for concurrent
// use.
type Server struct {
	listener net.Listener
	http     *http.Server
	url      string

	mu           sync.Mutex
	zones        map[string]*zone // by ID
	zoneSeq      int
	changes      map[string]*change // by ID
	changeSeq    int
	credentials  map[string]string // access key ID to session token ("" for none)
	identities   map[identityKey]bool
	identitySeq  int
	counts       map[string]int
	requests     []Request
	injected     []injectedError
	rateLimit    int
	recent       []time.Time
	changeDelay  time.Duration
	rejectWhile  bool
	allowChanges map[string]bool // nil allows changes to every zone
	beforeChange func(zoneID string)
}

// Request describes one request the server received.
type Request struct {
	Operation   string
	ZoneID      string // hosted zone ID from the path, without "/hostedzone/"
	AccessKeyID string // from the credential scope, "" when unsigned
	Region      string // signing region from the credential scope
	Service     string // signing service from the credential scope
	Status      int    // HTTP status code of the response
}

type identityKey struct{ roleARN, token string }

type injectedError struct {
	operation     string // "" for any operation
	status        int
	code, message string
}

// Start starts a server on a free port of 127.0.0.1. Call [Server.Close]
// to stop it.
func Start() (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fakeroute53: listen on 127.0.0.1: %w", err)
	}
	s := &Server{
		listener:    ln,
		url:         "http://" + ln.Addr().String(),
		zones:       make(map[string]*zone),
		changes:     make(map[string]*change),
		credentials: make(map[string]string),
		identities:  make(map[identityKey]bool),
		counts:      make(map[string]int),
	}
	s.http = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	go s.http.Serve(ln) //nolint:errcheck // Serve returns ErrServerClosed after Close.
	return s, nil
}

// URL returns the base URL, such as "http://127.0.0.1:41234".
func (s *Server) URL() string { return s.url }

// Close stops the server and closes its connections.
func (s *Server) Close() error {
	return s.http.Close()
}

// AddCredentials registers an access key ID that requests may be signed
// with. A non-empty sessionToken must then also arrive in the
// X-Amz-Security-Token header.
func (s *Server) AddCredentials(accessKeyID, sessionToken string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.credentials[accessKeyID] = sessionToken
}

// AddWebIdentity lets AssumeRoleWithWebIdentity with roleARN and token
// succeed. Each such call issues new temporary credentials, which the
// server then accepts.
func (s *Server) AddWebIdentity(roleARN, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.identities[identityKey{roleARN, token}] = true
}

// Count returns the number of requests received for operation, including
// rejected and failed ones.
func (s *Server) Count(operation string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[operation]
}

// Counts returns the number of requests received per operation.
func (s *Server) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.counts))
	for op, n := range s.counts {
		out[op] = n
	}
	return out
}

// Requests returns every request received since the start or the last
// [Server.ResetCounts], oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// ResetCounts clears the counters and the request log.
func (s *Server) ResetCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts = make(map[string]int)
	s.requests = nil
}

// FailNext makes the next n authenticated requests for operation, or for
// any operation when it is "", fail with the given HTTP status and error
// code before they reach the operation. Faults queue up in call order.
func (s *Server) FailNext(operation string, n, status int, code, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.injected = append(s.injected, injectedError{operation, status, code, message})
	}
}

// ThrottleNext makes the next n authenticated requests fail as Route 53
// throttles: HTTP 400 with code Throttling.
func (s *Server) ThrottleNext(n int) {
	s.FailNext("", n, http.StatusBadRequest, "Throttling", "Rate exceeded")
}

// SetRateLimit throttles every request beyond perSecond requests in the
// trailing second, as Route 53 limits an account to five requests per
// second. Zero turns the limit off.
func (s *Server) SetRateLimit(perSecond int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateLimit = perSecond
	s.recent = nil
}

// SetChangeDelay sets how long a change stays PENDING before GetChange
// reports it INSYNC. The default is zero, so the first GetChange after a
// change reports INSYNC. ChangeResourceRecordSets always returns PENDING.
func (s *Server) SetChangeDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.changeDelay = d
}

// RejectChangesWhilePending makes ChangeResourceRecordSets fail with
// PriorRequestNotComplete while the zone's previous change is PENDING.
func (s *Server) RejectChangesWhilePending(reject bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejectWhile = reject
}

// AllowChanges limits ChangeResourceRecordSets to the listed zone IDs.
// Changes to other zones fail with AccessDenied. Calling it with no IDs
// denies every change, and [Server.AllowAllChanges] lifts the limit.
func (s *Server) AllowChanges(zoneIDs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.allowChanges = make(map[string]bool)
	for _, id := range zoneIDs {
		s.allowChanges[trimZoneID(id)] = true
	}
}

// AllowAllChanges lifts the limit set by [Server.AllowChanges].
func (s *Server) AllowAllChanges() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.allowChanges = nil
}

// SetBeforeChange sets a function that runs before each
// ChangeResourceRecordSets request is validated and applied, after
// authentication and fault injection. It runs without the server's lock,
// so it may call the server's methods, for example to change a record set
// as a concurrent client would. Nil removes the hook.
func (s *Server) SetBeforeChange(hook func(zoneID string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.beforeChange = hook
}

// apiError is an error response in Route 53's XML shape.
type apiError struct {
	status  int
	code    string
	message string
	// messages, when set, are sent in the InvalidChangeBatch document that
	// Route 53 uses for several batch errors at once.
	messages []string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func newError(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

type errorResponse struct {
	XMLName   xml.Name    `xml:"ErrorResponse"`
	Xmlns     string      `xml:"xmlns,attr"`
	Error     errorDetail `xml:"Error"`
	RequestID string      `xml:"RequestId"`
}

type errorDetail struct {
	Type    string `xml:"Type"`
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

type invalidChangeBatchResponse struct {
	XMLName   xml.Name `xml:"InvalidChangeBatch"`
	Xmlns     string   `xml:"xmlns,attr"`
	Messages  []string `xml:"Messages>Message"`
	RequestID string   `xml:"RequestId"`
}

// writeError writes e in the shape the SDK's restxml deserializer reads:
// an ErrorResponse, or an InvalidChangeBatch document for several batch
// errors. STS errors use the STS namespace.
func writeError(w http.ResponseWriter, requestID, namespace string, e *apiError) {
	if len(e.messages) > 1 {
		writeXML(w, e.status, requestID, invalidChangeBatchResponse{
			Xmlns: namespace, Messages: e.messages, RequestID: requestID,
		})
		return
	}
	errType := "Sender"
	if e.status >= 500 {
		errType = "Receiver"
	}
	writeXML(w, e.status, requestID, errorResponse{
		Xmlns:     namespace,
		Error:     errorDetail{Type: errType, Code: e.code, Message: e.message},
		RequestID: requestID,
	})
}

func writeXML(w http.ResponseWriter, status int, requestID string, v any) {
	body, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, "fakeroute53: encoding response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", requestID)
	w.WriteHeader(status)
	w.Write([]byte(xml.Header)) //nolint:errcheck // The client sees a short body.
	w.Write(body)               //nolint:errcheck
}

func newRequestID() string {
	var b [16]byte
	rand.Read(b[:]) //nolint:errcheck // Since Go 1.24 crypto/rand.Read never returns an error.
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// handlerFunc serves one operation and returns the response document or
// an error to send.
type handlerFunc func(r *http.Request, call *Request) (any, *apiError)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern, op string, h handlerFunc) {
		mux.Handle(pattern, s.operation(op, h))
	}
	handle("GET /2013-04-01/hostedzonesbyname", OpListHostedZonesByName, s.listHostedZonesByName)
	handle("GET /2013-04-01/hostedzone", OpListHostedZones, s.listHostedZones)
	handle("GET /2013-04-01/hostedzone/{id}", OpGetHostedZone, s.getHostedZone)
	handle("GET /2013-04-01/hostedzone/{id}/rrset", OpListResourceRecordSets, s.listResourceRecordSets)
	handle("POST /2013-04-01/hostedzone/{id}/rrset", OpChangeResourceRecordSets, s.changeResourceRecordSets)
	handle("POST /2013-04-01/hostedzone/{id}/rrset/", OpChangeResourceRecordSets, s.changeResourceRecordSets)
	handle("GET /2013-04-01/change/{id}", OpGetChange, s.getChange)
	mux.HandleFunc("POST /{$}", s.serveSTS)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, newRequestID(), route53Namespace,
			newError(http.StatusNotFound, "UnknownOperationException", "fakeroute53 does not implement %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// operation wraps h with counting, logging, authentication and fault
// injection, and writes its result.
func (s *Server) operation(op string, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requestID := newRequestID()
		call := &Request{Operation: op, ZoneID: trimZoneID(r.PathValue("id"))}
		if op == OpGetChange {
			call.ZoneID = ""
		}
		status := http.StatusOK
		defer func() {
			call.Status = status
			s.mu.Lock()
			s.requests = append(s.requests, *call)
			s.mu.Unlock()
		}()

		s.mu.Lock()
		s.counts[op]++
		s.mu.Unlock()

		resp, apiErr := s.admit(r, call)
		if apiErr == nil {
			resp, apiErr = h(r, call)
		}
		if apiErr != nil {
			status = apiErr.status
			writeError(w, requestID, route53Namespace, apiErr)
			return
		}
		writeXML(w, status, requestID, resp)
	})
}

// admit checks the signature header and applies injected faults.
func (s *Server) admit(r *http.Request, call *Request) (any, *apiError) {
	if err := s.authenticate(r, call); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, e := range s.injected {
		if e.operation == "" || e.operation == call.Operation {
			s.injected = append(s.injected[:i:i], s.injected[i+1:]...)
			return nil, newError(e.status, e.code, "%s", e.message)
		}
	}
	if s.rateLimit > 0 {
		now := time.Now()
		window := s.recent[:0]
		for _, t := range s.recent {
			if now.Sub(t) < time.Second {
				window = append(window, t)
			}
		}
		s.recent = window
		if len(s.recent) >= s.rateLimit {
			return nil, newError(http.StatusBadRequest, "Throttling", "Rate exceeded")
		}
		s.recent = append(s.recent, now)
	}
	return nil, nil
}

// authenticate requires an "AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/
// SERVICE/aws4_request, ..." header with a registered key and, for
// temporary credentials, the matching X-Amz-Security-Token header.
func (s *Server) authenticate(r *http.Request, call *Request) *apiError {
	auth := r.Header.Get("Authorization")
	scheme, params, ok := strings.Cut(auth, " ")
	if !ok || scheme != "AWS4-HMAC-SHA256" {
		return newError(http.StatusForbidden, "SignatureDoesNotMatch", "the request must be signed with AWS Signature Version 4 (Authorization: AWS4-HMAC-SHA256 ...)")
	}
	var credential string
	for _, field := range strings.Split(params, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(field), "Credential="); ok {
			credential = v
		}
	}
	scope := strings.Split(credential, "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return newError(http.StatusForbidden, "SignatureDoesNotMatch", "the Authorization header has no valid Credential scope: %q", credential)
	}
	call.AccessKeyID, call.Region, call.Service = scope[0], scope[2], scope[3]
	if call.Service != "route53" {
		return newError(http.StatusForbidden, "SignatureDoesNotMatch", "Credential should be scoped to correct service: 'route53'.")
	}

	s.mu.Lock()
	token, known := s.credentials[call.AccessKeyID]
	s.mu.Unlock()
	if !known {
		return newError(http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid.")
	}
	if token != r.Header.Get("X-Amz-Security-Token") {
		return newError(http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid.")
	}
	return nil
}

func trimZoneID(id string) string {
	return strings.TrimPrefix(id, "/hostedzone/")
}
