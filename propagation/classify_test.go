package propagation

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func answer(rcode int, aa bool, rrs ...string) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion("_acme-challenge.example.test.", dns.TypeTXT)
	m.Response = true
	m.Rcode = rcode
	m.Authoritative = aa
	for _, s := range rrs {
		rr, err := dns.NewRR(s)
		if err != nil {
			panic(err)
		}
		m.Answer = append(m.Answer, rr)
	}
	return m
}

func TestClassify(t *testing.T) {
	const name = "_acme-challenge.example.test."
	values := []string{"apex", "wildcard"}
	tests := []struct {
		name  string
		msg   *dns.Msg
		state string
		lame  bool
	}{
		{name: "both served", msg: answer(dns.RcodeSuccess, true, name+` 60 IN TXT "apex"`, name+` 60 IN TXT "wildcard"`), state: ""},
		{name: "split strings joined", msg: answer(dns.RcodeSuccess, true, name+` 60 IN TXT "ap" "ex"`, name+` 60 IN TXT "wildcard"`), state: ""},
		{name: "one missing", msg: answer(dns.RcodeSuccess, true, name+` 60 IN TXT "apex"`), state: "1 of 2 values missing"},
		{name: "other owner ignored", msg: answer(dns.RcodeSuccess, true, `other.example.test. 60 IN TXT "apex"`), state: "no TXT record"},
		{name: "nxdomain", msg: answer(dns.RcodeNameError, true), state: "NXDOMAIN"},
		{name: "refused", msg: answer(dns.RcodeRefused, false), state: "REFUSED", lame: true},
		{name: "servfail", msg: answer(dns.RcodeServerFailure, true), state: "SERVFAIL", lame: true},
		{name: "not authoritative", msg: answer(dns.RcodeSuccess, false, name+` 60 IN TXT "apex"`, name+` 60 IN TXT "wildcard"`), state: "not authoritative", lame: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state, lame := classify(tt.msg, nil, name, values)
			if tt.state == "" && state != "" || !strings.HasPrefix(state, tt.state) {
				t.Errorf("state = %q, want prefix %q", state, tt.state)
			}
			if lame != tt.lame {
				t.Errorf("lame = %v, want %v", lame, tt.lame)
			}
		})
	}
}

// FuzzClassify feeds arbitrary DNS messages to the answer check: it must
// never panic, and must only report "served" when every value is in a TXT
// record of the name in an authoritative NOERROR answer.
func FuzzClassify(f *testing.F) {
	const name = "_acme-challenge.example.test."
	for _, m := range []*dns.Msg{
		answer(dns.RcodeSuccess, true, name+` 60 IN TXT "apex"`),
		answer(dns.RcodeNameError, true),
		answer(dns.RcodeRefused, false),
	} {
		wire, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(wire, "apex")
	}
	f.Fuzz(func(t *testing.T, wire []byte, value string) {
		m := new(dns.Msg)
		if err := m.Unpack(wire); err != nil {
			return
		}
		state, _ := classify(m, nil, name, []string{value})
		if state != "" {
			return
		}
		if m.Rcode != dns.RcodeSuccess || !m.Authoritative {
			t.Fatalf("served with rcode %d, AA=%v", m.Rcode, m.Authoritative)
		}
		for _, rr := range m.Answer {
			if txt, ok := rr.(*dns.TXT); ok && strings.EqualFold(txt.Hdr.Name, name) && strings.Join(txt.Txt, "") == value {
				return
			}
		}
		t.Fatalf("served without a TXT record %q at %s", value, name)
	})
}
