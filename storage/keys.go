package storage

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Key types accepted by [GenerateKey] and [ParseKeyType].
const (
	KeyTypeEC256   = "ec256"
	KeyTypeEC384   = "ec384"
	KeyTypeRSA2048 = "rsa2048"
	KeyTypeRSA3072 = "rsa3072"
	KeyTypeRSA4096 = "rsa4096"

	// DefaultKeyType is used when no key type is given.
	DefaultKeyType = KeyTypeEC256
)

var keyTypes = []string{KeyTypeEC256, KeyTypeEC384, KeyTypeRSA2048, KeyTypeRSA3072, KeyTypeRSA4096}

// KeyTypes returns the valid key types, default first.
func KeyTypes() []string {
	return slices.Clone(keyTypes)
}

// ParseKeyType returns the canonical form of keyType, which is matched
// case-insensitively. The empty string yields [DefaultKeyType].
func ParseKeyType(keyType string) (string, error) {
	canonical := strings.ToLower(strings.TrimSpace(keyType))
	if canonical == "" {
		return DefaultKeyType, nil
	}
	if !slices.Contains(keyTypes, canonical) {
		return "", fmt.Errorf("unknown key type %q; valid key types are %s", keyType, strings.Join(keyTypes, ", "))
	}
	return canonical, nil
}

// GenerateKey generates a private key of the given type: "ec256" (ECDSA
// P-256, the default for ""), "ec384" (ECDSA P-384), "rsa2048", "rsa3072" or
// "rsa4096".
func GenerateKey(keyType string) (crypto.Signer, error) {
	canonical, err := ParseKeyType(keyType)
	if err != nil {
		return nil, err
	}
	var key crypto.Signer
	switch canonical {
	case KeyTypeEC256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case KeyTypeEC384:
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case KeyTypeRSA2048:
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case KeyTypeRSA3072:
		key, err = rsa.GenerateKey(rand.Reader, 3072)
	case KeyTypeRSA4096:
		key, err = rsa.GenerateKey(rand.Reader, 4096)
	}
	if err != nil {
		return nil, fmt.Errorf("generate %s key: %w", canonical, err)
	}
	return key, nil
}

// KeyTypeOf returns the key type of a public key: "ec256", "ec384" or "rsa"
// followed by the modulus size in bits. RSA sizes other than 2048, 3072 and
// 4096 are reported but cannot be passed to [GenerateKey].
func KeyTypeOf(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return KeyTypeEC256, nil
		case elliptic.P384():
			return KeyTypeEC384, nil
		}
		return "", fmt.Errorf("unsupported ECDSA curve %s; use ec256 or ec384", k.Curve.Params().Name)
	case *rsa.PublicKey:
		return fmt.Sprintf("rsa%d", k.N.BitLen()), nil
	}
	return "", fmt.Errorf("unsupported public key type %T; use one of %s", pub, strings.Join(keyTypes, ", "))
}

// EncodeKeyPEM encodes key as a PEM "PRIVATE KEY" block (PKCS #8).
func EncodeKeyPEM(key crypto.Signer) ([]byte, error) {
	if key == nil {
		return nil, errors.New("encode private key: the key is nil")
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode %T private key as PKCS #8: %w", key, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// DecodeKeyPEM decodes a private key from a single PEM block of type
// "PRIVATE KEY" (PKCS #8). It also accepts "EC PRIVATE KEY" (SEC 1) and
// "RSA PRIVATE KEY" (PKCS #1), which other ACME clients write. Encrypted keys
// are rejected.
func DecodeKeyPEM(data []byte) (crypto.Signer, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found; want a PEM \"PRIVATE KEY\" block")
	}
	if next, _ := pem.Decode(rest); next != nil {
		return nil, fmt.Errorf("found a %q block after the private key; want a single PEM block", next.Type)
	}
	if _, encrypted := block.Headers["Proc-Type"]; encrypted {
		return nil, errors.New("the private key is encrypted; decrypt it first (openssl pkey -in KEY -out KEY.dec)")
	}

	var parsed any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		parsed, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		parsed, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		parsed, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("unexpected PEM block type %q; want \"PRIVATE KEY\"", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", block.Type, err)
	}
	signer, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("a %T cannot sign; want an ECDSA, RSA or Ed25519 key", parsed)
	}
	return signer, nil
}

// publicKeysEqual reports whether a and b are the same public key.
func publicKeysEqual(a, b crypto.PublicKey) bool {
	equaler, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && equaler.Equal(b)
}
