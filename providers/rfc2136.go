package providers

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/dnscert/dnscert/providers/rfc2136"
)

// rfc2136Vars maps the fields of rfc2136.Provider to the variables that
// set them. The names are those lego uses, so existing configurations
// carry over.
var rfc2136Vars = map[string]string{
	"Nameserver":    "RFC2136_NAMESERVER",
	"TSIGKey":       "RFC2136_TSIG_KEY",
	"TSIGSecret":    "RFC2136_TSIG_SECRET",
	"TSIGAlgorithm": "RFC2136_TSIG_ALGORITHM",
	"Timeout":       "RFC2136_TIMEOUT",
}

func rfc2136Info() Info {
	return Info{
		Name:    "rfc2136",
		Usage:   "dynamic DNS update (RFC 2136) signed with a TSIG key, for BIND, Knot, PowerDNS and other authoritative servers",
		Example: "RFC2136_NAMESERVER=ns1.example.com RFC2136_TSIG_KEY=dnscert RFC2136_TSIG_SECRET_FILE=/run/secrets/dnscert-tsig dnscert issue --dns rfc2136 -d example.com",
		Vars: []Var{
			{
				Name:     "RFC2136_NAMESERVER",
				Required: true,
				Usage:    "the primary nameserver of the zone, as host or host:port (port 53 by default)",
			},
			{
				Name:  "RFC2136_TSIG_KEY",
				Usage: "the TSIG key name as configured on the server (unset to send unsigned updates)",
			},
			{
				Name:   "RFC2136_TSIG_SECRET",
				Secret: true,
				Usage:  "the base64 secret of the TSIG key, as printed by tsig-keygen",
			},
			{
				Name:  "RFC2136_TSIG_ALGORITHM",
				Usage: "the TSIG algorithm: hmac-sha256 (default), hmac-sha224, hmac-sha384, hmac-sha512 or hmac-sha1",
			},
			{
				Name:    "RFC2136_TIMEOUT",
				Aliases: []string{"RFC2136_DNS_TIMEOUT"},
				Usage:   "the time limit of each DNS request, as a Go duration such as 30s or as whole seconds (default 10s)",
			},
		},
		CredentialVars: []string{"RFC2136_TSIG_KEY", "RFC2136_TSIG_SECRET", "RFC2136_TSIG_ALGORITHM"},
		New:            newRFC2136,
	}
}

func newRFC2136(cfg Config) (Provider, error) {
	p := &rfc2136.Provider{Logger: cfg.Logger()}
	for _, setting := range []struct {
		name string
		dst  *string
	}{
		{"RFC2136_NAMESERVER", &p.Nameserver},
		{"RFC2136_TSIG_KEY", &p.TSIGKey},
		{"RFC2136_TSIG_SECRET", &p.TSIGSecret},
		{"RFC2136_TSIG_ALGORITHM", &p.TSIGAlgorithm},
	} {
		value, err := cfg.Get(setting.name)
		if err != nil {
			return nil, err
		}
		*setting.dst = value
	}

	timeout, err := cfg.Get("RFC2136_TIMEOUT")
	if err != nil {
		return nil, err
	}
	if p.Timeout, err = parseSeconds(timeout); err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.setBy("RFC2136_TIMEOUT"), err)
	}

	if err := p.Validate(); err != nil {
		return nil, renameSettingErrors(cfg, err, rfc2136Vars, func(e error) (string, error, bool) {
			var se *rfc2136.SettingError
			if errors.As(e, &se) {
				return se.Field, se.Err, true
			}
			return "", nil, false
		})
	}
	return p, nil
}

// parseSeconds parses a Go duration, or whole seconds as lego writes its
// timeouts. Empty means zero, which the provider replaces by its default.
func parseSeconds(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q; use a Go duration such as 30s, or whole seconds such as 30", s)
	}
	return d, nil
}
