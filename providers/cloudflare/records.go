package cloudflare

import (
	"fmt"
	"strings"

	"github.com/libdns/libdns"
)

// canonicalName returns name in lower case without a trailing dot, the
// form in which the API returns names.
func canonicalName(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, "."))
}

// canonicalZone checks a zone or domain name and returns its canonical
// form.
func canonicalZone(zone string) (string, error) {
	name := canonicalName(zone)
	if name == "" || strings.HasPrefix(name, ".") || strings.Contains(name, "..") || strings.ContainsAny(name, " \t\r\n/") {
		return "", fmt.Errorf("cloudflare: invalid zone name %q; give a domain name such as example.com", zone)
	}
	return name, nil
}

// txtRecords checks that every record is a TXT record and returns them
// with names relative to zone, in lower case, as libdns/cloudflare needs
// them: it sends the name as given when creating, and appends the zone
// name to it when searching.
func txtRecords(records []libdns.Record, zone string) ([]libdns.TXT, error) {
	out := make([]libdns.TXT, 0, len(records))
	for _, rec := range records {
		rr := rec.RR()
		parsed, err := rr.Parse()
		if err != nil {
			return nil, fmt.Errorf("cloudflare: record %q of type %s: %w", rr.Name, rr.Type, err)
		}
		txt, ok := parsed.(libdns.TXT)
		if !ok {
			return nil, fmt.Errorf("cloudflare: record %q has type %s; this provider adds and deletes TXT records only", rr.Name, rr.Type)
		}
		if txt.Text == "" {
			return nil, fmt.Errorf("cloudflare: TXT record %q has an empty value; Cloudflare rejects empty content", rr.Name)
		}
		name, err := relativeName(txt.Name, zone)
		if err != nil {
			return nil, err
		}
		txt.Name = name
		out = append(out, txt)
	}
	return out, nil
}

// relativeName returns name relative to zone in lower case, "@" for the
// apex. A name with a trailing dot is fully qualified and must be inside
// zone. A name without one is relative, as in libdns, but must not end in
// the zone name: the API would read such a name as fully qualified and
// create a record other than the one meant.
func relativeName(name, zone string) (string, error) {
	lower := strings.ToLower(name)
	if lower == "" || lower == "@" {
		return "@", nil
	}
	if fqdn, ok := strings.CutSuffix(lower, "."); ok {
		if fqdn == zone {
			return "@", nil
		}
		rel, inside := strings.CutSuffix(fqdn, "."+zone)
		if !inside || rel == "" {
			return "", fmt.Errorf("cloudflare: record name %q is not inside zone %s; give a name relative to the zone, or a fully qualified name that ends in the zone", name, zone)
		}
		lower = rel
	} else if lower == zone || strings.HasSuffix(lower, "."+zone) {
		return "", fmt.Errorf("cloudflare: relative record name %q ends in the zone name %s, which Cloudflare would read as a fully qualified name; add a trailing dot if the name is fully qualified", name, zone)
	}
	if strings.HasPrefix(lower, ".") || strings.Contains(lower, "..") || strings.ContainsAny(lower, " \t\r\n/") {
		return "", fmt.Errorf("cloudflare: invalid record name %q; labels must be non-empty and contain no spaces", name)
	}
	return lower, nil
}
