package fakecloudflare

import (
	"fmt"
	"net/http"
	"net/url"
)

// Transport returns an http.RoundTripper that sends each request for
// https://api.cloudflare.com to the fake, keeping the path and query, so
// clients with the real base URL built in talk to the fake. It rejects
// requests for any other scheme or host, which also makes a test fail when
// a client sends its requests somewhere else.
func (s *Server) Transport() http.RoundTripper {
	target, err := url.Parse(s.srv.URL)
	if err != nil {
		panic("fakecloudflare: parsing the server URL: " + err.Error())
	}
	return &redirectTransport{target: target, base: s.srv.Client().Transport}
}

// Client returns an http.Client that uses [Server.Transport].
func (s *Server) Client() *http.Client {
	return &http.Client{Transport: s.Transport()}
}

type redirectTransport struct {
	target *url.URL
	base   http.RoundTripper
}

func (t *redirectTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" || req.URL.Host != APIHost {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("fakecloudflare: request for %s://%s; the fake serves only https://%s", req.URL.Scheme, req.URL.Host, APIHost)
	}
	out := req.Clone(req.Context())
	out.URL.Scheme = t.target.Scheme
	out.URL.Host = t.target.Host
	out.Host = ""
	return t.base.RoundTrip(out)
}
