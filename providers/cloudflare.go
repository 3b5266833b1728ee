package providers

import (
	"errors"
	"fmt"

	"github.com/dnscert/dnscert/providers/cloudflare"
)

// cloudflareVars maps the fields of cloudflare.Provider to the variables
// that set them. The names and aliases are those lego uses, so existing
// configurations carry over.
var cloudflareVars = map[string]string{
	"APIToken":  "CLOUDFLARE_DNS_API_TOKEN",
	"ZoneToken": "CLOUDFLARE_ZONE_API_TOKEN",
	"ZoneID":    "CLOUDFLARE_ZONE_ID",
	"Timeout":   "CLOUDFLARE_HTTP_TIMEOUT",
}

func cloudflareInfo() Info {
	return Info{
		Name:    "cloudflare",
		Usage:   "Cloudflare DNS through its v4 API, with a scoped API token",
		Example: "CLOUDFLARE_DNS_API_TOKEN_FILE=/run/secrets/cloudflare-dns-token dnscert issue --dns cloudflare -d example.com",
		Vars: []Var{
			{
				Name:     "CLOUDFLARE_DNS_API_TOKEN",
				Aliases:  []string{"CF_DNS_API_TOKEN"},
				Required: true,
				Secret:   true,
				Usage:    "an API token with the permissions Zone:Read and DNS:Edit on the zones of the certificate (DNS:Edit alone when CLOUDFLARE_ZONE_API_TOKEN or CLOUDFLARE_ZONE_ID is set)",
			},
			{
				Name:    "CLOUDFLARE_ZONE_API_TOKEN",
				Aliases: []string{"CF_ZONE_API_TOKEN"},
				Secret:  true,
				Usage:   "a second API token with Zone:Read, used only to look up zones, for when the DNS token lacks Zone:Read",
			},
			{
				Name:  "CLOUDFLARE_ZONE_ID",
				Usage: "the ID of the one zone that holds every challenge record (32 hexadecimal digits from the zone's Overview page); zones are then not looked up by name, so the DNS token needs only DNS:Edit",
			},
			{
				Name:  "CLOUDFLARE_HTTP_TIMEOUT",
				Usage: "the time limit of each HTTP request attempt, as a Go duration such as 30s or as whole seconds (default 30s); failed attempts are retried",
			},
		},
		CredentialVars: []string{"CLOUDFLARE_DNS_API_TOKEN", "CLOUDFLARE_ZONE_API_TOKEN"},
		New:            newCloudflare,
	}
}

func newCloudflare(cfg Config) (Provider, error) {
	p := &cloudflare.Provider{SettingNames: make(map[string]string), Logger: cfg.Logger()}
	for _, setting := range []struct {
		name string
		dst  *string
	}{
		{"CLOUDFLARE_DNS_API_TOKEN", &p.APIToken},
		{"CLOUDFLARE_ZONE_API_TOKEN", &p.ZoneToken},
		{"CLOUDFLARE_ZONE_ID", &p.ZoneID},
	} {
		value, err := cfg.Get(setting.name)
		if err != nil {
			return nil, err
		}
		*setting.dst = value
	}
	for field, name := range cloudflareVars {
		p.SettingNames[field] = cfg.setBy(name)
	}

	timeout, err := cfg.Get("CLOUDFLARE_HTTP_TIMEOUT")
	if err != nil {
		return nil, err
	}
	if p.Timeout, err = parseSeconds(timeout); err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.setBy("CLOUDFLARE_HTTP_TIMEOUT"), err)
	}

	if err := p.Validate(); err != nil {
		return nil, renameSettingErrors(cfg, err, cloudflareVars, func(e error) (string, error, bool) {
			var se *cloudflare.SettingError
			if errors.As(e, &se) {
				return se.Field, se.Err, true
			}
			return "", nil, false
		})
	}
	return p, nil
}
