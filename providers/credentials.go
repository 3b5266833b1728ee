package providers

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/libdns/libdns"
)

// credentialFailure is implemented by provider errors that mean the
// provider rejected the credentials, as opposed to a passing fault.
type credentialFailure interface {
	CredentialsRejected() bool
}

// CredentialsError reports credentials a provider rejected, naming the
// variables that set them so the user knows what to fix. Retrying does not
// help, so the run stops at once.
type CredentialsError struct {
	Provider string
	Vars     []string
	Err      error
}

func (e *CredentialsError) Error() string {
	return fmt.Sprintf("provider %s rejected the credentials; check %s: %v", e.Provider, strings.Join(e.Vars, " and "), e.Err)
}

func (e *CredentialsError) Unwrap() error { return e.Err }

// ZoneUnchanged reports that the zone is as it was: a provider that
// rejects the credentials changes nothing, so there is nothing to remove.
func (e *CredentialsError) ZoneUnchanged() bool { return true }

// checked wraps a provider so that rejected credentials come back as a
// CredentialsError.
type checked struct {
	Provider
	info Info
}

func (c checked) wrap(err error) error {
	var cf credentialFailure
	if err != nil && len(c.info.CredentialVars) > 0 && errors.As(err, &cf) && cf.CredentialsRejected() {
		return &CredentialsError{Provider: c.info.Name, Vars: c.info.CredentialVars, Err: err}
	}
	return err
}

func (c checked) AppendRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	out, err := c.Provider.AppendRecords(ctx, zone, recs)
	return out, c.wrap(err)
}

func (c checked) DeleteRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	out, err := c.Provider.DeleteRecords(ctx, zone, recs)
	return out, c.wrap(err)
}

// checkedLister keeps the zone list of providers that have one.
type checkedLister struct {
	checked
	lister libdns.ZoneLister
}

func (c checkedLister) ListZones(ctx context.Context) ([]libdns.Zone, error) {
	zones, err := c.lister.ListZones(ctx)
	return zones, c.wrap(err)
}

// withCredentialCheck wraps p, keeping its optional zone list.
func withCredentialCheck(p Provider, info Info) Provider {
	c := checked{Provider: p, info: info}
	if l, ok := p.(libdns.ZoneLister); ok {
		return checkedLister{checked: c, lister: l}
	}
	return c
}

// Underlying returns the adapter that New wrapped, for callers that need
// its own type or optional interfaces such as libdns.RecordGetter.
func Underlying(p Provider) Provider {
	switch w := p.(type) {
	case checkedLister:
		return w.Provider
	case checked:
		return w.Provider
	}
	return p
}
