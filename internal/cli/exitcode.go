package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mholt/acmez/v3/acme"

	"github.com/dnscert/dnscert/dns01"
	"github.com/dnscert/dnscert/issuer"
	"github.com/dnscert/dnscert/propagation"
)

// Exit codes. Scripts can tell these apart without parsing messages; the
// README lists them too.
const (
	ExitOK          = 0
	ExitFailure     = 1 // anything not covered below, such as storage errors
	ExitUsage       = 2 // invalid flags, names or settings, found before the certificate was ordered
	ExitProvider    = 3 // the DNS provider rejected or failed a change
	ExitPropagation = 4 // DNS: zone or nameservers not found, records not served in time, or a lame server
	ExitCA          = 5 // the CA refused the order, a validation or the finalization
	ExitHook        = 6 // a deploy hook failed; the new certificate is stored
	ExitLocked      = 7 // another run holds the lock on the same certificate
	ExitInterrupted = 130
)

// usageError marks invalid input, found before the certificate it concerns
// was ordered. Most are found before any request; an unknown profile only
// after the CA's directory was read.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// joinUsageErrors reports every problem found in the input as one usage
// error, one line per distinct message.
func joinUsageErrors(errs []error) error {
	var lines []string
	seen := make(map[string]bool)
	for _, err := range errs {
		for _, line := range strings.Split(err.Error(), "\n") {
			if line != "" && !seen[line] {
				seen[line] = true
				lines = append(lines, line)
			}
		}
	}
	return &usageError{msg: strings.Join(lines, "\n")}
}

// ExitCode maps an error from a command to its exit code.
func ExitCode(err error) int {
	var (
		usage    *usageError
		provider *dns01.ProviderError
		timeout  *propagation.TimeoutError
		lame     *propagation.LameError
		plan     *issuer.PlanError
		valid    *issuer.ValidationError
		caErr    *issuer.CAError
		problem  acme.Problem
		locked   *lockedError
		hook     *hookError
		unusable *issuer.AccountUnusableError
		zoneOpt  *dns01.ZoneOptionError
	)
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, context.Canceled):
		return ExitInterrupted
	case errors.As(err, &usage), errors.As(err, &unusable), errors.As(err, &zoneOpt):
		return ExitUsage
	case errors.As(err, &locked):
		return ExitLocked
	case errors.As(err, &hook):
		return ExitHook
	case errors.As(err, &provider):
		return ExitProvider
	case errors.As(err, &timeout), errors.As(err, &lame), errors.As(err, &plan):
		return ExitPropagation
	case errors.As(err, &valid), errors.As(err, &caErr), errors.As(err, &problem):
		return ExitCA
	}
	return ExitFailure
}

// lockedError reports that another process holds the certificate's lock.
type lockedError struct{ err error }

func (e *lockedError) Error() string { return e.err.Error() }
func (e *lockedError) Unwrap() error { return e.err }

// hookError reports a failed deploy hook.
type hookError struct{ err error }

func (e *hookError) Error() string { return e.err.Error() }
func (e *hookError) Unwrap() error { return e.err }

// interruptedError reports a run stopped by SIGINT or SIGTERM, which cancel
// its context, with what became of the work it had started.
type interruptedError struct {
	err error // wraps context.Canceled
	// detail describes what the run left behind, such as whether the
	// records it added were removed. It is empty when there is nothing to
	// add.
	detail string
}

func (e *interruptedError) Error() string {
	if e.detail == "" {
		return "interrupted"
	}
	return "interrupted; " + e.detail
}

func (e *interruptedError) Unwrap() error { return e.err }
