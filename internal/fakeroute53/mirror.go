package fakeroute53

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"
)

// TXTRecords returns the TXT values of the hosted zone zoneID by owner
// name, or nil when there is no such zone. Owner names are fully
// qualified, in lower case and with a trailing dot, with Route 53's octal
// escapes decoded, as DNS servers take them. Values are the texts that a
// DNS answer carries, as [Server.TXT] returns them. Weighted and other
// record sets with a set identifier count too.
func (s *Server) TXTRecords(zoneID string) map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	z, ok := s.zones[trimZoneID(zoneID)]
	if !ok {
		return nil
	}
	out := make(map[string][]string)
	for _, rs := range sortedSets(z) {
		if rs.Type != "TXT" {
			continue
		}
		owner, err := unescapeName(rs.Name)
		if err != nil {
			owner = rs.Name
		}
		for _, v := range rs.Values {
			text := v
			if strs, err := parseCharacterStrings(v); err == nil {
				text = strings.Join(strs, "")
			}
			out[owner] = append(out[owner], text)
		}
	}
	return out
}

// Mirror is a reverse proxy in front of a [Server] that reports each
// change request, so that a test can copy the records into DNS servers.
type Mirror struct {
	http *http.Server
	url  string
}

// StartMirror starts a proxy on a free port of 127.0.0.1 that forwards
// every request to s unchanged. After each ChangeResourceRecordSets
// request, accepted or not, it calls mirror with the hosted zone ID and
// only then sends the response on. A test that points
// AWS_ENDPOINT_URL_ROUTE_53 at [Mirror.URL], and whose mirror copies
// [Server.TXTRecords] into DNS servers, therefore finds DNS in step with
// the API whenever a change request returns. Requests still count at s
// as usual. Call [Mirror.Close] to stop the proxy.
func (s *Server) StartMirror(mirror func(zoneID string)) (*Mirror, error) {
	target, err := url.Parse(s.url)
	if err != nil {
		return nil, fmt.Errorf("fakeroute53: parsing the server URL %q: %w", s.url, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fakeroute53: listen on 127.0.0.1 for the mirror: %w", err)
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		ModifyResponse: func(resp *http.Response) error {
			if id, ok := changedZone(resp.Request); ok {
				mirror(id)
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if id, ok := changedZone(r); ok {
				mirror(id)
			}
			http.Error(w, "fakeroute53 mirror: forwarding to the fake failed: "+err.Error(), http.StatusBadGateway)
		},
	}
	m := &Mirror{
		http: &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second},
		url:  "http://" + ln.Addr().String(),
	}
	go m.http.Serve(ln) //nolint:errcheck // Serve returns ErrServerClosed after Close.
	return m, nil
}

// URL returns the base URL of the proxy, such as "http://127.0.0.1:41235".
func (m *Mirror) URL() string { return m.url }

// Close stops the proxy and closes its connections.
func (m *Mirror) Close() error { return m.http.Close() }

// changedZone returns the hosted zone ID of a ChangeResourceRecordSets
// request, whose path is /2013-04-01/hostedzone/{id}/rrset with or
// without a trailing slash.
func changedZone(r *http.Request) (string, bool) {
	if r == nil || r.Method != http.MethodPost {
		return "", false
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/2013-04-01/hostedzone/")
	if !ok {
		return "", false
	}
	id, rest, _ := strings.Cut(rest, "/")
	if id == "" || (rest != "rrset" && rest != "rrset/") {
		return "", false
	}
	return id, true
}
