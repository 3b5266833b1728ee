package dns01

import (
	"crypto/sha256"
	"encoding/base64"
)

// KeyAuthorization joins a challenge token and the account key's RFC 7638
// thumbprint (RFC 8555 section 8.1).
func KeyAuthorization(token, thumbprint string) string {
	return token + "." + thumbprint
}

// TXTValue returns the dns-01 record value for a key authorization: the
// unpadded base64url encoding of its SHA-256 digest (RFC 8555 section 8.4).
// The result is always 43 characters long.
func TXTValue(keyAuthorization string) string {
	sum := sha256.Sum256([]byte(keyAuthorization))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
