package cloudflare

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/libdns/libdns"
)

// zonesPerPage is the page size of zone lists, the maximum that the API
// accepts for GET /zones.
const zonesPerPage = 50

// maxZonePages stops a zone list whose result_info never reaches the last
// page.
const maxZonePages = 10_000

// idZone is the zone of the configured zone ID. Its name is verified when
// it was read from the API, and otherwise taken from the first request.
type idZone struct {
	zone     zoneInfo
	verified bool
}

// zoneInfo is a Cloudflare zone. Name is lower case without a trailing dot.
type zoneInfo struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// zoneCache holds the zones found and the names that are not zones the
// token can see, for the lifetime of a Provider.
type zoneCache struct {
	mu      sync.Mutex
	zones   map[string]zoneInfo    // by name
	missing map[string]ZoneAttempt // by name
}

func newZoneCache() *zoneCache {
	return &zoneCache{zones: make(map[string]zoneInfo), missing: make(map[string]ZoneAttempt)}
}

func (c *zoneCache) found(name string) (zoneInfo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	z, ok := c.zones[name]
	return z, ok
}

func (c *zoneCache) absent(name string) (*ZoneAttempt, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.missing[name]
	return &a, ok
}

func (c *zoneCache) addFound(z zoneInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.zones[z.Name] = z
	delete(c.missing, z.Name)
}

func (c *zoneCache) addMissing(a ZoneAttempt) *ZoneAttempt {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.missing[a.Zone] = a
	return &a
}

// zone returns the zone called name (canonical), looking it up once per
// Provider. A name that is not a zone the token can see gives a
// *ZoneNotFoundError.
func (s *state) zone(ctx context.Context, name string) (zoneInfo, error) {
	missing, err := s.findZone(ctx, name)
	if err != nil {
		return zoneInfo{}, err
	}
	if missing != nil {
		return zoneInfo{}, &ZoneNotFoundError{Name: name, Tried: []ZoneAttempt{*missing}, Hint: s.permissionHint()}
	}
	z, _ := s.zones.found(name)
	return z, nil
}

// findZone looks up the zone called name and caches the outcome. It
// returns the failed attempt when name is not a zone the token can see,
// and an error when the lookup itself failed.
func (s *state) findZone(ctx context.Context, name string) (*ZoneAttempt, error) {
	if _, ok := s.zones.found(name); ok {
		return nil, nil
	}
	if missing, ok := s.zones.absent(name); ok {
		return missing, nil
	}
	// One lookup at a time, so concurrent calls for one zone send one
	// request.
	s.lookupMu.Lock()
	defer s.lookupMu.Unlock()
	if _, ok := s.zones.found(name); ok {
		return nil, nil
	}
	if missing, ok := s.zones.absent(name); ok {
		return missing, nil
	}

	if s.zoneID != "" {
		return s.matchZoneID(ctx, name)
	}

	r, err := s.api.get(ctx, "/zones", url.Values{"name": {name}}, s.lookupToken())
	if err != nil {
		return nil, s.requestError(ctx, "looking up zone "+name, reply{err: err, attempts: r.attempts}, s.lookupTokenField(), name)
	}
	switch {
	case r.status == http.StatusForbidden:
		return s.zones.addMissing(ZoneAttempt{Zone: name, StatusCode: r.status, Reason: "HTTP 403" + messages(r.envelope.Errors)}), nil
	case r.status >= 200 && r.status <= 299:
		var zones []zoneInfo
		if err := json.Unmarshal(r.envelope.Result, &zones); err != nil {
			return nil, fmt.Errorf("cloudflare: looking up zone %s: decoding the zone list: %w", name, err)
		}
		for _, z := range zones {
			if canonicalName(z.Name) == name {
				s.zones.addFound(zoneInfo{ID: z.ID, Name: name})
				return nil, nil
			}
		}
		return s.zones.addMissing(ZoneAttempt{Zone: name, StatusCode: r.status, Reason: "no zone of this name is visible to the token"}), nil
	default:
		return nil, s.requestError(ctx, "looking up zone "+name, r, s.lookupTokenField(), name)
	}
}

// matchZoneID reports whether name is the zone of the configured zone ID.
func (s *state) matchZoneID(ctx context.Context, name string) (*ZoneAttempt, error) {
	z, err := s.zoneOfID(ctx, name)
	if err != nil {
		return nil, err
	}
	if z.Name == name {
		return nil, nil
	}
	return s.zones.addMissing(ZoneAttempt{Zone: name, Reason: fmt.Sprintf("%s selects zone %s", s.names.of("ZoneID"), z.Name)}), nil
}

// zoneOfID returns the zone of the configured zone ID, reading it from the
// API on the first call. The caller holds lookupMu.
//
// A token with DNS:Edit but without Zone:Read gets HTTP 403 when it reads
// the zone. Its name then cannot be checked, so the zone ID is taken to be
// the zone named by the first call, name, and every other name counts as
// not found. An empty name means the caller needs the name from the API,
// and the 403 is returned.
func (s *state) zoneOfID(ctx context.Context, name string) (zoneInfo, error) {
	if s.idZone != nil && (s.idZone.verified || name != "") {
		return s.idZone.zone, nil
	}

	op := fmt.Sprintf("reading zone ID %s set by %s", s.zoneID, s.names.of("ZoneID"))
	r, err := s.api.get(ctx, "/zones/"+url.PathEscape(s.zoneID), nil, s.lookupToken())
	if err != nil {
		return zoneInfo{}, s.requestError(ctx, op, reply{err: err, attempts: r.attempts}, s.lookupTokenField(), "")
	}

	if r.status == http.StatusForbidden && name != "" {
		s.logger.LogAttrs(ctx, slog.LevelWarn, "cannot read the zone of the configured zone ID to check its name; using it for the zone of the first request",
			slog.String("zone_id", s.zoneID), slog.String("zone", name), slog.Int("status", r.status))
		z := zoneInfo{ID: s.zoneID, Name: name}
		s.idZone = &idZone{zone: z}
		s.zones.addFound(z)
		return z, nil
	}
	if r.status < 200 || r.status > 299 {
		e := s.requestError(ctx, op, r, s.lookupTokenField(), "")
		if apiErr, ok := e.(*APIError); ok && r.status < 500 && r.status != http.StatusTooManyRequests {
			apiErr.Hint = fmt.Sprintf("check the zone ID, which is on the zone's Overview page in the Cloudflare dashboard, and give the token set by %s the permission Zone:Read on that zone, or unset %s",
				s.names.of(s.lookupTokenField()), s.names.of("ZoneID"))
		}
		return zoneInfo{}, e
	}

	var z zoneInfo
	if err := json.Unmarshal(r.envelope.Result, &z); err != nil || z.Name == "" {
		return zoneInfo{}, fmt.Errorf("cloudflare: %s: the response contains no zone name", op)
	}
	z.Name = canonicalName(z.Name)
	s.idZone = &idZone{zone: z, verified: true}
	s.zones.addFound(z)
	return z, nil
}

// listZones returns every zone the token can see, page by page, and caches
// them.
func (s *state) listZones(ctx context.Context) ([]zoneInfo, error) {
	if s.zoneID != "" {
		s.lookupMu.Lock()
		defer s.lookupMu.Unlock()
		z, err := s.zoneOfID(ctx, "")
		if err != nil {
			return nil, err
		}
		return []zoneInfo{z}, nil
	}

	var all []zoneInfo
	for page := 1; ; page++ {
		if page > maxZonePages {
			return nil, fmt.Errorf("cloudflare: listing zones: more than %d pages; the API's result_info never reached the last page", maxZonePages)
		}
		query := url.Values{"page": {strconv.Itoa(page)}, "per_page": {strconv.Itoa(zonesPerPage)}}
		r, err := s.api.get(ctx, "/zones", query, s.lookupToken())
		if err != nil {
			return nil, s.requestError(ctx, "listing zones", reply{err: err, attempts: r.attempts}, s.lookupTokenField(), "")
		}
		if r.status < 200 || r.status > 299 {
			return nil, s.requestError(ctx, "listing zones", r, s.lookupTokenField(), "")
		}
		var zones []zoneInfo
		if err := json.Unmarshal(r.envelope.Result, &zones); err != nil {
			return nil, fmt.Errorf("cloudflare: listing zones: decoding page %d: %w", page, err)
		}
		for _, z := range zones {
			z.Name = canonicalName(z.Name)
			all = append(all, z)
			s.zones.addFound(z)
		}
		info := r.envelope.ResultInfo
		if len(zones) == 0 || info == nil || page >= info.TotalPages {
			return all, nil
		}
	}
}

// ListZones returns the zones that the token can see, or only the zone of
// ZoneID when that is set. It follows every page of the zone list, which
// libdns/cloudflare v0.2.2 does not. The zones are remembered, so adding
// records to one of them needs no further lookup.
func (p *Provider) ListZones(ctx context.Context) ([]libdns.Zone, error) {
	s, err := p.init()
	if err != nil {
		return nil, err
	}
	zones, err := s.listZones(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]libdns.Zone, len(zones))
	for i, z := range zones {
		out[i] = libdns.Zone{Name: z.Name + "."}
	}
	return out, nil
}

// FindZone returns the zone, with a trailing dot, that holds the domain
// name. It looks up name and each parent name with at least two labels,
// longest first, and skips the names that are not zones the token can see.
// When none is, the *ZoneNotFoundError lists the names tried and the
// permissions the token needs. Every outcome is remembered for the
// lifetime of p.
func (p *Provider) FindZone(ctx context.Context, name string) (string, error) {
	s, err := p.init()
	if err != nil {
		return "", err
	}
	fqdn, err := canonicalZone(name)
	if err != nil {
		return "", err
	}
	notFound := &ZoneNotFoundError{Name: fqdn, Hint: s.permissionHint()}
	labels := strings.Split(fqdn, ".")
	for i := 0; i < len(labels)-1; i++ {
		candidate := strings.Join(labels[i:], ".")
		missing, err := s.findZone(ctx, candidate)
		if err != nil {
			return "", err
		}
		if missing == nil {
			return candidate + ".", nil
		}
		notFound.Tried = append(notFound.Tried, *missing)
	}
	return "", notFound
}

// messages formats the errors list of a response as ", code 9109: ...".
func messages(list []Message) string {
	var b strings.Builder
	for _, m := range list {
		b.WriteString(", ")
		b.WriteString(m.String())
	}
	return b.String()
}
