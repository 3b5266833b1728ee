package route53

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/smithy-go"
)

// AccessDeniedError reports a request that IAM denied. It names the
// permission to grant and the resource to grant it on.
type AccessDeniedError struct {
	Operation  string // API operation, such as "ChangeResourceRecordSets"
	Permission string // IAM action, such as "route53:ChangeResourceRecordSets"
	Resource   string // IAM resource ARN, or "*"
	ZoneID     string // hosted zone ID, or "" for operations on no zone
	ZoneName   string // normalized zone name, or ""
	Err        error  // the SDK error, whose message Route 53 wrote
}

// Error names the permission and the resource. The zone ID appears in the
// resource ARN, and callers add the zone name.
func (e *AccessDeniedError) Error() string {
	hint := ""
	if e.Operation == "ListHostedZonesByName" {
		hint = ", or set the hosted zone ID so that no zone lookup is needed"
	}
	return fmt.Sprintf("access denied to %s: allow the IAM action %s on the resource %s for these credentials%s: %v",
		e.Operation, e.Permission, e.Resource, hint, e.Err)
}

func (e *AccessDeniedError) Unwrap() error { return e.Err }

// CredentialsRejected reports true: AWS denied the request for lack of a
// permission, so only another policy or other credentials help.
func (e *AccessDeniedError) CredentialsRejected() bool { return true }

// CredentialsError reports credentials that the credential chain could
// not find or that AWS rejected as unknown, malformed or expired. Only
// other credentials help.
type CredentialsError struct {
	Code string // AWS error code, such as "InvalidClientTokenId", or ""
	Err  error  // the SDK error

	missing bool // the credential chain found no credentials
}

func (e *CredentialsError) Error() string {
	if e.missing {
		return fmt.Sprintf("no usable AWS credentials: %v; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or AWS_ROLE_ARN with AWS_WEB_IDENTITY_TOKEN_FILE, or run where an IAM role is attached", e.Err)
	}
	return fmt.Sprintf("AWS rejected the credentials (%s): %v; check the access key ID, the secret access key and the session token, or renew temporary credentials", e.Code, e.Err)
}

func (e *CredentialsError) Unwrap() error { return e.Err }

// CredentialsRejected reports true, so that callers stop instead of
// retrying.
func (e *CredentialsError) CredentialsRejected() bool { return true }

// rejectedCredentialCodes are the error codes with which AWS rejects an
// unknown, malformed or expired access key or session token.
var rejectedCredentialCodes = map[string]bool{
	"InvalidClientTokenId":        true,
	"SignatureDoesNotMatch":       true,
	"UnrecognizedClientException": true,
	"IncompleteSignature":         true,
	"MissingAuthenticationToken":  true,
	"ExpiredToken":                true,
	"ExpiredTokenException":       true,
	"InvalidAccessKeyId":          true,
}

// explainAPIError adds the likely cause and fix to an SDK error. hz is
// the hosted zone that the request concerned, or the zero value.
func (p *Provider) explainAPIError(err error, hz hostedZone) error {
	operation := ""
	var opErr *smithy.OperationError
	if errors.As(err, &opErr) {
		operation = opErr.OperationName
	}

	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return err
	}
	code := apiErr.ErrorCode()
	switch {
	case code == "AccessDenied" || code == "AccessDeniedException":
		return &AccessDeniedError{
			Operation:  operation,
			Permission: "route53:" + operation,
			Resource:   iamResource(p.partition, operation, hz.id),
			ZoneID:     hz.id,
			ZoneName:   hz.name,
			Err:        err,
		}
	case rejectedCredentialCodes[code]:
		return &CredentialsError{Code: code, Err: err}
	}
	var noZone *types.NoSuchHostedZone
	if errors.As(err, &noZone) && hz.id != "" {
		return fmt.Errorf("hosted zone %s no longer exists or belongs to another account: %w", hz.id, err)
	}
	return err
}

// iamResource returns the resource ARN that an IAM policy must name to
// allow operation. "Using IAM with Route 53" in the Route 53 Developer
// Guide names two resource types, hostedzone and change, and requires "*"
// for the actions that act on no hosted zone, such as listing zones.
func iamResource(partition, operation, zoneID string) string {
	switch {
	case operation == "GetChange":
		return "arn:" + partition + ":route53:::change/*"
	case zoneID != "" && operation != "ListHostedZonesByName" && operation != "ListHostedZones":
		return "arn:" + partition + ":route53:::hostedzone/" + zoneID
	default:
		return "*"
	}
}

// partitionOf returns the ARN partition of an AWS region: aws-cn for the
// China regions, aws-us-gov for AWS GovCloud (US), else aws.
func partitionOf(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	default:
		return "aws"
	}
}
