package route53

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// maxStringLength is the size limit of one character string in TXT data
// (RFC 1035, section 3.3.14).
const maxStringLength = 255

// normalizeName returns name as this package compares names: lower case,
// fully qualified, with Route 53's \ooo octal escapes and \X escapes
// decoded. Route 53 returns names in lower case and escapes every byte
// other than a-z, 0-9, '-', '_' and '.', so "*" comes back as "\052".
func normalizeName(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '\\' && i+3 < len(name) && isOctalDigit(name[i+1]) && isOctalDigit(name[i+2]) && isOctalDigit(name[i+3]):
			v, _ := strconv.ParseUint(name[i+1:i+4], 8, 8)
			c = byte(v)
			i += 3
		case c == '\\' && i+1 < len(name):
			c = name[i+1]
			i++
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	out := b.String()
	if !strings.HasSuffix(out, ".") {
		out += "."
	}
	return out
}

func isOctalDigit(c byte) bool { return '0' <= c && c <= '7' }

// isSubdomain reports whether the normalized name equals zone or lies
// below it.
func isSubdomain(name, zone string) bool {
	return name == zone || zone == "." || strings.HasSuffix(name, "."+zone)
}

// parentName returns the name one label up, or "" for a single label.
func parentName(name string) string {
	_, parent, ok := strings.Cut(name, ".")
	if !ok || parent == "" {
		return ""
	}
	return parent
}

// isPlainName reports whether the normalized name contains only a-z, 0-9,
// '-', '_' and '.', the bytes Route 53 stores unescaped. Only for such
// names is the sort order of ListResourceRecordSets known exactly.
func isPlainName(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// sortKey returns the key by which ListResourceRecordSets and
// ListHostedZonesByName order names: the labels in reverse order with a
// trailing dot, so "www.example.com." sorts as "com.example.www.". The
// Route 53 API reference documents this order for both operations.
func sortKey(name string) string {
	labels := strings.Split(strings.TrimSuffix(name, "."), ".")
	slices.Reverse(labels)
	return strings.Join(labels, ".") + "."
}

// encodeTXT returns text as a Route 53 TXT value: strings of at most 255
// bytes, each in double quotes and separated by a space. Inside the quotes
// '"' and '\' are escaped with a backslash, and bytes outside printable
// ASCII as \ooo, following "TXT record type" in the Route 53 Developer
// Guide.
func encodeTXT(text string) string {
	var b strings.Builder
	for start := 0; start == 0 || start < len(text); start += maxStringLength {
		if start > 0 {
			b.WriteByte(' ')
		}
		chunk := text[start:min(start+maxStringLength, len(text))]
		b.WriteByte('"')
		for i := 0; i < len(chunk); i++ {
			c := chunk[i]
			switch {
			case c == '"' || c == '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case c < 0x20 || c >= 0x7f:
				fmt.Fprintf(&b, "\\%03o", c)
			default:
				b.WriteByte(c)
			}
		}
		b.WriteByte('"')
	}
	return b.String()
}

// decodeTXT returns the text of a Route 53 TXT value: its character
// strings, quoted or not, concatenated with escapes decoded. It returns
// false for a value it cannot parse, such as one with an unterminated
// quote.
func decodeTXT(value string) (string, bool) {
	var b strings.Builder
	i := 0
	for {
		for i < len(value) && value[i] == ' ' {
			i++
		}
		if i == len(value) {
			return b.String(), true
		}
		quoted := value[i] == '"'
		if quoted {
			i++
		}
		closed := !quoted
		for i < len(value) {
			c := value[i]
			if quoted && c == '"' {
				closed = true
				i++
				break
			}
			if !quoted && c == ' ' {
				break
			}
			if c == '\\' && i+3 < len(value) && isOctalDigit(value[i+1]) && isOctalDigit(value[i+2]) && isOctalDigit(value[i+3]) {
				v, _ := strconv.ParseUint(value[i+1:i+4], 8, 8)
				b.WriteByte(byte(v))
				i += 4
				continue
			}
			if c == '\\' && i+1 < len(value) {
				b.WriteByte(value[i+1])
				i += 2
				continue
			}
			b.WriteByte(c)
			i++
		}
		if !closed {
			return "", false
		}
	}
}
