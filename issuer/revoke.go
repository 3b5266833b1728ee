package issuer

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/mholt/acmez/v3/acme"

	"github.com/dnscert/dnscert/storage"
)

// ErrAlreadyRevoked is returned by [Revoke] when the CA responds with the
// alreadyRevoked problem.
var ErrAlreadyRevoked = errors.New("the certificate was already revoked")

// Revoke sends a revocation request for cert with an RFC 5280 reason code
// (RFC 8555 section 7.6). With certKey set, the certificate's own key signs
// the request and travels in it as a JWK. Otherwise the account key signs
// it, and the CA checks that the account may revoke cert. The error wraps
// [ErrAlreadyRevoked] when the CA responds alreadyRevoked, and is a
// [*CAError] for every other failure.
func Revoke(ctx context.Context, client *acme.Client, account storage.Account, cert *x509.Certificate, certKey crypto.Signer, reason int) error {
	signer := acme.Account{}
	if certKey == nil {
		signer = acmeAccount(account)
	}
	err := client.RevokeCertificate(ctx, signer, cert, certKey, reason)
	if err == nil {
		return nil
	}
	var problem acme.Problem
	if errors.As(err, &problem) && problem.Type == acme.ProblemTypeAlreadyRevoked {
		return fmt.Errorf("%w: %s", ErrAlreadyRevoked, problem.Detail)
	}
	return &CAError{Op: "revoking the certificate with serial " + cert.SerialNumber.Text(16), Err: err}
}
