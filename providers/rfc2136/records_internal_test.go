package rfc2136

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestTXTWireRoundTrip packs TXT records built by splitTXT with miekg/dns
// and unpacks them again, so the escaping is checked against the real
// wire encoder for every byte value.
func TestTXTWireRoundTrip(t *testing.T) {
	var all strings.Builder
	for i := range 256 {
		all.WriteByte(byte(i))
	}
	values := []string{
		"",
		"plain",
		all.String(),
		strings.Repeat(`\`, 300),
		strings.Repeat(`"`, 255) + `\065`,
		strings.Repeat("z", 1000),
	}
	for _, value := range values {
		parts := splitTXT(value)
		m := new(dns.Msg)
		m.SetQuestion("example.test.", dns.TypeTXT)
		m.Answer = []dns.RR{&dns.TXT{
			Hdr: dns.RR_Header{Name: "example.test.", Rrtype: dns.TypeTXT, Class: dns.ClassINET},
			Txt: parts,
		}}
		wire, err := m.Pack()
		if err != nil {
			t.Fatalf("pack %q: %v", value, err)
		}
		var back dns.Msg
		if err := back.Unpack(wire); err != nil {
			t.Fatalf("unpack %q: %v", value, err)
		}
		got := back.Answer[0].(*dns.TXT).Txt
		if len(got) != len(parts) {
			t.Errorf("value of %d bytes: %d strings on the wire, want %d", len(value), len(got), len(parts))
		}
		if want := (len(value) + maxTXTString - 1) / maxTXTString; len(value) > 0 && len(parts) != want {
			t.Errorf("value of %d bytes split into %d strings, want %d", len(value), len(parts), want)
		}
		for i, part := range got {
			if n := len(unescapeTXT(part)); n > maxTXTString {
				t.Errorf("string %d holds %d bytes, more than %d", i, n, maxTXTString)
			}
			if part != parts[i] {
				t.Errorf("string %d after round trip = %q, want %q (escaping differs from miekg/dns)", i, part, parts[i])
			}
		}
		if joined := unescapeTXT(strings.Join(got, "")); joined != value {
			t.Errorf("round trip of %q gave %q", value, joined)
		}
	}
}

func TestParseNameserver(t *testing.T) {
	cases := []struct{ in, want string }{
		{"127.0.0.1", "127.0.0.1:53"},
		{"127.0.0.1:5353", "127.0.0.1:5353"},
		{" ns1.example.test ", "ns1.example.test:53"},
		{"ns1.example.test.:53", "ns1.example.test.:53"},
		{"2001:db8::1", "[2001:db8::1]:53"},
		{"[2001:db8::1]", "[2001:db8::1]:53"},
		{"[2001:db8::1]:5353", "[2001:db8::1]:5353"},
	}
	for _, tc := range cases {
		got, err := parseNameserver(tc.in)
		if err != nil {
			t.Errorf("parseNameserver(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("parseNameserver(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, in := range []string{"", "host:0", "host:port", "a b", "udp://host", "[::1]:99999", "-bad-.test/x"} {
		if got, err := parseNameserver(in); err == nil {
			t.Errorf("parseNameserver(%q) = %q, want an error", in, got)
		}
	}
}

func TestOwnerNameRootZone(t *testing.T) {
	fqdn, rel, err := ownerName("_acme-challenge.example", ".")
	if err != nil {
		t.Fatalf("ownerName: %v", err)
	}
	if fqdn != "_acme-challenge.example." || rel != "_acme-challenge.example" {
		t.Errorf("ownerName = %q, %q; want _acme-challenge.example. and _acme-challenge.example", fqdn, rel)
	}
}
