package rfc2136

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// SettingError reports an invalid [Provider] field. Field is the Go field
// name, so a caller that fills the Provider from environment variables or
// files can name its own source instead. Err never contains a secret.
type SettingError struct {
	Field string
	Err   error
}

func (e *SettingError) Error() string {
	return fmt.Sprintf("rfc2136: %s: %v", e.Field, e.Err)
}

func (e *SettingError) Unwrap() error { return e.Err }

// settings is a validated, normalized copy of the Provider fields that one
// call uses, so calls never write to the shared Provider.
type settings struct {
	server    string // host:port
	keyName   string // lower-case FQDN, empty when requests are unsigned
	secret    string // base64, as miekg/dns expects it
	algorithm string // one of the dns.Hmac* names
	timeout   time.Duration
	logger    *slog.Logger
}

// Validate checks every field and returns all problems found, each as a
// [*SettingError], joined with [errors.Join]. It sends no network traffic
// and does not resolve the nameserver's host name.
func (p *Provider) Validate() error {
	_, err := p.settings()
	return err
}

func (p *Provider) settings() (settings, error) {
	var errs []error
	fail := func(field string, err error) {
		errs = append(errs, &SettingError{Field: field, Err: err})
	}

	s := settings{timeout: p.Timeout, logger: p.Logger}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}

	server, err := parseNameserver(p.Nameserver)
	if err != nil {
		fail("Nameserver", err)
	}
	s.server = server

	if p.TSIGKey != "" {
		keyName, err := parseKeyName(p.TSIGKey)
		if err != nil {
			fail("TSIGKey", err)
		}
		s.keyName = keyName
	}

	if p.TSIGKey == "" && p.TSIGSecret != "" {
		fail("TSIGKey", errors.New("missing although a TSIG secret is set; set the key name exactly as the server's key statement names it"))
	}
	if p.TSIGKey != "" && p.TSIGSecret == "" {
		fail("TSIGSecret", fmt.Errorf("missing; set the base64 secret of TSIG key %q, or unset the key to send unsigned requests", p.TSIGKey))
	}
	if p.TSIGSecret != "" {
		if err := checkSecret(p.TSIGSecret); err != nil {
			fail("TSIGSecret", err)
		}
		s.secret = p.TSIGSecret
	}

	algorithm, err := parseAlgorithm(p.TSIGAlgorithm)
	if err != nil {
		fail("TSIGAlgorithm", err)
	}
	s.algorithm = algorithm

	switch {
	case p.Timeout < 0:
		fail("Timeout", fmt.Errorf("negative duration %s; use a positive duration, or 0 for the default of %s", p.Timeout, DefaultTimeout))
	case p.Timeout == 0:
		s.timeout = DefaultTimeout
	}

	if len(errs) > 0 {
		return settings{}, errors.Join(errs...)
	}
	return s, nil
}

// parseNameserver returns addr as host:port, with port 53 when addr has
// none. Bare IPv6 addresses are accepted with or without brackets.
func parseNameserver(addr string) (string, error) {
	const example = `use host or host:port, such as "ns1.example.test", "192.0.2.1:5353" or "[2001:db8::1]:53"`
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return "", errors.New("missing; set the address of the primary nameserver of the zone (" + example + ")")
	}

	if strings.Contains(addr, "://") {
		return "", fmt.Errorf("invalid address %q: a URL is not accepted; %s", addr, example)
	}

	unbracketed := strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
	if ip, err := netip.ParseAddr(unbracketed); err == nil {
		return net.JoinHostPort(ip.String(), "53"), nil
	}

	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		if strings.Contains(addr, ":") {
			return "", fmt.Errorf("invalid address %q: %w; %s", addr, err, example)
		}
		host, port = addr, "53"
	}
	if _, err := netip.ParseAddr(host); err != nil && !isHostName(host) {
		return "", fmt.Errorf("invalid host %q in address %q: neither an IP address nor a host name; %s", host, addr, example)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return "", fmt.Errorf("invalid port %q in address %q: want 1 to 65535; %s", port, addr, example)
	}
	return net.JoinHostPort(host, port), nil
}

// isHostName reports whether s is a DNS host name: dot-separated labels of
// letters, digits, '-' and '_', each 1 to 63 bytes, with an optional
// trailing dot.
func isHostName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range []byte(label) {
			ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
			if !ok {
				return false
			}
		}
	}
	return true
}

// parseKeyName returns the TSIG key name as a lower-case FQDN, the form in
// which miekg/dns looks up secrets and servers compare key names.
func parseKeyName(name string) (string, error) {
	trimmed := strings.TrimSpace(name)
	if _, ok := dns.IsDomainName(trimmed); !ok || strings.ContainsAny(trimmed, " \t\r\n") {
		return "", fmt.Errorf("invalid key name %q; use the name from the server's key statement, such as \"dnscert\"", name)
	}
	return dns.CanonicalName(trimmed), nil
}

// checkSecret reports whether secret is standard base64 of at least one
// byte, the encoding that miekg/dns decodes when signing. The error never
// quotes the secret.
func checkSecret(secret string) error {
	raw, err := base64.StdEncoding.DecodeString(secret)
	if err != nil {
		return fmt.Errorf("not valid base64 (%w); copy the secret exactly as tsig-keygen printed it", err)
	}
	if len(raw) == 0 {
		return errors.New("decodes to zero bytes; copy the secret exactly as tsig-keygen printed it")
	}
	return nil
}

// parseAlgorithm maps a TSIG algorithm name, in any case and with or
// without a trailing dot, to its miekg/dns constant.
func parseAlgorithm(name string) (string, error) {
	switch strings.ToLower(strings.TrimSuffix(strings.TrimSpace(name), ".")) {
	case "", "hmac-sha256":
		return dns.HmacSHA256, nil
	case "hmac-sha224":
		return dns.HmacSHA224, nil
	case "hmac-sha384":
		return dns.HmacSHA384, nil
	case "hmac-sha512":
		return dns.HmacSHA512, nil
	case "hmac-sha1":
		return dns.HmacSHA1, nil
	case "hmac-md5", "hmac-md5.sig-alg.reg.int":
		return "", fmt.Errorf("%q is not supported because miekg/dns no longer implements HMAC-MD5; create a new key with hmac-sha256 (tsig-keygen -a hmac-sha256 NAME)", name)
	default:
		return "", fmt.Errorf("unknown algorithm %q; use hmac-sha256 (the default), hmac-sha224, hmac-sha384, hmac-sha512 or hmac-sha1", name)
	}
}
