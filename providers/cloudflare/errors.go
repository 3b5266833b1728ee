package cloudflare

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Error codes of the Cloudflare v4 API that change what the provider does.
const (
	// CodeRecordExists and CodeIdenticalRecordExists reject the creation of
	// a record whose name, type and content equal those of an existing
	// record. Cloudflare has used both for that condition.
	CodeRecordExists          = 81057
	CodeIdenticalRecordExists = 81058
	// CodeRecordNotFound rejects the deletion of a record that does not
	// exist.
	CodeRecordNotFound = 81044
)

// Codes of responses to a malformed or missing Authorization header.
const (
	codeInvalidHeaders    = 6003
	codeInvalidAuthHeader = 6111
	codeMissingAuth       = 9106
)

// ErrZoneNotFound is matched by errors.Is when Cloudflare has no zone of
// the requested name that the token can see: the zone list is empty, or
// the API responds HTTP 403, as it does when a token limited to some zones
// requests another one. A caller that tries candidate zones goes on to the
// next one.
var ErrZoneNotFound = errors.New("zone not found")

// ZoneAttempt is one zone name looked up without success, with the reason.
type ZoneAttempt struct {
	Zone       string
	Reason     string
	StatusCode int // HTTP status of the lookup: 403, or 200 for an empty list
}

// ZoneNotFoundError reports that no zone could be found for Name. It
// matches [ErrZoneNotFound].
type ZoneNotFoundError struct {
	Name  string        // the zone or domain name looked up, lower case without a trailing dot
	Tried []ZoneAttempt // each zone name looked up, longest first
	Hint  string        // the permissions the tokens need
}

func (e *ZoneNotFoundError) Error() string {
	tried := make([]string, len(e.Tried))
	for i, t := range e.Tried {
		tried[i] = t.Zone + " (" + t.Reason + ")"
	}
	if len(e.Tried) == 0 {
		return fmt.Sprintf("cloudflare: no zone found for %s: a zone name has at least two labels; %s", e.Name, e.Hint)
	}
	if len(e.Tried) == 1 && e.Tried[0].Zone == e.Name {
		return fmt.Sprintf("cloudflare: zone %s not found: %s; %s", e.Name, e.Tried[0].Reason, e.Hint)
	}
	return fmt.Sprintf("cloudflare: no zone found for %s; tried %s; %s", e.Name, strings.Join(tried, ", "), e.Hint)
}

// Is makes errors.Is(err, ErrZoneNotFound) true.
func (e *ZoneNotFoundError) Is(target error) bool { return target == ErrZoneNotFound }

// CredentialsRejected reports whether a lookup got HTTP 403,
// which means an invalid token or one without access to the zone. Either
// way only a change of the token helps.
func (e *ZoneNotFoundError) CredentialsRejected() bool {
	for _, t := range e.Tried {
		if t.StatusCode == http.StatusForbidden || t.StatusCode == http.StatusUnauthorized {
			return true
		}
	}
	return false
}

// APIError reports an API request that failed with an HTTP error status,
// after any retries. It never contains a token.
type APIError struct {
	Op         string    // the failed operation, such as "adding TXT record \"_acme-challenge\" to zone example.com"
	StatusCode int       // HTTP status of the last response
	Errors     []Message // the errors list of the last response
	Attempts   int       // requests sent, retries included
	RetryAfter string    // the Retry-After header of the last response, if any
	Hint       string    // the setting or permission to check
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cloudflare: %s failed: HTTP %d", e.Op, e.StatusCode)
	for _, m := range e.Errors {
		b.WriteString(", ")
		b.WriteString(m.String())
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	if e.Hint != "" {
		b.WriteString("; ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// CredentialsRejected reports whether the API rejected the token: HTTP 401
// or 403, or a malformed Authorization header.
func (e *APIError) CredentialsRejected() bool {
	return e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden ||
		e.HasCode(codeInvalidHeaders) || e.HasCode(codeMissingAuth)
}

// HasCode reports whether the response listed the error code.
func (e *APIError) HasCode(code int) bool {
	for _, m := range e.Errors {
		if m.Code == code {
			return true
		}
	}
	return false
}

// SettingError reports an invalid [Provider] field. Field is the Go field
// name, so a caller that fills the Provider from environment variables or
// files can name its own source instead. Err never contains a secret.
type SettingError struct {
	Field string
	Err   error
}

func (e *SettingError) Error() string {
	return fmt.Sprintf("cloudflare: %s: %v", e.Field, e.Err)
}

func (e *SettingError) Unwrap() error { return e.Err }
