package fakecloudflare

import (
	"net/http"
	"strings"
)

// TXT returns the TXT values of the zone named zoneName by owner name, or
// nil when there is no such zone. Owner names are fully qualified, in lower
// case and with a trailing dot, as DNS servers take them. Values are the
// texts that a DNS answer carries: content in quotes, as libdns/cloudflare
// sends it, is unquoted, and several quoted strings are joined.
func (s *Server) TXT(zoneName string) map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	z := s.zoneByName(canonicalName(zoneName))
	if z == nil {
		return nil
	}
	out := make(map[string][]string)
	for _, r := range z.records {
		if r.Type != "TXT" {
			continue
		}
		owner := r.Name + "."
		out[owner] = append(out[owner], unquoteTXT(r.Content))
	}
	return out
}

// MirrorTransport returns [Server.Transport] with a hook: after each request
// that can change the records of a zone (any method but GET and HEAD on
// /zones/{zone_id}/dns_records and below), it calls mirror with the name of
// the zone, and only then returns the response to the client. It also calls
// mirror when the request failed, because a create whose response was lost
// still stored its record. A test whose mirror copies [Server.TXT] into DNS
// servers therefore finds DNS in step with the API whenever a client call
// returns. Requests for unknown zone IDs call nothing.
func (s *Server) MirrorTransport(mirror func(zoneName string)) http.RoundTripper {
	return &mirrorTransport{server: s, base: s.Transport(), mirror: mirror}
}

type mirrorTransport struct {
	server *Server
	base   http.RoundTripper
	mirror func(zoneName string)
}

func (t *mirrorTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	zoneName := ""
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		zoneName = t.server.zoneNameOfPath(req.URL.Path)
	}
	resp, err := t.base.RoundTrip(req)
	if zoneName != "" {
		t.mirror(zoneName)
	}
	return resp, err
}

// zoneNameOfPath returns the name of the zone whose records path (below
// /client/v4/zones/{zone_id}/dns_records) names, or "".
func (s *Server) zoneNameOfPath(path string) string {
	rest, ok := strings.CutPrefix(path, pathPrefix+"/zones/")
	if !ok {
		return ""
	}
	id, rest, _ := strings.Cut(rest, "/")
	if rest != "dns_records" && !strings.HasPrefix(rest, "dns_records/") {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if z, ok := s.zones[id]; ok {
		return z.name
	}
	return ""
}

// unquoteTXT returns the text of TXT content. Content that is a sequence of
// quoted strings, such as `"abc"` or `"abc" "def"`, becomes the strings
// joined, with the escapes \" and \\ decoded. Other content is returned as
// it is, as Cloudflare serves unquoted content.
func unquoteTXT(content string) string {
	if !strings.HasPrefix(content, `"`) {
		return content
	}
	var b strings.Builder
	inside := false
	for i := 0; i < len(content); i++ {
		c := content[i]
		switch {
		case c == '"':
			inside = !inside
		case !inside && c == ' ':
		case !inside:
			// Text between quoted strings: not a string sequence.
			return content
		case c == '\\' && i+1 < len(content):
			i++
			b.WriteByte(content[i])
		default:
			b.WriteByte(c)
		}
	}
	if inside {
		return content
	}
	return b.String()
}
