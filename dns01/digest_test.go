package dns01

import (
	"crypto"
	"crypto/rsa"
	"encoding/base64"
	"io"
	"math/big"
	"testing"

	"github.com/mholt/acmez/v3/acme"
)

// publicOnly is a crypto.Signer that only exposes a public key, enough to
// compute an account thumbprint.
type publicOnly struct{ pub crypto.PublicKey }

func (p publicOnly) Public() crypto.PublicKey { return p.pub }
func (p publicOnly) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	panic("not used")
}

// The RSA key of the RFC 7638 section 3.1 example.
const (
	rfc7638N          = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
	rfc7638Thumbprint = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
)

func TestThumbprintRFC7638Example(t *testing.T) {
	n, err := base64.RawURLEncoding.DecodeString(rfc7638N)
	if err != nil {
		t.Fatal(err)
	}
	key := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537}
	got, err := (&acme.Account{PrivateKey: publicOnly{key}}).Thumbprint()
	if err != nil {
		t.Fatal(err)
	}
	if got != rfc7638Thumbprint {
		t.Errorf("thumbprint = %s, want %s", got, rfc7638Thumbprint)
	}
}

func TestTXTValueVectors(t *testing.T) {
	tests := []struct {
		name       string
		token      string
		thumbprint string
		want       string
	}{
		{
			// RFC 8555 section 8.4 example token with the RFC 7638 key.
			name:       "rfc8555 token",
			token:      "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA",
			thumbprint: rfc7638Thumbprint,
			want:       "ZTRx1Ckl1-tM05o5zaizTTA0yUy5AGereMgSNWC6Ll8",
		},
		{
			// golang.org/x/crypto/acme TestDNS01ChallengeRecord with its P-256 test key.
			name:       "x/crypto ec key",
			token:      "xxx",
			thumbprint: "zedj-Bd1Zshp8KLePv2MB-lJ_Hagp7wAwdkA0NUTniU",
			want:       "8DERMexQ5VcdJ_prpPiA0mVdp7imgbCgjsG4SqqNMIo",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := TXTValue(KeyAuthorization(tt.token, tt.thumbprint))
			if got != tt.want {
				t.Errorf("TXTValue = %s, want %s", got, tt.want)
			}
			if len(got) != 43 {
				t.Errorf("len = %d, want 43", len(got))
			}
		})
	}
}

func TestTXTValueMatchesAcmez(t *testing.T) {
	ch := acme.Challenge{KeyAuthorization: "token.thumb"}
	if got, want := TXTValue(ch.KeyAuthorization), ch.DNS01KeyAuthorization(); got != want {
		t.Errorf("TXTValue = %s, acmez computes %s", got, want)
	}
}
