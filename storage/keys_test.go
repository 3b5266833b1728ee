package storage

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
)

func TestGenerateKeyTypes(t *testing.T) {
	for _, tc := range []struct {
		keyType  string
		wantType string
		check    func(any) bool
	}{
		{"", KeyTypeEC256, isECDSA(elliptic.P256())},
		{"ec256", KeyTypeEC256, isECDSA(elliptic.P256())},
		{"EC384", KeyTypeEC384, isECDSA(elliptic.P384())},
		{"rsa2048", KeyTypeRSA2048, isRSA(2048)},
		{"rsa3072", KeyTypeRSA3072, isRSA(3072)},
		{"rsa4096", KeyTypeRSA4096, isRSA(4096)},
	} {
		t.Run(tc.wantType+"/"+tc.keyType, func(t *testing.T) {
			key, err := GenerateKey(tc.keyType)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(key) {
				t.Errorf("GenerateKey(%q) returned a %T of the wrong size", tc.keyType, key)
			}
			gotType, err := KeyTypeOf(key.Public())
			if err != nil {
				t.Fatal(err)
			}
			if gotType != tc.wantType {
				t.Errorf("KeyTypeOf = %q, want %q", gotType, tc.wantType)
			}

			keyPEM, err := EncodeKeyPEM(key)
			if err != nil {
				t.Fatal(err)
			}
			block, _ := pem.Decode(keyPEM)
			if block == nil || block.Type != "PRIVATE KEY" {
				t.Fatalf("EncodeKeyPEM returned %q, want a PRIVATE KEY block", keyPEM)
			}
			decoded, err := DecodeKeyPEM(keyPEM)
			if err != nil {
				t.Fatal(err)
			}
			if !publicKeysEqual(decoded.Public(), key.Public()) {
				t.Error("DecodeKeyPEM(EncodeKeyPEM(key)) returned a different key")
			}
		})
	}
}

func TestGenerateKeyUnknownType(t *testing.T) {
	for _, keyType := range []string{"ed25519", "rsa1024", "ec521", "p256", "rsa"} {
		_, err := GenerateKey(keyType)
		assertErrorContains(t, err, `"`+keyType+`"`, strings.Join(KeyTypes(), ", "))
	}
}

func TestParseKeyType(t *testing.T) {
	for input, want := range map[string]string{
		"":          DefaultKeyType,
		"  \t  ":    DefaultKeyType,
		"ec256":     "ec256",
		"Ec384":     "ec384",
		"rsA2048":   "rsa2048",
		"rsa3072\n": "rsa3072",
		" RSA4096 ": "rsa4096",
	} {
		got, err := ParseKeyType(input)
		if err != nil {
			t.Errorf("ParseKeyType(%q): %v", input, err)
			continue
		}
		if got != want {
			t.Errorf("ParseKeyType(%q) = %q, want %q", input, got, want)
		}
	}
	if _, err := ParseKeyType("dsa"); err == nil {
		t.Error(`ParseKeyType("dsa") succeeded, want an error`)
	}
}

func TestDecodeKeyPEMFormats(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		data []byte
		want any
	}{
		{"pkcs8", mustEncodeKey(t, ecKey), ecKey.Public()},
		{"sec1", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}), ecKey.Public()},
		{"pkcs1", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}), rsaKey.Public()},
		{"ed25519", mustEncodeKey(t, edKey), edKey.Public()},
	} {
		key, err := DecodeKeyPEM(tc.data)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !publicKeysEqual(key.Public(), tc.want) {
			t.Errorf("%s: decoded a different key", tc.name)
		}
	}
}

func TestDecodeKeyPEMRejects(t *testing.T) {
	keyPEM := mustEncodeKey(t, mustGenerate(t, KeyTypeEC256))
	encrypted := pem.EncodeToMemory(&pem.Block{
		Type:    "EC PRIVATE KEY",
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00000000000000000000000000000000"},
		Bytes:   []byte{1, 2, 3},
	})
	cert, err := makeSelfSignedCertificate("example.test")
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "no PEM block"},
		{"garbage", []byte("not a key"), "no PEM block"},
		{"certificate", cert.LeafPEM, `"CERTIFICATE"`},
		{"two keys", append(append([]byte(nil), keyPEM...), keyPEM...), "single PEM block"},
		{"encrypted", encrypted, "encrypted"},
		{"bad DER", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}), "parse PRIVATE KEY"},
	} {
		_, err := DecodeKeyPEM(tc.data)
		if err == nil {
			t.Errorf("%s: DecodeKeyPEM succeeded, want an error", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q does not contain %q", tc.name, err, tc.want)
		}
	}
}

func TestEncodeKeyPEMNil(t *testing.T) {
	if _, err := EncodeKeyPEM(nil); err == nil {
		t.Error("EncodeKeyPEM(nil) succeeded, want an error")
	}
}

func isECDSA(curve elliptic.Curve) func(any) bool {
	return func(key any) bool {
		k, ok := key.(*ecdsa.PrivateKey)
		return ok && k.Curve == curve
	}
}

func isRSA(bits int) func(any) bool {
	return func(key any) bool {
		k, ok := key.(*rsa.PrivateKey)
		return ok && k.N.BitLen() == bits
	}
}

func mustGenerate(t *testing.T, keyType string) crypto.Signer {
	t.Helper()
	key, err := GenerateKey(keyType)
	if err != nil {
		t.Fatal(err)
	}
	return key
}
