package execprovider

import "strings"

// strippedNames are credentials of the other dnscert providers. The program
// gets its data as arguments and has no use for them.
var strippedNames = map[string]bool{
	"RFC2136_TSIG_SECRET":   true,
	"AWS_SECRET_ACCESS_KEY": true,
	"AWS_SESSION_TOKEN":     true,
	"AWS_SECURITY_TOKEN":    true, // older name of AWS_SESSION_TOKEN, still read by some AWS tools
}

// IsStripped reports whether the environment variable name is removed from
// the environment of the program. Removed are RFC2136_TSIG_SECRET,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_SECURITY_TOKEN, every name
// starting with CLOUDFLARE_ or CF_ that contains TOKEN or KEY (such as
// CLOUDFLARE_DNS_API_TOKEN and CF_API_KEY), and every name starting with
// DNSCERT_ that contains SECRET, TOKEN, PASSWORD or HMAC (the external
// account binding key). Names ending in _FILE are kept, because their
// values are paths, not secrets. Names are compared without regard to case.
//
// NOTE: the list covers the providers known when it was written. A new
// provider with secret variables under another prefix must add them here.
func IsStripped(name string) bool {
	name = strings.ToUpper(name)
	switch {
	case strings.HasSuffix(name, "_FILE"):
		return false
	case strippedNames[name]:
		return true
	case strings.HasPrefix(name, "CLOUDFLARE_") || strings.HasPrefix(name, "CF_"):
		return containsAny(name, "TOKEN", "KEY")
	case strings.HasPrefix(name, "DNSCERT_"):
		return containsAny(name, "SECRET", "TOKEN", "PASSWORD", "HMAC")
	}
	return false
}

// FilterEnv returns the entries of environ, in "NAME=value" form, without
// those whose name IsStripped reports.
func FilterEnv(environ []string) []string {
	filtered := make([]string, 0, len(environ))
	for _, entry := range environ {
		name, _, _ := strings.Cut(entry, "=")
		if !IsStripped(name) {
			filtered = append(filtered, entry)
		}
	}
	return filtered
}

func containsAny(s string, words ...string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}
