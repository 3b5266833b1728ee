// Package cloudflare adds and deletes the TXT records of the ACME DNS-01
// challenge through the Cloudflare v4 API.
//
// It builds on github.com/libdns/cloudflare v0.2.2, which sends the
// requests that create, find and delete records, and adds what that
// package leaves out:
//
//   - retries of HTTP 429 and 5xx responses and of lost connections, with
//     exponential backoff, jitter and Retry-After, within a total bound;
//   - success when a record to add already exists (error codes 81057 and
//     81058) or a record to delete is already gone (81044 or HTTP 404), so
//     a repeated call, or a request repeated after its response was lost,
//     does no harm;
//   - record names in lower case and relative to the zone, also when
//     given fully qualified with a trailing dot;
//   - zone lookups that report a zone the token cannot see as
//     [ErrZoneNotFound], and a zone list that follows every page;
//   - one zone lookup per zone for the lifetime of a Provider, which also
//     serves the lookups that libdns/cloudflare makes before each call;
//   - errors that name the setting to change and never contain a token.
//
// Deleting removes exactly the values given: libdns/cloudflare looks each
// record up by name, type and content and deletes the one whose content is
// equal, so other TXT values at the same name stay.
package cloudflare

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode"

	libcloudflare "github.com/libdns/cloudflare"
	"github.com/libdns/libdns"
	"golang.org/x/sync/errgroup"
)

// DefaultTimeout limits each HTTP request attempt when Provider.Timeout is
// zero.
const DefaultTimeout = 30 * time.Second

// parallelRequests is the number of records added or deleted at the same
// time in one call. libdns/cloudflare sends the requests of each record
// separately. Four at a time keep a call with many records short and stay
// far below the API's rate limit.
const parallelRequests = 4

// Provider adds and deletes TXT records in Cloudflare zones. Set the fields
// before the first method call and do not change them afterwards. The
// methods are safe for concurrent use.
type Provider struct {
	// APIToken is an API token with the permission DNS:Edit on the zones,
	// and Zone:Read unless ZoneToken or ZoneID is set. Required.
	APIToken string
	// ZoneToken, when set, is used instead of APIToken to look up and list
	// zones. It needs Zone:Read. It lets APIToken be limited to DNS:Edit.
	ZoneToken string
	// ZoneID, when set, is the ID of the one zone that the provider works
	// on: 32 hexadecimal digits, as shown on the zone's Overview page. The
	// zone is read once by ID instead of being looked up by name, and
	// every other zone name counts as not found. When the token may not
	// read the zone (no Zone:Read), the ID is taken to be the zone named
	// in the first call.
	ZoneID string

	// Timeout limits each HTTP request attempt; zero means DefaultTimeout.
	Timeout time.Duration
	// Retry bounds the retries of each request.
	Retry RetryPolicy
	// HTTPClient, when set, is copied and its Transport (or
	// http.DefaultTransport when nil) is wrapped with the retries. Its
	// Timeout, if any, limits a request together with its retries.
	HTTPClient *http.Client
	// Logger receives a Warn entry for each retry and a Debug entry for
	// each request, never with headers or tokens. Nil discards them.
	Logger *slog.Logger
	// SettingNames maps the Go names of the fields above, such as
	// "APIToken", to the names under which the user set them, such as an
	// environment variable, for error messages. Fields not in the map are
	// called by their Go names.
	SettingNames map[string]string

	once    sync.Once
	state   *state
	initErr error
}

// state contains the clients and caches that a Provider builds from its
// fields on first use.
type state struct {
	lib       *libcloudflare.Provider
	api       *apiClient
	zones     *zoneCache
	logger    *slog.Logger
	names     settingNames
	apiToken  string
	zoneToken string
	zoneID    string

	lookupMu sync.Mutex // serializes zone lookups
	idZone   *idZone    // the zone of zoneID, once known
}

type settingNames map[string]string

func (n settingNames) of(field string) string {
	if name, ok := n[field]; ok && name != "" {
		return name
	}
	return field
}

// Validate checks the fields and returns all problems found, each as a
// [*SettingError], joined with [errors.Join]. It sends no network traffic.
func (p *Provider) Validate() error {
	var errs []error
	fail := func(field string, err error) {
		errs = append(errs, &SettingError{Field: field, Err: err})
	}
	if p.APIToken == "" {
		fail("APIToken", errors.New("missing; set it to a Cloudflare API token with the permissions Zone:Read and DNS:Edit on the zone"))
	} else if err := checkToken(p.APIToken); err != nil {
		fail("APIToken", err)
	}
	if p.ZoneToken != "" {
		if err := checkToken(p.ZoneToken); err != nil {
			fail("ZoneToken", err)
		}
	}
	if p.ZoneID != "" && !isZoneID(p.ZoneID) {
		fail("ZoneID", fmt.Errorf("invalid zone ID %q; copy the 32 hexadecimal digits of the Zone ID from the zone's Overview page in the Cloudflare dashboard", p.ZoneID))
	}
	if p.Timeout < 0 {
		fail("Timeout", fmt.Errorf("negative duration %s; use a positive duration such as 30s, or zero for the default of %s", p.Timeout, DefaultTimeout))
	}
	r := p.Retry
	if r.MaxAttempts < 0 || r.BaseDelay < 0 || r.MaxDelay < 0 || r.MaxWait < 0 {
		fail("Retry", errors.New("negative value; use zero for the defaults or positive values"))
	}
	return errors.Join(errs...)
}

// checkToken rejects tokens that cannot be valid, without quoting them.
func checkToken(token string) error {
	if strings.HasPrefix(token, "Bearer ") {
		return errors.New(`invalid: the token starts with "Bearer "; set only the token itself`)
	}
	for _, r := range token {
		if r > unicode.MaxASCII || unicode.IsSpace(r) || unicode.IsControl(r) {
			return errors.New("invalid: the token contains a space, line break or non-ASCII character, which Cloudflare API tokens never contain; copy the token again")
		}
	}
	return nil
}

func isZoneID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for _, r := range id {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}

// init validates the fields and builds the state on the first call.
func (p *Provider) init() (*state, error) {
	p.once.Do(func() {
		if err := p.Validate(); err != nil {
			p.initErr = err
			return
		}
		p.state = p.newState()
	})
	return p.state, p.initErr
}

func (p *Provider) newState() *state {
	logger := p.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	timeout := p.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}

	client := &http.Client{}
	if p.HTTPClient != nil {
		*client = *p.HTTPClient
	}
	base := client.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	client.Transport = &retryTransport{base: base, policy: p.Retry.withDefaults(), timeout: timeout, logger: logger}

	zones := newZoneCache()
	api := &apiClient{http: client, zones: zones, logger: logger}
	s := &state{
		api:       api,
		zones:     zones,
		logger:    logger,
		names:     settingNames(p.SettingNames),
		apiToken:  p.APIToken,
		zoneToken: p.ZoneToken,
		zoneID:    strings.ToLower(p.ZoneID),
	}
	s.lib = &libcloudflare.Provider{APIToken: p.APIToken, ZoneToken: p.ZoneToken, HTTPClient: api}
	return s
}

// AppendRecords adds the TXT records to zone and returns them as the API
// stored them. A record whose name, type and value already exist counts as
// added. Record names may be relative to the zone or fully qualified with
// a trailing dot, in any case. On error, the records added so far are
// returned with it.
func (p *Provider) AppendRecords(ctx context.Context, zone string, records []libdns.Record) ([]libdns.Record, error) {
	s, z, recs, err := p.prepare(ctx, zone, records)
	if err != nil || len(recs) == 0 {
		return nil, err
	}
	added := make([]libdns.Record, len(recs))
	err = forEach(ctx, recs, func(ctx context.Context, i int, rec libdns.TXT) error {
		r, err := s.add(ctx, z, rec)
		added[i] = r
		return err
	})
	return compact(added), err
}

// DeleteRecords deletes the TXT records, each matched by name and exact
// value, from zone and returns the ones it deleted. A record that does not
// exist counts as deleted but is not returned. Other values at the same
// name are kept.
func (p *Provider) DeleteRecords(ctx context.Context, zone string, records []libdns.Record) ([]libdns.Record, error) {
	s, z, recs, err := p.prepare(ctx, zone, records)
	if err != nil || len(recs) == 0 {
		return nil, err
	}
	deleted := make([]libdns.Record, len(recs))
	err = forEach(ctx, recs, func(ctx context.Context, i int, rec libdns.TXT) error {
		ok, err := s.remove(ctx, z, rec)
		if ok {
			deleted[i] = rec
		}
		return err
	})
	return compact(deleted), err
}

// prepare checks the arguments of a record call and finds the zone.
func (p *Provider) prepare(ctx context.Context, zone string, records []libdns.Record) (*state, zoneInfo, []libdns.TXT, error) {
	s, err := p.init()
	if err != nil {
		return nil, zoneInfo{}, nil, err
	}
	name, err := canonicalZone(zone)
	if err != nil {
		return nil, zoneInfo{}, nil, err
	}
	recs, err := txtRecords(records, name)
	if err != nil || len(recs) == 0 {
		return nil, zoneInfo{}, nil, err
	}
	z, err := s.zone(ctx, name)
	if err != nil {
		return nil, zoneInfo{}, nil, err
	}
	return s, z, recs, nil
}

// forEach calls fn for each record, parallelRequests at a time, and stops
// starting new calls after the first error, which it returns.
func forEach(ctx context.Context, recs []libdns.TXT, fn func(context.Context, int, libdns.TXT) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallelRequests)
	for i, rec := range recs {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error { return fn(gctx, i, rec) })
	}
	return g.Wait()
}

func compact(recs []libdns.Record) []libdns.Record {
	out := recs[:0]
	for _, r := range recs {
		if r != nil {
			out = append(out, r)
		}
	}
	return out
}

// add creates one record through libdns/cloudflare, which sends one POST
// and returns an error for any error response, including the one that
// reports that the record already exists.
func (s *state) add(ctx context.Context, z zoneInfo, rec libdns.TXT) (libdns.Record, error) {
	ex := &exchange{}
	out, err := s.lib.AppendRecords(withExchange(ctx, ex), z.Name, []libdns.Record{rec})
	if err == nil {
		if len(out) == 1 {
			return out[0], nil
		}
		return rec, nil
	}
	if r, ok := ex.last(); ok && r.method == http.MethodPost && r.hasCode(CodeRecordExists, CodeIdenticalRecordExists) {
		s.logger.LogAttrs(ctx, slog.LevelDebug, "TXT record already exists",
			slog.String("zone", z.Name), slog.String("name", rec.Name), slog.String("value", rec.Text))
		return rec, nil
	}
	r, _ := ex.last()
	return nil, s.requestError(ctx, fmt.Sprintf("adding TXT record %q to zone %s", rec.Name, z.Name), r.orError(err), "APIToken", z.Name)
}

// remove deletes one record through libdns/cloudflare, which lists the
// records with the name, type TXT and a content filter, picks the one
// whose content equals the value (quoted or not), and deletes it by ID. It
// reports whether a record was deleted.
func (s *state) remove(ctx context.Context, z zoneInfo, rec libdns.TXT) (bool, error) {
	ex := &exchange{}
	_, err := s.lib.DeleteRecords(withExchange(ctx, ex), z.Name, []libdns.Record{rec})
	deleted := ex.succeeded(http.MethodDelete)
	op := fmt.Sprintf("deleting TXT record %q from zone %s", rec.Name, z.Name)
	if err == nil {
		// For TXT records, libdns/cloudflare v0.2.2 drops the error of the
		// search and reports no match, so a failed search would pass for
		// a record that is already gone.
		if failed, ok := ex.failed(); ok {
			return false, s.requestError(ctx, op, failed, "APIToken", z.Name)
		}
		return deleted, nil
	}
	r, _ := ex.last()
	if r.method == http.MethodDelete && (r.status == http.StatusNotFound || r.hasCode(CodeRecordNotFound)) {
		// Deleted in the meantime, or by an attempt whose response was lost.
		return false, nil
	}
	return false, s.requestError(ctx, op, r.orError(err), "APIToken", z.Name)
}

// orError returns r, or a reply carrying err when r contains no response, as
// when libdns/cloudflare fails before sending a request.
func (r reply) orError(err error) reply {
	if r.status == 0 && r.err == nil {
		r.err = err
	}
	return r
}

// requestError builds the error of a failed request. tokenField is the
// field of the token that the request carried.
func (s *state) requestError(ctx context.Context, op string, r reply, tokenField, zone string) error {
	if ctxErr := context.Cause(ctx); ctxErr != nil {
		return fmt.Errorf("cloudflare: %s: %w", op, ctxErr)
	}
	if r.status == 0 || (r.status >= 200 && r.status <= 299 && len(r.envelope.Errors) == 0) {
		err := r.err
		if err == nil {
			err = errors.New("no response")
		}
		if r.attempts > 1 {
			return fmt.Errorf("cloudflare: %s failed after %d attempts: %w", op, r.attempts, err)
		}
		return fmt.Errorf("cloudflare: %s failed: %w", op, err)
	}
	return &APIError{
		Op:         op,
		StatusCode: r.status,
		Errors:     r.envelope.Errors,
		Attempts:   r.attempts,
		RetryAfter: r.retryAfter,
		Hint:       s.hint(r, tokenField, zone),
	}
}

// hint suggests what to change after an error response.
func (s *state) hint(r reply, tokenField, zone string) string {
	token := s.names.of(tokenField)
	where := "the zone"
	if zone != "" {
		where = "zone " + zone
	}
	switch {
	case r.hasCode(codeInvalidHeaders, codeInvalidAuthHeader, codeMissingAuth):
		return fmt.Sprintf("the API rejected the Authorization header; set %s to the API token itself, as shown once when the token was created", token)
	case r.status == http.StatusUnauthorized || r.status == http.StatusForbidden:
		return fmt.Sprintf("the token set by %s is invalid, expired, or lacks a permission; it needs %s on %s", token, s.permissionsOf(tokenField), where)
	case r.status == http.StatusTooManyRequests:
		wait := ""
		if r.retryAfter != "" {
			wait = " (Retry-After: " + r.retryAfter + ")"
		}
		return "the API's rate limit was reached" + wait + "; wait a few minutes and try again"
	case r.status >= 500:
		return "the API failed; try again later"
	default:
		return ""
	}
}

// permissionsOf names the permissions that the token in field needs.
func (s *state) permissionsOf(field string) string {
	switch {
	case field == "ZoneToken":
		return "Zone:Read"
	case s.zoneToken != "" || s.zoneID != "":
		return "DNS:Edit"
	default:
		return "Zone:Read and DNS:Edit"
	}
}

// permissionHint returns which token needs which permission on a zone
// that was not found.
func (s *state) permissionHint() string {
	if s.zoneID != "" {
		return fmt.Sprintf("%s limits the provider to one zone; unset it to use other zones", s.names.of("ZoneID"))
	}
	if s.zoneToken != "" {
		return fmt.Sprintf("check that the zone is in the Cloudflare account, that the token set by %s has Zone:Read on it, and that the token set by %s has DNS:Edit on it",
			s.names.of("ZoneToken"), s.names.of("APIToken"))
	}
	return fmt.Sprintf("check that the zone is in the Cloudflare account and that the token set by %s has the permissions Zone:Read and DNS:Edit on it",
		s.names.of("APIToken"))
}

func (s *state) lookupToken() string {
	if s.zoneToken != "" {
		return s.zoneToken
	}
	return s.apiToken
}

func (s *state) lookupTokenField() string {
	if s.zoneToken != "" {
		return "ZoneToken"
	}
	return "APIToken"
}

// Interface guards.
var (
	_ libdns.RecordAppender = (*Provider)(nil)
	_ libdns.RecordDeleter  = (*Provider)(nil)
	_ libdns.ZoneLister     = (*Provider)(nil)
)
