package dnstest

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

var (
	secret256 = base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	secret512 = base64.StdEncoding.EncodeToString([]byte("fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"))
)

// signedUpdate sends an update inserting name TXT "v", signed with key,
// algorithm and secret, and returns the response and the client error.
func signedUpdate(t *testing.T, addr, key, algorithm, secret, name string) (*dns.Msg, error) {
	t.Helper()
	m := newUpdate("example.test.")
	m.Insert([]dns.RR{mustRR(t, name+" 60 IN TXT \"v\"")})
	m.SetTsig(key, algorithm, 300, time.Now().Unix())
	client := dns.Client{Net: "udp", Timeout: queryTimeout, TsigSecret: map[string]string{key: secret}}
	ctx, cancel := context.WithTimeout(t.Context(), queryTimeout)
	defer cancel()
	resp, _, err := client.ExchangeContext(ctx, m, addr)
	return resp, err
}

func newTSIGServer(t *testing.T) *Server {
	t.Helper()
	s := startServer(t, "127.0.0.11", 0, "example.test.", exampleZone)
	if err := s.RequireTSIG("key256.", "hmac-sha256", secret256); err != nil {
		t.Fatalf("RequireTSIG(hmac-sha256): %v", err)
	}
	if err := s.RequireTSIG("key512.", dns.HmacSHA512, secret512); err != nil {
		t.Fatalf("RequireTSIG(hmac-sha512): %v", err)
	}
	return s
}

func TestTSIGAccepted(t *testing.T) {
	s := newTSIGServer(t)

	tests := []struct {
		key, algorithm, secret, name string
	}{
		{"key256.", dns.HmacSHA256, secret256, "sha256.example.test."},
		{"key512.", dns.HmacSHA512, secret512, "sha512.example.test."},
	}
	for _, tc := range tests {
		t.Run(tc.algorithm, func(t *testing.T) {
			resp, err := signedUpdate(t, s.Addr(), tc.key, tc.algorithm, tc.secret, tc.name)
			// The client verifies the response signature and fails on a bad one.
			if err != nil {
				t.Fatalf("signed update: %v", err)
			}
			expectRcode(t, "signed update", resp.Rcode, dns.RcodeSuccess)
			if resp.IsTsig() == nil {
				t.Errorf("response is not signed")
			}
			expectTXT(t, s, tc.name, "v")
		})
	}
}

func TestTSIGRejected(t *testing.T) {
	s := newTSIGServer(t)

	t.Run("unsigned", func(t *testing.T) {
		m := newUpdate("example.test.")
		m.Insert([]dns.RR{mustRR(t, "unsigned.example.test. 60 IN TXT \"v\"")})
		expectRcode(t, "unsigned update", update(t, s.Addr(), m), dns.RcodeRefused)
		if rrs := s.Lookup("unsigned.example.test.", dns.TypeTXT); rrs != nil {
			t.Errorf("unsigned update applied: %v", rrs)
		}
	})

	wrongSecret := base64.StdEncoding.EncodeToString([]byte("not the secret the server holds!"))
	tests := []struct {
		name, key, algorithm, secret string
		tsigError                    uint16
	}{
		{"bad signature", "key256.", dns.HmacSHA256, wrongSecret, dns.RcodeBadSig},
		{"unknown key", "other-key.", dns.HmacSHA256, secret256, dns.RcodeBadKey},
		{"other algorithm", "key256.", dns.HmacSHA512, secret256, dns.RcodeBadKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			owner := strings.ReplaceAll(tc.name, " ", "-") + ".example.test."
			resp, err := signedUpdate(t, s.Addr(), tc.key, tc.algorithm, tc.secret, owner)
			if resp == nil {
				t.Fatalf("no response: %v", err)
			}
			expectRcode(t, tc.name, resp.Rcode, dns.RcodeNotAuth)
			rt := resp.IsTsig()
			if rt == nil {
				t.Fatalf("response carries no TSIG record with the error")
			}
			if rt.Error != tc.tsigError {
				t.Errorf("TSIG error = %s, expected %s", dns.RcodeToString[int(rt.Error)], dns.RcodeToString[int(tc.tsigError)])
			}
			if rt.MAC != "" {
				t.Errorf("error response is signed, expected an empty MAC (RFC 8945)")
			}
			if rrs := s.Lookup(owner, dns.TypeTXT); rrs != nil {
				t.Errorf("rejected update applied: %v", rrs)
			}
		})
	}
}

func TestTSIGSignedQuery(t *testing.T) {
	s := newTSIGServer(t)

	m := new(dns.Msg)
	m.SetQuestion("www.example.test.", dns.TypeA)
	m.SetTsig("key256.", dns.HmacSHA256, 300, time.Now().Unix())
	client := dns.Client{Net: "tcp", Timeout: queryTimeout, TsigSecret: map[string]string{"key256.": secret256}}
	ctx, cancel := context.WithTimeout(t.Context(), queryTimeout)
	defer cancel()
	resp, _, err := client.ExchangeContext(ctx, m, s.Addr())
	if err != nil {
		t.Fatalf("signed query: %v", err)
	}
	if len(resp.Answer) != 1 || resp.IsTsig() == nil {
		t.Errorf("signed query: answer %v, signed %v; expected one record and a signed response", resp.Answer, resp.IsTsig() != nil)
	}

	// Queries need no signature.
	if resp := query(t, s.Addr(), "www.example.test.", dns.TypeA); len(resp.Answer) != 1 {
		t.Errorf("unsigned query: answer %v, expected one record", resp.Answer)
	}
}

func TestRequireTSIGInvalid(t *testing.T) {
	s := startServer(t, "127.0.0.11", 0)

	tests := []struct {
		name, key, algorithm, secret, want string
	}{
		{"unknown algorithm", "k.", "hmac-md5", secret256, "unsupported tsig algorithm"},
		{"bad base64", "k.", "hmac-sha256", "not base64!", "invalid tsig secret"},
		{"empty secret", "k.", "hmac-sha256", "", "empty tsig secret"},
		{"bad key name", "", "hmac-sha256", secret256, "invalid tsig key name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.RequireTSIG(tc.key, tc.algorithm, tc.secret)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("RequireTSIG error = %v, expected one containing %q", err, tc.want)
			}
		})
	}

	// A failed call must not make the server require signatures.
	if s.tsig.required() {
		t.Errorf("server requires tsig after only invalid keys")
	}
}

func TestTSIGBadTime(t *testing.T) {
	s := newTSIGServer(t)

	m := newUpdate("example.test.")
	m.Insert([]dns.RR{mustRR(t, "late.example.test. 60 IN TXT \"v\"")})
	m.SetTsig("key256.", dns.HmacSHA256, 300, time.Now().Add(-time.Hour).Unix())
	client := dns.Client{Net: "udp", Timeout: queryTimeout, TsigSecret: map[string]string{"key256.": secret256}}
	ctx, cancel := context.WithTimeout(t.Context(), queryTimeout)
	defer cancel()
	resp, _, err := client.ExchangeContext(ctx, m, s.Addr())
	if resp == nil {
		t.Fatalf("no response: %v", err)
	}

	expectRcode(t, "update signed an hour ago", resp.Rcode, dns.RcodeNotAuth)
	rt := resp.IsTsig()
	if rt == nil {
		t.Fatalf("response carries no TSIG record")
	}
	if rt.Error != dns.RcodeBadTime {
		t.Errorf("TSIG error = %s, expected BADTIME", dns.RcodeToString[int(rt.Error)])
	}
	if rt.OtherLen != 6 {
		t.Errorf("TSIG other data is %d bytes, expected the 6-byte server time", rt.OtherLen)
	}
	// A BADTIME response is signed, so the client can trust the time in it.
	// miekg/dns clients do not verify NOTAUTH responses (they return
	// dns.ErrAuth), so only the MAC length is checked here.
	if rt.MACSize != 32 {
		t.Errorf("BADTIME response MAC is %d bytes, expected a 32-byte HMAC-SHA256", rt.MACSize)
	}
	if !errors.Is(err, dns.ErrAuth) {
		t.Errorf("client error = %v, expected dns.ErrAuth for a NOTAUTH response", err)
	}
	if rrs := s.Lookup("late.example.test.", dns.TypeTXT); rrs != nil {
		t.Errorf("update with a stale signature applied: %v", rrs)
	}
}
