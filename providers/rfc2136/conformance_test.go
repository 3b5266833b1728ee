package rfc2136_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/dnscert/dnscert/internal/dnstest"
	"github.com/dnscert/dnscert/providers/conformance"
	"github.com/dnscert/dnscert/providers/rfc2136"
	"github.com/miekg/dns"
)

const conformanceZone = `$TTL 3600
@    IN SOA ns1 hostmaster 1 3600 600 86400 60
@    IN NS  ns1
ns1  IN A   127.0.0.1
`

// TestConformance runs the provider suite against the dnstest server,
// with updates signed by a TSIG key that the server requires.
func TestConformance(t *testing.T) {
	const keyName = "dnscert-conformance."
	secret := base64.StdEncoding.EncodeToString([]byte("conformance-secret-of-32-bytes!!"))

	srv, err := dnstest.NewServer("127.0.0.1:0")
	if err != nil {
		t.Fatalf("start DNS server: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("stop DNS server: %v", err)
		}
	})
	if err := srv.AddZone("example.test.", conformanceZone); err != nil {
		t.Fatalf("add zone: %v", err)
	}
	if err := srv.RequireTSIG(keyName, "hmac-sha256", secret); err != nil {
		t.Fatalf("require TSIG: %v", err)
	}

	p := &rfc2136.Provider{
		Nameserver:    srv.Addr(),
		TSIGKey:       keyName,
		TSIGSecret:    secret,
		TSIGAlgorithm: "hmac-sha256",
		Timeout:       10 * time.Second,
	}
	conformance.Run(t, conformance.Harness{
		Provider: p,
		Zone:     "example.test.",
		Read: func(_ context.Context, name string) ([]string, error) {
			var values []string
			for _, rr := range srv.Lookup(name, dns.TypeTXT) {
				// The suite's values are base64url, which has no
				// characters that miekg/dns escapes.
				values = append(values, strings.Join(rr.(*dns.TXT).Txt, ""))
			}
			return values, nil
		},
	})
}
