package rfc2136_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dnscert/dnscert/providers/rfc2136"
	"github.com/libdns/libdns"
	"github.com/miekg/dns"
)

const testKey = "dnscert-test."

var (
	testSecret  = base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	otherSecret = base64.StdEncoding.EncodeToString([]byte("fedcba9876543210fedcba9876543210"))
)

func keyedServer(t *testing.T) *testServer {
	t.Helper()
	return startServer(t, serverConfig{keys: map[string]string{testKey: testSecret}})
}

func newProvider(s *testServer) *rfc2136.Provider {
	return &rfc2136.Provider{
		Nameserver: s.addr,
		TSIGKey:    "dnscert-test",
		TSIGSecret: testSecret,
		Timeout:    5 * time.Second,
	}
}

func txt(name, text string) libdns.TXT {
	return libdns.TXT{Name: name, TTL: 120 * time.Second, Text: text}
}

func challengeName() string { return "_acme-challenge.www." + testZone }

func appendRecords(t *testing.T, p *rfc2136.Provider, recs ...libdns.Record) []libdns.Record {
	t.Helper()
	out, err := p.AppendRecords(context.Background(), testZone, recs)
	if err != nil {
		t.Fatalf("AppendRecords: %v", err)
	}
	return out
}

func deleteRecords(t *testing.T, p *rfc2136.Provider, recs ...libdns.Record) []libdns.Record {
	t.Helper()
	out, err := p.DeleteRecords(context.Background(), testZone, recs)
	if err != nil {
		t.Fatalf("DeleteRecords: %v", err)
	}
	return out
}

// texts returns the TXT values at name as single strings.
func texts(s *testServer, name string) []string {
	var out []string
	for _, parts := range s.txtValues(name) {
		out = append(out, strings.Join(parts, ""))
	}
	return out
}

func sameSet(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	seen := map[string]int{}
	for _, v := range got {
		seen[v]++
	}
	for _, v := range want {
		seen[v]--
		if seen[v] < 0 {
			return false
		}
	}
	return true
}

func TestAppendTwoValuesAtOneName(t *testing.T) {
	s := keyedServer(t)
	p := newProvider(s)

	out := appendRecords(t, p, txt("_acme-challenge.www", "token-one"), txt("_acme-challenge.www", "token-two"))

	if got, want := texts(s, challengeName()), []string{"token-one", "token-two"}; !sameSet(got, want) {
		t.Errorf("server TXT values = %q, want %q", got, want)
	}
	if len(out) != 2 {
		t.Fatalf("AppendRecords returned %d records, want 2", len(out))
	}
	got, ok := out[0].(libdns.TXT)
	if !ok {
		t.Fatalf("AppendRecords returned %T, want libdns.TXT", out[0])
	}
	if got.Name != "_acme-challenge.www" || got.Text != "token-one" || got.TTL != 120*time.Second {
		t.Errorf("AppendRecords returned %+v, want name _acme-challenge.www, text token-one, TTL 2m", got)
	}
	for _, rr := range s.lookup(challengeName(), dns.TypeTXT) {
		if rr.Header().Ttl != 120 {
			t.Errorf("server TTL = %d, want 120", rr.Header().Ttl)
		}
	}
}

func TestAppendSameValueTwice(t *testing.T) {
	s := keyedServer(t)
	p := newProvider(s)

	appendRecords(t, p, txt("_acme-challenge.www", "token"))
	appendRecords(t, p, txt("_acme-challenge.www", "token"), txt("_acme-challenge.www", "token"))

	if got := texts(s, challengeName()); !sameSet(got, []string{"token"}) {
		t.Errorf("server TXT values = %q, want one copy of \"token\"", got)
	}
}

func TestAppendNeverDeletesRRset(t *testing.T) {
	s := keyedServer(t)
	p := newProvider(s)

	appendRecords(t, p, txt("_acme-challenge.www", "token"))

	for _, m := range s.updateMessages() {
		for _, rr := range m.Ns {
			if rr.Header().Class != dns.ClassINET {
				t.Errorf("update RR %v has class %s, want IN for an addition", rr, dns.Class(rr.Header().Class))
			}
		}
	}
}

func TestDeleteOneValueKeepsOther(t *testing.T) {
	s := keyedServer(t)
	p := newProvider(s)
	appendRecords(t, p, txt("_acme-challenge.www", "keep"), txt("_acme-challenge.www", "drop"))

	out := deleteRecords(t, p, txt("_acme-challenge.www", "drop"))

	if got := texts(s, challengeName()); !sameSet(got, []string{"keep"}) {
		t.Errorf("server TXT values = %q, want only \"keep\"", got)
	}
	if len(out) != 1 {
		t.Fatalf("DeleteRecords returned %d records, want 1", len(out))
	}
	if got, ok := out[0].(libdns.TXT); !ok || got.Text != "drop" || got.Name != "_acme-challenge.www" {
		t.Errorf("DeleteRecords returned %#v, want libdns.TXT _acme-challenge.www \"drop\"", out[0])
	}
}

func TestDeleteAbsentValue(t *testing.T) {
	s := keyedServer(t)
	p := newProvider(s)
	appendRecords(t, p, txt("_acme-challenge.www", "keep"))

	deleteRecords(t, p, txt("_acme-challenge.www", "never-added"), txt("_acme-challenge.nowhere", "x"))

	if got := texts(s, challengeName()); !sameSet(got, []string{"keep"}) {
		t.Errorf("server TXT values = %q, want only \"keep\"", got)
	}
}

func TestDeleteWireForm(t *testing.T) {
	s := keyedServer(t)
	p := newProvider(s)
	appendRecords(t, p, txt("_acme-challenge.www", "token"))

	deleteRecords(t, p, txt("_acme-challenge.www", "token"))

	msgs := s.updateMessages()
	if len(msgs) != 2 {
		t.Fatalf("server received %d updates, want 2", len(msgs))
	}
	m := msgs[1]
	if len(m.Ns) != 1 {
		t.Fatalf("delete update has %d RRs, want 1", len(m.Ns))
	}
	h := m.Ns[0].Header()
	if h.Class != dns.ClassNONE {
		t.Errorf("delete class = %s, want NONE", dns.Class(h.Class))
	}
	if h.Ttl != 0 {
		t.Errorf("delete TTL = %d, want 0", h.Ttl)
	}
	if h.Rrtype != dns.TypeTXT {
		t.Errorf("delete type = %s, want TXT", dns.Type(h.Rrtype))
	}
	if h.Name != challengeName() {
		t.Errorf("delete name = %q, want %q", h.Name, challengeName())
	}
	if got := m.Ns[0].(*dns.TXT).Txt; len(got) != 1 || got[0] != "token" {
		t.Errorf("delete TXT strings = %q, want [\"token\"]", got)
	}
	if m.Opcode != dns.OpcodeUpdate || m.Question[0].Name != testZone || m.Question[0].Qtype != dns.TypeSOA {
		t.Errorf("delete message opcode %d, zone %v; want UPDATE of %s SOA", m.Opcode, m.Question, testZone)
	}
}

func TestDeleteRejectsEmptyValueOrType(t *testing.T) {
	s := keyedServer(t)
	p := newProvider(s)
	appendRecords(t, p, txt("_acme-challenge.www", "keep"))

	cases := []struct {
		name string
		rec  libdns.Record
		want string
	}{
		{"empty TXT value", txt("_acme-challenge.www", ""), "no value"},
		{"empty type", libdns.RR{Name: "_acme-challenge.www", Data: "keep"}, "no type"},
		{"empty address", libdns.Address{Name: "_acme-challenge.www"}, "no value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.DeleteRecords(context.Background(), testZone, []libdns.Record{txt("_acme-challenge.www", "keep"), tc.rec})
			if err == nil {
				t.Fatal("DeleteRecords succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
	if n := len(s.updateMessages()); n != 1 {
		t.Errorf("server received %d updates, want only the first addition", n)
	}
	if got := texts(s, challengeName()); !sameSet(got, []string{"keep"}) {
		t.Errorf("server TXT values = %q, want \"keep\" untouched", got)
	}
}

func TestAppendHundredRecordsOneMessage(t *testing.T) {
	s := keyedServer(t)
	p := newProvider(s)
	var recs []libdns.Record
	var want []string
	for i := range 100 {
		v := fmt.Sprintf("token-%03d-%s", i, strings.Repeat("x", 40))
		recs = append(recs, txt("_acme-challenge.www", v))
		want = append(want, v)
	}

	out := appendRecords(t, p, recs...)

	msgs := s.updateMessages()
	if len(msgs) != 1 {
		t.Fatalf("server received %d UPDATE messages, want exactly 1", len(msgs))
	}
	if len(msgs[0].Ns) != 100 {
		t.Errorf("the update carries %d RRs, want 100", len(msgs[0].Ns))
	}
	if got := texts(s, challengeName()); !sameSet(got, want) {
		t.Errorf("server holds %d TXT values, want the 100 appended", len(got))
	}
	if len(out) != 100 {
		t.Errorf("AppendRecords returned %d records, want 100", len(out))
	}

	// 103 records at 10 per message exercise the TSIG chain of a
	// multi-message zone transfer.
	got, err := p.GetRecords(context.Background(), testZone)
	if err != nil {
		t.Fatalf("GetRecords: %v", err)
	}
	var read []string
	for _, rec := range got {
		if v, ok := rec.(libdns.TXT); ok {
			read = append(read, v.Text)
		}
	}
	if !sameSet(read, want) {
		t.Errorf("GetRecords returned %d TXT values, want the 100 appended", len(read))
	}
}

func TestAppendEmptyListSendsNothing(t *testing.T) {
	s := keyedServer(t)
	out, err := newProvider(s).AppendRecords(context.Background(), testZone, nil)
	if err != nil {
		t.Fatalf("AppendRecords: %v", err)
	}
	if len(out) != 0 {
		t.Errorf("AppendRecords returned %d records, want 0", len(out))
	}
	if n := len(s.updateMessages()); n != 0 {
		t.Errorf("server received %d updates, want 0", n)
	}
}

func TestTSIGAlgorithms(t *testing.T) {
	cases := []struct{ setting, wire string }{
		{"", dns.HmacSHA256},
		{"hmac-sha256", dns.HmacSHA256},
		{"HMAC-SHA512.", dns.HmacSHA512},
		{"hmac-sha384", dns.HmacSHA384},
		{"hmac-sha224", dns.HmacSHA224},
		{"hmac-sha1", dns.HmacSHA1},
	}
	for _, tc := range cases {
		t.Run(tc.wire+tc.setting, func(t *testing.T) {
			s := keyedServer(t)
			p := newProvider(s)
			p.TSIGAlgorithm = tc.setting

			appendRecords(t, p, txt("_acme-challenge.www", "token"))
			if _, err := p.GetRecords(context.Background(), testZone); err != nil {
				t.Fatalf("GetRecords: %v", err)
			}

			if got := texts(s, challengeName()); !sameSet(got, []string{"token"}) {
				t.Errorf("server TXT values = %q, want [\"token\"]", got)
			}
			s.set(func(s *testServer) {
				for _, a := range s.algorithms {
					if a != tc.wire {
						t.Errorf("request signed with %s, want %s", a, tc.wire)
					}
				}
			})
		})
	}
}

func TestWrongSecret(t *testing.T) {
	s := keyedServer(t)
	p := newProvider(s)
	p.TSIGSecret = otherSecret

	_, err := p.AppendRecords(context.Background(), testZone, []libdns.Record{txt("_acme-challenge.www", "token")})

	if err == nil {
		t.Fatal("AppendRecords succeeded with a wrong secret")
	}
	var re *rfc2136.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("error %v is not a *rfc2136.ResponseError", err)
	}
	if re.Rcode != dns.RcodeNotAuth || re.TSIGError != dns.RcodeBadSig {
		t.Errorf("Rcode %d, TSIGError %d; want NOTAUTH (9) and BADSIG (16)", re.Rcode, re.TSIGError)
	}
	for _, want := range []string{"NOTAUTH", "BADSIG", "TSIG secret", testZone, s.addr} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if strings.Contains(err.Error(), otherSecret) || strings.Contains(err.Error(), testSecret) {
		t.Errorf("error %q contains a secret", err)
	}
	if got := texts(s, challengeName()); len(got) != 0 {
		t.Errorf("server applied an update with a bad signature: %q", got)
	}

	if _, err := p.GetRecords(context.Background(), testZone); err == nil || !strings.Contains(err.Error(), "BADSIG") {
		t.Errorf("GetRecords error = %v, want BADSIG", err)
	}
}

func TestUnknownKey(t *testing.T) {
	s := keyedServer(t)
	p := newProvider(s)
	p.TSIGKey = "Unknown-Key"

	_, err := p.AppendRecords(context.Background(), testZone, []libdns.Record{txt("_acme-challenge.www", "token")})

	if err == nil {
		t.Fatal("AppendRecords succeeded with an unknown key")
	}
	var re *rfc2136.ResponseError
	if !errors.As(err, &re) || re.TSIGError != dns.RcodeBadKey {
		t.Fatalf("error %v, want a *rfc2136.ResponseError with TSIG error BADKEY", err)
	}
	for _, want := range []string{"BADKEY", `"unknown-key."`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestRefusedNamesZoneAndServer(t *testing.T) {
	s := keyedServer(t)
	s.set(func(s *testServer) { s.reject = true })
	p := newProvider(s)

	_, err := p.AppendRecords(context.Background(), testZone, []libdns.Record{txt("_acme-challenge.www", "token")})

	if err == nil {
		t.Fatal("AppendRecords succeeded against a refusing server")
	}
	want := fmt.Sprintf("rfc2136: update of zone %q at %s rejected: REFUSED (the TSIG key may lack an update-policy grant for this zone)", testZone, s.addr)
	if err.Error() != want {
		t.Errorf("error = %q\nwant    %q", err, want)
	}

	_, err = p.GetRecords(context.Background(), testZone)
	if err == nil || !strings.Contains(err.Error(), "REFUSED") || !strings.Contains(err.Error(), "allow-transfer") {
		t.Errorf("GetRecords error = %v, want REFUSED with an allow-transfer hint", err)
	}
}

func TestUnsignedRequestToKeyedServer(t *testing.T) {
	s := keyedServer(t)
	p := &rfc2136.Provider{Nameserver: s.addr}

	_, err := p.AppendRecords(context.Background(), testZone, []libdns.Record{txt("_acme-challenge.www", "token")})

	if err == nil || !strings.Contains(err.Error(), "REFUSED") || !strings.Contains(err.Error(), "set a TSIG key") {
		t.Errorf("error = %v, want REFUSED with a hint to set a key", err)
	}
}

func TestUnsignedServerWithoutKey(t *testing.T) {
	s := startServer(t, serverConfig{})
	p := &rfc2136.Provider{Nameserver: s.addr}

	appendRecords(t, p, txt("_acme-challenge.www", "token"))
	recs, err := p.GetRecords(context.Background(), testZone)
	if err != nil {
		t.Fatalf("GetRecords: %v", err)
	}

	if got := texts(s, challengeName()); !sameSet(got, []string{"token"}) {
		t.Errorf("server TXT values = %q, want [\"token\"]", got)
	}
	if msg := s.updateMessages()[0]; msg.IsTsig() != nil {
		t.Error("update is signed although no key is set")
	}
	if len(recs) == 0 {
		t.Error("GetRecords returned no records")
	}
}

func TestUnsignedResponseRejected(t *testing.T) {
	s := keyedServer(t)
	s.set(func(s *testServer) { s.unsigned = true })
	p := newProvider(s)

	_, err := p.AppendRecords(context.Background(), testZone, []libdns.Record{txt("_acme-challenge.www", "token")})
	if err == nil || !strings.Contains(err.Error(), "without a TSIG signature") {
		t.Errorf("AppendRecords error = %v, want a missing-signature error", err)
	}

	_, err = p.GetRecords(context.Background(), testZone)
	if !errors.Is(err, dns.ErrNoSig) {
		t.Errorf("GetRecords error = %v, want dns.ErrNoSig", err)
	}
}

// mismatchedKey verifies requests with one HMAC-SHA256 secret and signs
// responses with another, like a server whose reply was tampered with.
type mismatchedKey struct{ verify, sign []byte }

func (k mismatchedKey) Generate(msg []byte, _ *dns.TSIG) ([]byte, error) {
	h := hmac.New(sha256.New, k.sign)
	h.Write(msg)
	return h.Sum(nil), nil
}

func (k mismatchedKey) Verify(msg []byte, t *dns.TSIG) error {
	h := hmac.New(sha256.New, k.verify)
	h.Write(msg)
	mac, err := hex.DecodeString(t.MAC)
	if err != nil {
		return err
	}
	if !hmac.Equal(h.Sum(nil), mac) {
		return dns.ErrSig
	}
	return nil
}

func TestBadResponseSignature(t *testing.T) {
	right, _ := base64.StdEncoding.DecodeString(testSecret)
	wrong, _ := base64.StdEncoding.DecodeString(otherSecret)
	s := startServer(t, serverConfig{provider: mismatchedKey{verify: right, sign: wrong}})
	p := newProvider(s)

	_, err := p.AppendRecords(context.Background(), testZone, []libdns.Record{txt("_acme-challenge.www", "token")})

	if !errors.Is(err, dns.ErrSig) {
		t.Fatalf("AppendRecords error = %v, want dns.ErrSig", err)
	}
	if !strings.Contains(err.Error(), "failed TSIG verification") {
		t.Errorf("error %q does not explain the TSIG failure", err)
	}
	if _, err := p.GetRecords(context.Background(), testZone); !errors.Is(err, dns.ErrSig) {
		t.Errorf("GetRecords error = %v, want dns.ErrSig", err)
	}
}

func TestRecordNames(t *testing.T) {
	cases := []struct {
		name, zone, record string
		wantFQDN, wantRel  string
	}{
		{"relative", "example.test.", "_acme-challenge.www", "_acme-challenge.www.example.test.", "_acme-challenge.www"},
		{"zone without dot", "example.test", "_acme-challenge.www", "_acme-challenge.www.example.test.", "_acme-challenge.www"},
		{"upper case", "Example.TEST.", "_ACME-Challenge.WWW", "_acme-challenge.www.example.test.", "_acme-challenge.www"},
		{"absolute", "example.test.", "_acme-challenge.www.example.test.", "_acme-challenge.www.example.test.", "_acme-challenge.www"},
		{"absolute upper case", "example.test", "_ACME-challenge.WWW.Example.Test.", "_acme-challenge.www.example.test.", "_acme-challenge.www"},
		{"relative ending in zone", "example.test.", "_acme-challenge.www.example.test", "_acme-challenge.www.example.test.", "_acme-challenge.www"},
		{"apex", "example.test.", "@", "example.test.", "@"},
		{"absolute apex", "example.test.", "EXAMPLE.test.", "example.test.", "@"},
		{"label boundary", "example.test.", "_acme-challenge.myexample.test", "_acme-challenge.myexample.test.example.test.", "_acme-challenge.myexample.test"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := keyedServer(t)
			p := newProvider(s)

			out, err := p.AppendRecords(context.Background(), tc.zone, []libdns.Record{txt(tc.record, "token")})
			if err != nil {
				t.Fatalf("AppendRecords: %v", err)
			}

			msgs := s.updateMessages()
			if len(msgs) != 1 || len(msgs[0].Ns) != 1 {
				t.Fatalf("server received %d updates, want 1 with 1 RR", len(msgs))
			}
			if got := msgs[0].Ns[0].Header().Name; got != tc.wantFQDN {
				t.Errorf("owner name on the wire = %q, want %q", got, tc.wantFQDN)
			}
			if got := msgs[0].Question[0].Name; got != testZone {
				t.Errorf("zone on the wire = %q, want %q", got, testZone)
			}
			if got := out[0].RR().Name; got != tc.wantRel {
				t.Errorf("returned name = %q, want %q", got, tc.wantRel)
			}
		})
	}
}

func TestRecordNamesOutsideZone(t *testing.T) {
	s := keyedServer(t)
	p := newProvider(s)
	for _, name := range []string{"_acme-challenge.other.test.", "_acme-challenge.myexample.test.", "test.", ""} {
		_, err := p.AppendRecords(context.Background(), testZone, []libdns.Record{txt(name, "token")})
		if err == nil {
			t.Errorf("AppendRecords(%q) succeeded, want an error", name)
			continue
		}
		if name != "" && !strings.Contains(err.Error(), "not in zone") {
			t.Errorf("AppendRecords(%q) error %q does not say the name is not in the zone", name, err)
		}
	}
	if n := len(s.updateMessages()); n != 0 {
		t.Errorf("server received %d updates, want 0", n)
	}
}

func TestLongTXTValueSplit(t *testing.T) {
	cases := []struct {
		name    string
		length  int
		wantLen []int
	}{
		{"255 bytes", 255, []int{255}},
		{"256 bytes", 256, []int{255, 1}},
		{"600 bytes", 600, []int{255, 255, 90}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := keyedServer(t)
			p := newProvider(s)
			value := make([]byte, tc.length)
			for i := range value {
				value[i] = 'a' + byte(i%26)
			}

			appendRecords(t, p, txt("_acme-challenge.www", string(value)))

			got := s.txtValues(challengeName())
			if len(got) != 1 {
				t.Fatalf("server holds %d TXT records, want 1", len(got))
			}
			var lens []int
			for _, part := range got[0] {
				lens = append(lens, len(part))
			}
			if fmt.Sprint(lens) != fmt.Sprint(tc.wantLen) {
				t.Errorf("character-string lengths = %v, want %v", lens, tc.wantLen)
			}
			if joined := strings.Join(got[0], ""); joined != string(value) {
				t.Errorf("joined strings differ from the value")
			}

			deleteRecords(t, p, txt("_acme-challenge.www", string(value)))
			if got := s.txtValues(challengeName()); len(got) != 0 {
				t.Errorf("the long value was not deleted: %d records left", len(got))
			}
		})
	}
}

func TestTXTSpecialCharacters(t *testing.T) {
	s := keyedServer(t)
	p := newProvider(s)
	value := "quote \" backslash \\ semicolon ; digits \\065 tab\t del \x7f high \xff"

	appendRecords(t, p, txt("_acme-challenge.www", value))

	// miekg/dns presents '"' and '\' with a backslash and other
	// non-printable bytes as \DDD; this is what arrived on the wire.
	want := `quote \" backslash \\ semicolon ; digits \\065 tab\009 del \127 high \255`
	got := s.txtValues(challengeName())
	if len(got) != 1 || len(got[0]) != 1 || got[0][0] != want {
		t.Fatalf("server TXT = %q, want [[%q]]", got, want)
	}

	recs, err := p.GetRecords(context.Background(), testZone)
	if err != nil {
		t.Fatalf("GetRecords: %v", err)
	}
	found := false
	for _, rec := range recs {
		if v, ok := rec.(libdns.TXT); ok && v.Name == "_acme-challenge.www" {
			found = true
			if v.Text != value {
				t.Errorf("GetRecords text = %q, want %q", v.Text, value)
			}
		}
	}
	if !found {
		t.Error("GetRecords did not return the TXT record")
	}

	deleteRecords(t, p, txt("_acme-challenge.www", value))
	if got := s.txtValues(challengeName()); len(got) != 0 {
		t.Errorf("value with special characters was not deleted: %q", got)
	}
}

func TestGetRecordsRelativeNames(t *testing.T) {
	s := keyedServer(t)
	p := newProvider(s)
	appendRecords(t, p,
		txt("_acme-challenge.www", "token"),
		txt("@", "apex-text"),
		libdns.Address{Name: "host", TTL: time.Minute, IP: netip.MustParseAddr("192.0.2.7")},
	)

	recs, err := p.GetRecords(context.Background(), "EXAMPLE.test")
	if err != nil {
		t.Fatalf("GetRecords: %v", err)
	}

	var soa int
	got := map[string]bool{}
	for _, rec := range recs {
		rr := rec.RR()
		if strings.HasSuffix(rr.Name, ".") || strings.Contains(rr.Name, "example.test") {
			t.Errorf("record name %q is not relative to the zone", rr.Name)
		}
		if rr.Type == "SOA" {
			soa++
		}
		switch v := rec.(type) {
		case libdns.TXT:
			got["TXT "+v.Name+" "+v.Text] = true
		case libdns.Address:
			got["A "+v.Name+" "+v.IP.String()] = true
		case libdns.NS:
			got["NS "+v.Name+" "+v.Target] = true
		}
	}
	for _, want := range []string{
		"TXT _acme-challenge.www token",
		"TXT @ apex-text",
		"A host 192.0.2.7",
		"A ns1 127.0.0.1",
		"NS @ ns1.example.test.",
	} {
		if !got[want] {
			t.Errorf("GetRecords lacks %q; got %v", want, got)
		}
	}
	if soa != 1 {
		t.Errorf("GetRecords returned %d SOA records, want 1", soa)
	}
}

func TestOtherRecordTypes(t *testing.T) {
	s := keyedServer(t)
	p := newProvider(s)

	out := appendRecords(t, p,
		libdns.Address{Name: "host", TTL: time.Minute, IP: netip.MustParseAddr("2001:db8::7")},
		libdns.CAA{Name: "@", TTL: time.Hour, Flags: 0, Tag: "issue", Value: "ca.example.test"},
	)

	if got := s.lookup("host."+testZone, dns.TypeAAAA); len(got) != 1 || got[0].(*dns.AAAA).AAAA.String() != "2001:db8::7" {
		t.Errorf("server AAAA records = %v, want 2001:db8::7", got)
	}
	if got := s.lookup(testZone, dns.TypeCAA); len(got) != 1 || got[0].(*dns.CAA).Value != "ca.example.test" {
		t.Errorf("server CAA records = %v, want issue ca.example.test", got)
	}
	if _, ok := out[0].(libdns.Address); !ok {
		t.Errorf("AppendRecords returned %T for an address, want libdns.Address", out[0])
	}

	deleteRecords(t, p, libdns.Address{Name: "host", IP: netip.MustParseAddr("2001:db8::7")})
	if got := s.lookup("host."+testZone, dns.TypeAAAA); len(got) != 0 {
		t.Errorf("AAAA record not deleted: %v", got)
	}

	for _, bad := range []libdns.Record{
		libdns.RR{Name: "host", Type: "A", Data: "not-an-address"},
		libdns.RR{Name: "host", Type: "NOSUCHTYPE", Data: "x"},
		libdns.RR{Name: "host", Type: "A", Data: "192.0.2.1\nevil 60 IN A 192.0.2.2"},
		libdns.RR{Name: "@", Type: "SOA", Data: "ns1 hostmaster 1 2 3 4 5"},
	} {
		if _, err := p.AppendRecords(context.Background(), testZone, []libdns.Record{bad}); err == nil {
			t.Errorf("AppendRecords(%+v) succeeded, want an error", bad)
		}
	}
	if n := len(s.updateMessages()); n != 2 {
		t.Errorf("server received %d updates, want 2 (invalid records must not be sent)", n)
	}
}

func TestConcurrentAppends(t *testing.T) {
	s := keyedServer(t)
	p := newProvider(s)
	const n = 16

	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := p.AppendRecords(context.Background(), testZone, []libdns.Record{txt("_acme-challenge.www", fmt.Sprintf("token-%d", i))})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)

	for err := range errs {
		if err != nil {
			t.Errorf("AppendRecords: %v", err)
		}
	}
	if got := texts(s, challengeName()); len(got) != n {
		t.Errorf("server holds %d values, want %d", len(got), n)
	}
}

func TestTimeout(t *testing.T) {
	addr := startSilentServer(t)
	p := &rfc2136.Provider{Nameserver: addr, Timeout: 300 * time.Millisecond}

	start := time.Now()
	_, err := p.AppendRecords(context.Background(), testZone, []libdns.Record{txt("_acme-challenge.www", "token")})
	elapsed := time.Since(start)

	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("AppendRecords error = %v, want context.DeadlineExceeded", err)
	}
	if err != nil && !strings.Contains(err.Error(), "timed out") {
		t.Errorf("error %q does not say it timed out", err)
	}
	if elapsed > 3*time.Second {
		t.Errorf("AppendRecords returned after %s, want about 300ms", elapsed)
	}

	start = time.Now()
	_, err = p.GetRecords(context.Background(), testZone)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("GetRecords error = %v, want context.DeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("GetRecords returned after %s, want about 300ms", elapsed)
	}
}

func TestContextDeadlineShorterThanTimeout(t *testing.T) {
	addr := startSilentServer(t)
	p := &rfc2136.Provider{Nameserver: addr, Timeout: time.Minute}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()

	start := time.Now()
	_, err := p.DeleteRecords(ctx, testZone, []libdns.Record{txt("_acme-challenge.www", "token")})

	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("DeleteRecords error = %v, want context.DeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("DeleteRecords returned after %s, want about 200ms", elapsed)
	}
}

func TestContextCancel(t *testing.T) {
	addr := startSilentServer(t)
	p := &rfc2136.Provider{Nameserver: addr, Timeout: time.Minute}
	ctx, cancel := context.WithCancel(context.Background())
	timer := time.AfterFunc(100*time.Millisecond, cancel)
	defer timer.Stop()

	start := time.Now()
	_, err := p.AppendRecords(ctx, testZone, []libdns.Record{txt("_acme-challenge.www", "token")})

	if !errors.Is(err, context.Canceled) {
		t.Errorf("AppendRecords error = %v, want context.Canceled", err)
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("AppendRecords returned after %s, want about 100ms", elapsed)
	}
}

func TestValidate(t *testing.T) {
	const badSecret = "c2VjcmV0-not-base64!"
	valid := func() rfc2136.Provider {
		return rfc2136.Provider{Nameserver: "127.0.0.1", TSIGKey: "dnscert", TSIGSecret: testSecret}
	}
	cases := []struct {
		name   string
		change func(p *rfc2136.Provider)
		fields []string // fields that must be reported, none for a valid provider
		want   string   // text the error must contain
	}{
		{"valid", func(p *rfc2136.Provider) {}, nil, ""},
		{"no key at all", func(p *rfc2136.Provider) { p.TSIGKey, p.TSIGSecret = "", "" }, nil, ""},
		{"host and port", func(p *rfc2136.Provider) { p.Nameserver = "ns1.example.test:5353" }, nil, ""},
		{"bare IPv6", func(p *rfc2136.Provider) { p.Nameserver = "2001:db8::1" }, nil, ""},
		{"bracketed IPv6 and port", func(p *rfc2136.Provider) { p.Nameserver = "[2001:db8::1]:53" }, nil, ""},
		{"algorithm upper case with dot", func(p *rfc2136.Provider) { p.TSIGAlgorithm = "HMAC-SHA512." }, nil, ""},
		{"missing nameserver", func(p *rfc2136.Provider) { p.Nameserver = "" }, []string{"Nameserver"}, "missing"},
		{"port out of range", func(p *rfc2136.Provider) { p.Nameserver = "ns1.example.test:99999" }, []string{"Nameserver"}, "invalid port"},
		{"URL as nameserver", func(p *rfc2136.Provider) { p.Nameserver = "udp://192.0.2.1" }, []string{"Nameserver"}, "URL"},
		{"space in host", func(p *rfc2136.Provider) { p.Nameserver = "ns1 example" }, []string{"Nameserver"}, "invalid host"},
		{"bad base64", func(p *rfc2136.Provider) { p.TSIGSecret = badSecret }, []string{"TSIGSecret"}, "base64"},
		{"empty secret", func(p *rfc2136.Provider) { p.TSIGSecret = "" }, []string{"TSIGSecret"}, "missing"},
		{"secret without key", func(p *rfc2136.Provider) { p.TSIGKey = "" }, []string{"TSIGKey"}, "key name"},
		{"md5", func(p *rfc2136.Provider) { p.TSIGAlgorithm = "hmac-md5.sig-alg.reg.int." }, []string{"TSIGAlgorithm"}, "hmac-sha256"},
		{"unknown algorithm", func(p *rfc2136.Provider) { p.TSIGAlgorithm = "hmac-sha3" }, []string{"TSIGAlgorithm"}, "unknown algorithm"},
		{"invalid key name", func(p *rfc2136.Provider) { p.TSIGKey = "bad..name" }, []string{"TSIGKey"}, "invalid key name"},
		{"negative timeout", func(p *rfc2136.Provider) { p.Timeout = -time.Second }, []string{"Timeout"}, "negative"},
		{"two problems", func(p *rfc2136.Provider) { p.Nameserver, p.TSIGAlgorithm = "", "md5" }, []string{"Nameserver", "TSIGAlgorithm"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := valid()
			tc.change(&p)
			err := p.Validate()
			if len(tc.fields) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate succeeded, want an error")
			}
			got := settingFields(err)
			if fmt.Sprint(got) != fmt.Sprint(tc.fields) {
				t.Errorf("reported fields %v, want %v (error %q)", got, tc.fields, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			for _, secret := range []string{badSecret, testSecret} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q contains the secret", err)
				}
			}
		})
	}
}

// settingFields returns the Field of every *rfc2136.SettingError in err.
func settingFields(err error) []string {
	var fields []string
	var walk func(error)
	walk = func(err error) {
		var se *rfc2136.SettingError
		if errors.As(err, &se) && err == error(se) {
			fields = append(fields, se.Field)
			return
		}
		if joined, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range joined.Unwrap() {
				walk(e)
			}
		}
	}
	walk(err)
	return fields
}

func TestMethodsValidateFirst(t *testing.T) {
	p := &rfc2136.Provider{Nameserver: "127.0.0.1", TSIGKey: "dnscert", TSIGSecret: "***"}
	var se *rfc2136.SettingError
	if _, err := p.AppendRecords(context.Background(), testZone, []libdns.Record{txt("x", "y")}); !errors.As(err, &se) {
		t.Errorf("AppendRecords error = %v, want a *rfc2136.SettingError", err)
	}
	if _, err := p.DeleteRecords(context.Background(), testZone, []libdns.Record{txt("x", "y")}); !errors.As(err, &se) {
		t.Errorf("DeleteRecords error = %v, want a *rfc2136.SettingError", err)
	}
	if _, err := p.GetRecords(context.Background(), testZone); !errors.As(err, &se) {
		t.Errorf("GetRecords error = %v, want a *rfc2136.SettingError", err)
	}
}

func TestInvalidZone(t *testing.T) {
	s := keyedServer(t)
	p := newProvider(s)
	for _, zone := range []string{"", "  ", "bad..zone"} {
		if _, err := p.AppendRecords(context.Background(), zone, []libdns.Record{txt("x", "y")}); err == nil {
			t.Errorf("AppendRecords with zone %q succeeded, want an error", zone)
		}
	}
	if n := len(s.updateMessages()); n != 0 {
		t.Errorf("server received %d updates, want 0", n)
	}
}
