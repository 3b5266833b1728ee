package providers

import (
	"context"
	"strings"
	"testing"

	"github.com/dnscert/dnscert/providers/conformance"
)

func TestCloudflareConformance(t *testing.T) {
	setup := newCloudflareSetup(t, nil)
	conformance.Run(t, conformance.Harness{
		Provider: setup.provider,
		Zone:     "example.test.",
		Read: func(_ context.Context, name string) ([]string, error) {
			var out []string
			for _, r := range setup.fake.Records("example.test") {
				if r.Type == "TXT" && r.Name+"." == name {
					out = append(out, strings.Trim(r.Content, `"`))
				}
			}
			return out, nil
		},
	})
}
