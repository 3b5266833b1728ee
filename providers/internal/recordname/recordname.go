// Package recordname turns libdns record names into absolute names the way
// the providers that run outside an API (exec and manual) need them.
package recordname

import (
	"fmt"
	"strings"

	"github.com/libdns/libdns"
	"github.com/miekg/dns"
)

// Resolve returns the lower-case FQDN of the libdns record name in zone,
// and the name relative to the zone ("@" for the apex).
//
// A name with a trailing dot is absolute and must lie inside the zone. A
// relative name that already ends with the zone at a label boundary
// ("www.example.test" in "example.test.") is taken as absolute, so the
// zone is never appended twice. NOTE: this departs from libdns, where that
// name means "www.example.test.example.test.", and matches the rfc2136
// provider.
func Resolve(name, zone string) (fqdn, relative string, err error) {
	origin, err := CanonicalZone(zone)
	if err != nil {
		return "", "", err
	}
	switch {
	case name == "":
		return "", "", fmt.Errorf("record name is empty; use \"@\" for the apex of zone %q", origin)
	case strings.ContainsAny(name, " \t\r\n\x00"):
		return "", "", fmt.Errorf("invalid record name %q: it contains white space", name)
	case name == "@":
		fqdn = origin
	case dns.IsFqdn(name):
		fqdn = dns.CanonicalName(name)
		if !dns.IsSubDomain(origin, fqdn) {
			return "", "", fmt.Errorf("record name %q is not in zone %q; give it relative to the zone, or choose the zone that contains it", name, origin)
		}
	default:
		fqdn = dns.CanonicalName(name)
		if !dns.IsSubDomain(origin, fqdn) {
			fqdn += origin
		}
	}
	if _, ok := dns.IsDomainName(fqdn); !ok {
		return "", "", fmt.Errorf("invalid record name %q in zone %q: labels must be at most 63 bytes and the name at most 255", name, origin)
	}
	return fqdn, libdns.RelativeName(fqdn, origin), nil
}

// CanonicalZone returns zone as a lower-case FQDN.
func CanonicalZone(zone string) (string, error) {
	if strings.TrimSpace(zone) == "" {
		return "", fmt.Errorf("zone name is empty; give the zone that contains the records, such as \"example.test.\"")
	}
	if _, ok := dns.IsDomainName(zone); !ok || strings.ContainsAny(zone, " \t\r\n\x00") {
		return "", fmt.Errorf("invalid zone name %q; give a domain name such as \"example.test.\"", zone)
	}
	return dns.CanonicalName(zone), nil
}
