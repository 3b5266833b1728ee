package route53_test

import (
	"context"
	"testing"

	"github.com/dnscert/dnscert/providers/conformance"
	"github.com/dnscert/dnscert/providers/route53"
)

// TestConformance runs the provider suite against the fake Route 53, with
// a foreign value at the fixed challenge name that must survive.
func TestConformance(t *testing.T) {
	srv := startFake(t)
	zoneID := addZone(t, srv, "example.test", false)
	setTXT(t, srv, zoneID, "_acme-challenge.example.test", 300, `"other-system-token"`)

	conformance.Run(t, conformance.Harness{
		Provider: newProvider(t, route53.Options{}),
		Zone:     "example.test.",
		Read: func(_ context.Context, name string) ([]string, error) {
			return srv.TXT(zoneID, name), nil
		},
	})
}
