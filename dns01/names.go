package dns01

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// MaxNames is the largest number of names one certificate order may hold.
// Let's Encrypt accepts at most 100 identifiers per order (25 for its
// short-lived profiles), and other public CAs have similar or lower limits.
const MaxNames = 100

// ChallengeLabel is the label prepended to a name to form the owner of its
// dns-01 TXT record (RFC 8555 section 8.4).
const ChallengeLabel = "_acme-challenge"

// NameError reports an invalid requested name. Name is the value as the user
// gave it, so messages point at the exact input.
type NameError struct {
	Name   string
	Reason string
}

func (e *NameError) Error() string {
	if e.Name == "" {
		return "invalid domain name \"\": " + e.Reason
	}
	return fmt.Sprintf("invalid domain name %q: %s", e.Name, e.Reason)
}

// idnaProfile converts U-labels to A-labels with the UTS 46 lookup rules:
// mixed case is folded, and labels with characters outside letters, digits
// and hyphens (such as "_" or spaces) are rejected.
var idnaProfile = idna.New(
	idna.MapForLookup(),
	idna.BidiRule(),
	idna.ValidateLabels(true),
	idna.StrictDomainName(true),
	idna.VerifyDNSLength(true),
)

// NormalizeName returns the canonical form of one requested certificate name:
// lower case, A-labels (IDNA), no trailing dot, with a wildcard only as the
// whole leftmost label. It rejects IP addresses, which DNS-01 cannot validate.
func NormalizeName(name string) (string, error) {
	raw := name
	name = strings.TrimSpace(name)
	if name == "" {
		return "", &NameError{Name: raw, Reason: "the name is empty; give a domain such as example.com or *.example.com"}
	}
	if !utf8.ValidString(name) {
		return "", &NameError{Name: raw, Reason: "the name is not valid UTF-8 text"}
	}
	name = strings.TrimSuffix(name, ".")
	if _, err := netip.ParseAddr(strings.Trim(name, "[]")); err == nil {
		return "", &NameError{Name: raw, Reason: "IP addresses cannot be validated by the dns-01 challenge; request a DNS name instead"}
	}

	wildcard := false
	base := name
	if strings.HasPrefix(name, "*.") {
		wildcard = true
		base = name[2:]
	}
	if len(base) > 253 {
		return "", &NameError{Name: raw, Reason: fmt.Sprintf("the name is %d characters long; a domain name has at most 253", len(base))}
	}
	if slices.Contains(strings.Split(base, "."), "") {
		return "", &NameError{Name: raw, Reason: "the name has an empty label (two dots in a row, or a leading dot)"}
	}
	if strings.Contains(base, "*") {
		return "", &NameError{Name: raw, Reason: "a wildcard is allowed only as the whole leftmost label, as in *.example.com"}
	}

	ascii, err := idnaProfile.ToASCII(base)
	if err != nil {
		return "", &NameError{Name: raw, Reason: describeIDNAError(base, err)}
	}
	ascii = strings.ToLower(ascii)
	// A-labels must decode to valid labels too (RFC 5891 section 5.4), which
	// catches punycode of characters the mapping let through.
	if _, err := idnaProfile.ToASCII(ascii); err != nil {
		return "", &NameError{Name: raw, Reason: describeIDNAError(ascii, err)}
	}
	if !strings.Contains(ascii, ".") {
		return "", &NameError{Name: raw, Reason: "a certificate name needs at least two labels, as in example.com"}
	}
	labels := strings.Split(ascii, ".")
	if tld := labels[len(labels)-1]; strings.Trim(tld, "0123456789") == "" {
		return "", &NameError{Name: raw, Reason: fmt.Sprintf("the top-level label %q is all digits, which no public domain has; check the name", tld)}
	}
	if _, err := netip.ParseAddr(ascii); err == nil {
		return "", &NameError{Name: raw, Reason: "IP addresses cannot be validated by the dns-01 challenge; request a DNS name instead"}
	}
	// The challenge owner adds 16 octets; the whole name must still fit the
	// 253-character limit of a presentation-format domain name.
	if len(ChallengeLabel)+1+len(ascii) > 253 {
		return "", &NameError{Name: raw, Reason: fmt.Sprintf("the name is %d characters long, too long for its %s record (at most %d characters)", len(ascii), ChallengeLabel, 253-len(ChallengeLabel)-1)}
	}
	if wildcard {
		return "*." + ascii, nil
	}
	return ascii, nil
}

func describeIDNAError(name string, err error) string {
	for _, label := range strings.Split(name, ".") {
		switch {
		case label == "":
			return "the name has an empty label (two dots in a row, or a leading dot)"
		case len(label) > 63:
			return fmt.Sprintf("the label %q is %d characters long; a DNS label holds at most 63", label, len(label))
		}
	}
	return fmt.Sprintf("not a valid host name (%v); use letters, digits and hyphens in each label", err)
}

// NormalizeNames normalizes every requested name and checks the set as a
// whole: at least one name, at most MaxNames, and no duplicates once case and
// IDNA forms are folded. All problems are returned together so that a user
// can fix the command line in one go.
func NormalizeNames(names []string) ([]string, error) {
	if len(names) == 0 {
		return nil, errors.New("no domain names given; add at least one -d/--domain")
	}
	var errs []error
	out := make([]string, 0, len(names))
	seen := make(map[string]string, len(names))
	for _, n := range names {
		norm, err := NormalizeName(n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if first, dup := seen[norm]; dup {
			errs = append(errs, &NameError{Name: n, Reason: fmt.Sprintf("duplicate of %q (both are %s); give each name once", first, norm)})
			continue
		}
		seen[norm] = n
		out = append(out, norm)
	}
	if len(names) > MaxNames {
		errs = append(errs, fmt.Errorf("%d domain names given, more than the %d one certificate may hold; split them over several certificates", len(names), MaxNames))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// BaseName returns the name that a wildcard covers ("*.example.com" gives
// "example.com"); other names are returned unchanged. ACME authorizations for
// a wildcard carry this base name (RFC 8555 section 7.1.4).
func BaseName(name string) string {
	return strings.TrimPrefix(name, "*.")
}

// ChallengeName returns the fully qualified owner name of the dns-01 TXT
// record for a certificate name, with a trailing dot.
func ChallengeName(name string) string {
	return ChallengeLabel + "." + BaseName(name) + "."
}
