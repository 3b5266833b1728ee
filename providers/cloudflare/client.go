package cloudflare

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// apiBase is the base URL of the Cloudflare v4 API. github.com/libdns/cloudflare
// v0.2.2 has the same URL built in, without a setting to change it.
const (
	apiHost = "api.cloudflare.com"
	apiBase = "https://" + apiHost + "/client/v4"
)

// maxResponseBytes limits the size of an API response that is read.
const maxResponseBytes = 16 << 20

// Message is one entry of the errors list of an API response.
type Message struct {
	Code       int       `json:"code"`
	Message    string    `json:"message"`
	ErrorChain []Message `json:"error_chain,omitempty"`
}

func (m Message) String() string {
	s := fmt.Sprintf("code %d: %s", m.Code, m.Message)
	if len(m.ErrorChain) > 0 {
		chain := make([]string, len(m.ErrorChain))
		for i, c := range m.ErrorChain {
			chain[i] = c.String()
		}
		s += " (" + strings.Join(chain, "; ") + ")"
	}
	return s
}

type resultInfo struct {
	Page       int `json:"page"`
	PerPage    int `json:"per_page"`
	Count      int `json:"count"`
	TotalCount int `json:"total_count"`
	TotalPages int `json:"total_pages"`
}

// envelope is the JSON object in which the API wraps every response.
type envelope struct {
	Success    bool            `json:"success"`
	Errors     []Message       `json:"errors"`
	Result     json.RawMessage `json:"result"`
	ResultInfo *resultInfo     `json:"result_info"`
}

// reply is the result of one API request, after retries.
type reply struct {
	method     string
	path       string
	status     int // 0 when no response arrived
	err        error
	attempts   int
	retryAfter string
	envelope   envelope
}

func (r reply) hasCode(codes ...int) bool {
	for _, m := range r.envelope.Errors {
		for _, c := range codes {
			if m.Code == c {
				return true
			}
		}
	}
	return false
}

// exchange collects the replies to the requests of one operation, which
// libdns/cloudflare makes on the caller's behalf. Its errors are plain
// text, so the codes and status are taken from here instead.
type exchange struct {
	mu      sync.Mutex
	replies []reply
}

type exchangeKey struct{}

func withExchange(ctx context.Context, ex *exchange) context.Context {
	return context.WithValue(ctx, exchangeKey{}, ex)
}

func (ex *exchange) add(r reply) {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	ex.replies = append(ex.replies, r)
}

// last returns the reply to the latest request.
func (ex *exchange) last() (reply, bool) {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	if len(ex.replies) == 0 {
		return reply{}, false
	}
	return ex.replies[len(ex.replies)-1], true
}

// failed returns the first reply that is not a successful response: an
// error status, an envelope with errors, or no response at all.
func (ex *exchange) failed() (reply, bool) {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	for _, r := range ex.replies {
		if r.err != nil || r.status < 200 || r.status > 299 || len(r.envelope.Errors) > 0 {
			return r, true
		}
	}
	return reply{}, false
}

// succeeded reports whether a request with the method got a 2xx response.
func (ex *exchange) succeeded(method string) bool {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	for _, r := range ex.replies {
		if r.method == method && r.status >= 200 && r.status <= 299 {
			return true
		}
	}
	return false
}

// apiClient sends the requests of libdns/cloudflare and of this package.
// It implements the HTTPClient interface of libdns/cloudflare.
type apiClient struct {
	http   *http.Client // with a retryTransport
	zones  *zoneCache
	logger *slog.Logger
}

// Do sends a request of libdns/cloudflare. It serves a zone lookup by
// name from the zone cache when the zone is known, so libdns/cloudflare
// does not repeat the lookup that this package made. It records every
// reply in the exchange of the request's context.
func (c *apiClient) Do(req *http.Request) (*http.Response, error) {
	if resp := c.cachedZoneLookup(req); resp != nil {
		return resp, nil
	}
	r, body := c.send(req)
	if ex, ok := req.Context().Value(exchangeKey{}).(*exchange); ok {
		ex.add(r)
	}
	if r.err != nil {
		return nil, r.err
	}
	return &http.Response{
		Status:        strconv.Itoa(r.status) + " " + http.StatusText(r.status),
		StatusCode:    r.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}, nil
}

// send sends req and reads the whole response. It never returns a header,
// so nothing downstream can log the Authorization header by mistake.
func (c *apiClient) send(req *http.Request) (reply, []byte) {
	start := time.Now()
	var attempts atomic.Int32
	req = req.WithContext(context.WithValue(req.Context(), attemptsKey{}, &attempts))
	r := reply{method: req.Method, path: req.URL.Path}

	resp, err := c.http.Do(req)
	r.attempts = int(attempts.Load())
	if err != nil {
		r.err = err
		c.logger.LogAttrs(req.Context(), slog.LevelDebug, "Cloudflare API request failed",
			slog.String("method", r.method), slog.String("path", r.path), slog.Int("attempts", r.attempts),
			slog.String("error", err.Error()), slog.Duration("took", time.Since(start)))
		return r, nil
	}
	defer resp.Body.Close()

	r.status = resp.StatusCode
	r.retryAfter = resp.Header.Get("Retry-After")
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	switch {
	case err != nil:
		r.err = fmt.Errorf("reading the response to %s %s: %w", req.Method, req.URL.Path, err)
	case len(body) > maxResponseBytes:
		r.err = fmt.Errorf("the response to %s %s exceeds %d bytes", req.Method, req.URL.Path, maxResponseBytes)
	default:
		// A body that is not an envelope, such as the HTML page of a
		// gateway error, leaves the envelope empty; the status remains.
		_ = json.Unmarshal(body, &r.envelope)
	}
	c.logger.LogAttrs(req.Context(), slog.LevelDebug, "Cloudflare API request",
		slog.String("method", r.method), slog.String("path", r.path), slog.Int("status", r.status),
		slog.Int("attempts", r.attempts), slog.Duration("took", time.Since(start)))
	return r, body
}

// get sends a GET request of this package with token and returns the
// reply. The error is set only when no complete response arrived.
func (c *apiClient) get(ctx context.Context, path string, query url.Values, token string) (reply, error) {
	u := apiBase + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	r, _ := c.send(req)
	return r, r.err
}

// cachedZoneLookup returns a response to the zone lookup that
// libdns/cloudflare sends before each operation (GET /zones?name=...), or
// nil when req is not such a lookup or the zone is not cached.
func (c *apiClient) cachedZoneLookup(req *http.Request) *http.Response {
	if req.Method != http.MethodGet || req.URL.Host != apiHost || req.URL.Path != "/client/v4/zones" {
		return nil
	}
	q := req.URL.Query()
	if len(q) != 1 || len(q["name"]) != 1 {
		return nil
	}
	z, ok := c.zones.found(canonicalName(q.Get("name")))
	if !ok {
		return nil
	}
	body, err := json.Marshal(map[string]any{
		"success":     true,
		"errors":      []any{},
		"messages":    []any{},
		"result":      []map[string]string{{"id": z.ID, "name": z.Name}},
		"result_info": resultInfo{Page: 1, PerPage: 20, Count: 1, TotalCount: 1, TotalPages: 1},
	})
	if err != nil {
		return nil
	}
	return &http.Response{
		Status:        "200 OK",
		StatusCode:    http.StatusOK,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}
