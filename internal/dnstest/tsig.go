package dnstest

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// tsigHashes maps the TSIG algorithm names that miekg/dns v1.1.73 also
// supports to their hash functions (RFC 8945).
var tsigHashes = map[string]func() hash.Hash{
	dns.HmacSHA1:   sha1.New,
	dns.HmacSHA224: sha256.New224,
	dns.HmacSHA256: sha256.New,
	dns.HmacSHA384: sha512.New384,
	dns.HmacSHA512: sha512.New,
}

// tsigKey is one shared secret, bound to one algorithm.
type tsigKey struct {
	algorithm string
	secret    []byte
}

// tsigKeys is the dns.TsigProvider of a Server. Unlike dns.Server.TsigSecret
// it can gain keys while the server runs, and it rejects a request signed
// with a known key but another algorithm.
type tsigKeys struct {
	mu   sync.RWMutex
	keys map[string]tsigKey // by canonical key name
}

func (k *tsigKeys) add(name string, key tsigKey) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.keys == nil {
		k.keys = make(map[string]tsigKey)
	}
	k.keys[dns.CanonicalName(name)] = key
}

// required reports whether updates must be signed.
func (k *tsigKeys) required() bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return len(k.keys) > 0
}

func (k *tsigKeys) lookup(t *dns.TSIG) (tsigKey, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	key, ok := k.keys[dns.CanonicalName(t.Hdr.Name)]
	if !ok {
		return tsigKey{}, dns.ErrSecret
	}
	if dns.CanonicalName(t.Algorithm) != key.algorithm {
		return tsigKey{}, dns.ErrKeyAlg
	}
	return key, nil
}

// Generate implements dns.TsigProvider.
func (k *tsigKeys) Generate(msg []byte, t *dns.TSIG) ([]byte, error) {
	key, err := k.lookup(t)
	if err != nil {
		return nil, err
	}
	mac := hmac.New(tsigHashes[key.algorithm], key.secret)
	mac.Write(msg)
	return mac.Sum(nil), nil
}

// Verify implements dns.TsigProvider.
func (k *tsigKeys) Verify(msg []byte, t *dns.TSIG) error {
	want, err := k.Generate(msg, t)
	if err != nil {
		return err
	}
	got, err := hex.DecodeString(t.MAC)
	if err != nil || !hmac.Equal(want, got) {
		return dns.ErrSig
	}
	return nil
}

// RequireTSIG adds a TSIG key and makes s reject updates that are not signed
// with one of its keys. Unsigned updates get REFUSED. Requests with an
// unknown key, another algorithm, a bad MAC or a time outside the fudge get
// NOTAUTH with the TSIG error BADKEY, BADSIG or BADTIME (RFC 8945).
// Responses to signed requests are signed.
//
// algorithm is a TSIG algorithm name such as "hmac-sha256" or
// "hmac-sha512"; hmac-sha1, hmac-sha224 and hmac-sha384 work too. It is safe
// to call RequireTSIG while s serves requests.
func (s *Server) RequireTSIG(keyName, algorithm, base64Secret string) error {
	if _, ok := dns.IsDomainName(keyName); !ok || keyName == "" {
		return fmt.Errorf("invalid tsig key name %q: use a domain name such as update-key.", keyName)
	}
	alg := dns.CanonicalName(algorithm)
	if _, ok := tsigHashes[alg]; !ok {
		return fmt.Errorf("unsupported tsig algorithm %q: use hmac-sha256 or hmac-sha512", algorithm)
	}
	secret, err := base64.StdEncoding.DecodeString(base64Secret)
	if err != nil {
		return fmt.Errorf("invalid tsig secret for key %s: %w (use standard base64)", keyName, err)
	}
	if len(secret) == 0 {
		return fmt.Errorf("empty tsig secret for key %s: use at least 32 random bytes in base64", keyName)
	}
	s.tsig.add(keyName, tsigKey{algorithm: alg, secret: secret})
	s.logger.Info("tsig key added", "addr", s.Addr(), "key", dns.CanonicalName(keyName), "algorithm", strings.TrimSuffix(alg, "."))
	return nil
}

// tsigErrorCode maps a verification error of miekg/dns to the TSIG error
// field of the response (RFC 8945).
func tsigErrorCode(err error) uint16 {
	switch {
	case errors.Is(err, dns.ErrSecret), errors.Is(err, dns.ErrKeyAlg):
		return dns.RcodeBadKey
	case errors.Is(err, dns.ErrTime):
		return dns.RcodeBadTime
	default:
		return dns.RcodeBadSig
	}
}

// addResponseTSIG appends the TSIG record that makes dns.ResponseWriter sign
// resp when req was signed. status is the verification result of req. With
// BADKEY and BADSIG miekg/dns sends the record without a MAC, as RFC 8945
// requires.
func addResponseTSIG(req, resp *dns.Msg, status error) {
	t := req.IsTsig()
	if t == nil {
		return
	}
	now := time.Now().Unix()
	resp.SetTsig(t.Hdr.Name, t.Algorithm, t.Fudge, now)
	if status == nil {
		return
	}
	rt := resp.IsTsig()
	rt.Error = tsigErrorCode(status)
	if rt.Error == dns.RcodeBadTime {
		// Other Data carries the server's 48-bit time so the client can
		// correct its clock skew (RFC 8945).
		rt.OtherLen = 6
		rt.OtherData = fmt.Sprintf("%012x", now)
	}
}
