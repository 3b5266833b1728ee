package issuer

import (
	"errors"
	"fmt"

	"github.com/mholt/acmez/v3/acme"
)

// CAError reports a request the CA rejected or could not serve.
type CAError struct {
	Op  string
	Err error
}

func (e *CAError) Error() string {
	return fmt.Sprintf("%s: %s", e.Op, describeCAError(e.Err))
}

func (e *CAError) Unwrap() error { return e.Err }

// ValidationError reports an authorization the CA found invalid, with the
// record that was served for it.
type ValidationError struct {
	Domain        string
	Authorization string
	Record        string
	Status        string
	Err           error
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("validation of %s failed (authorization %s, record %s): %s",
		e.Domain, e.Authorization, e.Record, describeCAError(e.Err))
}

func (e *ValidationError) Unwrap() error { return e.Err }

// PlanError reports that the zone or nameservers of a challenge record
// could not be found.
type PlanError struct {
	Err error
}

func (e *PlanError) Error() string { return "planning the challenge records: " + e.Err.Error() }

func (e *PlanError) Unwrap() error { return e.Err }

// describeCAError puts the CA's own problem type and detail first, since
// that is what a user can act on.
func describeCAError(err error) string {
	var p acme.Problem
	if errors.As(err, &p) {
		s := p.Detail
		if p.Type != "" {
			s = fmt.Sprintf("%s (%s)", p.Detail, p.Type)
		}
		for _, sp := range p.Subproblems {
			s += fmt.Sprintf("; %s: %s", sp.Identifier.Value, sp.Detail)
		}
		return s
	}
	return err.Error()
}

// CleanupError reports challenge records that could not be removed. They
// stay in the journal, so the next run or dnscert cleanup removes them.
type CleanupError struct {
	Err error
}

func (e *CleanupError) Error() string {
	return "removing the challenge records: " + e.Err.Error() + "; run dnscert cleanup once the provider works again"
}

func (e *CleanupError) Unwrap() error { return e.Err }
