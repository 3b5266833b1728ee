package route53

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/libdns/libdns"
)

// defaultTTL is the TTL of a new record set when the records give none.
const defaultTTL = 60 * time.Second

// maxConflictAttempts bounds the read-and-change rounds of one call when
// Route 53 rejects a change batch because a record set changed in between.
const maxConflictAttempts = 5

type operation int

const (
	opAppend operation = iota
	opDelete
)

func (op operation) String() string {
	if op == opDelete {
		return "removing"
	}
	return "adding"
}

// setKey identifies a simple record set by normalized name and type.
type setKey struct {
	name, typ string
}

// compareKeys orders keys as ListResourceRecordSets orders record sets.
func compareKeys(a, b setKey) int {
	if c := strings.Compare(sortKey(a.name), sortKey(b.name)); c != 0 {
		return c
	}
	return strings.Compare(a.typ, b.typ)
}

// wantedSet is the values that one call adds to or removes from one
// record set.
type wantedSet struct {
	key   setKey
	texts []string // without duplicates, in input order
	ttl   int64    // seconds, for a set that does not exist yet
}

// parseRecords normalizes zone and groups the records by record set,
// sorted by [compareKeys].
func parseRecords(zone string, records []libdns.Record) (string, []*wantedSet, error) {
	zone = strings.TrimSpace(zone)
	if zone == "" || zone == "." {
		return "", nil, fmt.Errorf("route53: empty zone name; pass the zone that contains the records, such as example.com.")
	}
	zoneName := normalizeName(zone)
	index := make(map[setKey]*wantedSet)
	var sets []*wantedSet
	for _, rec := range records {
		rr := rec.RR()
		if !strings.EqualFold(rr.Type, "TXT") {
			return "", nil, fmt.Errorf("route53: record %q has type %s; this provider manages TXT records only", rr.Name, rr.Type)
		}
		if rr.TTL < 0 {
			return "", nil, fmt.Errorf("route53: record %q has the negative TTL %s; use a positive TTL, or 0 for %s", rr.Name, rr.TTL, defaultTTL)
		}
		name := normalizeName(libdns.AbsoluteName(rr.Name, zoneName))
		if !isSubdomain(name, zoneName) {
			return "", nil, fmt.Errorf("route53: record name %q is outside the zone %s; give names relative to the zone, or absolute names inside it", rr.Name, zoneName)
		}
		ttl := rr.TTL
		if ttl == 0 {
			ttl = defaultTTL
		}
		seconds := int64(math.Ceil(ttl.Seconds()))

		key := setKey{name: name, typ: "TXT"}
		ws, ok := index[key]
		if !ok {
			ws = &wantedSet{key: key, ttl: seconds}
			index[key] = ws
			sets = append(sets, ws)
		}
		ws.ttl = min(ws.ttl, seconds)
		if !slices.Contains(ws.texts, rr.Data) {
			ws.texts = append(ws.texts, rr.Data)
		}
	}
	slices.SortFunc(sets, func(a, b *wantedSet) int { return compareKeys(a.key, b.key) })
	return zoneName, sets, nil
}

// zoneGroup is the part of a call that goes to one hosted zone.
type zoneGroup struct {
	zone hostedZone
	sets []*wantedSet
}

// assignZones puts each record set into the hosted zone that holds it:
// the pinned zone, or the public hosted zone with the longest name that
// contains the set's name.
func (p *Provider) assignZones(ctx context.Context, zoneName string, sets []*wantedSet) ([]zoneGroup, error) {
	if p.pinnedZoneID != "" {
		hz, err := p.pinnedZone(ctx)
		if err != nil {
			return nil, err
		}
		for _, ws := range sets {
			if !isSubdomain(ws.key.name, hz.name) {
				return nil, p.names.errorf("HostedZoneID",
					"the record %s is outside the hosted zone %s; set the ID of the hosted zone that contains it, or unset %s to find the zone by name",
					ws.key.name, hz, p.names.of("HostedZoneID"))
			}
		}
		return []zoneGroup{{zone: hz, sets: sets}}, nil
	}

	candidates, err := p.candidateZones(ctx, zoneName)
	if err != nil {
		return nil, err
	}
	var groups []zoneGroup
	for _, ws := range sets {
		hz, err := zoneForName(ws.key.name, candidates, p.names)
		if err != nil {
			return nil, err
		}
		i := slices.IndexFunc(groups, func(g zoneGroup) bool { return g.zone.id == hz.id })
		if i < 0 {
			groups = append(groups, zoneGroup{zone: hz})
			i = len(groups) - 1
		}
		groups[i].sets = append(groups[i].sets, ws)
	}
	return groups, nil
}

func (p *Provider) update(ctx context.Context, op operation, zone string, records []libdns.Record) ([]libdns.Record, error) {
	if len(records) == 0 {
		return nil, nil
	}
	zoneName, sets, err := parseRecords(zone, records)
	if err != nil {
		return nil, err
	}
	if err := p.checkCredentials(ctx); err != nil {
		return nil, wrapError(nil, err)
	}
	groups, err := p.assignZones(ctx, zoneName, sets)
	if err != nil {
		return nil, wrapError(nil, err)
	}

	var done []libdns.Record
	for _, g := range groups {
		plans, err := p.updateZone(ctx, op, g.zone, g.sets)
		for _, plan := range plans {
			for _, text := range plan.texts {
				done = append(done, libdns.TXT{
					Name: libdns.RelativeName(plan.key.name, zoneName),
					TTL:  time.Duration(plan.ttl) * time.Second,
					Text: text,
				})
			}
		}
		if err != nil {
			return done, wrapError(&g.zone, err)
		}
	}
	return done, nil
}

// wrapError adds the package name and, when hz is not nil, the hosted
// zone to err.
func wrapError(hz *hostedZone, err error) error {
	if hz != nil {
		return fmt.Errorf("route53: hosted zone %s: %w", hz, err)
	}
	return fmt.Errorf("route53: %w", err)
}

// updateZone reads the record sets, sends the change batches and waits
// until they are INSYNC. When Route 53 rejects a batch as invalid, it reads
// the sets again, one by one, and retries as long as they changed since the
// previous read: another client changed them, or the first, batched read
// missed a set. It returns the plans that Route 53 accepted.
func (p *Provider) updateZone(ctx context.Context, op operation, hz hostedZone, sets []*wantedSet) ([]setPlan, error) {
	var accepted []setPlan
	var changeIDs []string
	var previous map[setKey]*types.ResourceRecordSet
	var rejection error
	for attempt := 1; ; attempt++ {
		current, err := p.readSets(ctx, hz, sets, attempt > 1)
		if err != nil {
			return accepted, err
		}
		if rejection != nil && sameRecordSets(previous, current) {
			return accepted, fmt.Errorf("Route 53 rejected the change batch, and the record sets have not changed since, so retrying cannot help: %w", rejection)
		}
		plans := planChanges(op, sets, current)
		if len(plans) == 0 {
			break
		}
		ids, applied, err := p.submit(ctx, op, hz, plans)
		changeIDs = append(changeIDs, ids...)
		accepted = append(accepted, applied...)
		if err == nil {
			break
		}
		var invalid *types.InvalidChangeBatch
		if !errors.As(err, &invalid) {
			return accepted, p.explainAPIError(err, hz)
		}
		if attempt == maxConflictAttempts {
			return accepted, fmt.Errorf("the record sets kept changing between read and change; gave up after %d attempts: %w", attempt, err)
		}
		p.log.WarnContext(ctx, "Route 53 rejected the change batch; reading the record sets again",
			"hosted_zone", hz.id, "attempt", attempt, "error", err)
		previous, rejection = current, err
		if err := sleep(ctx, jitter(conflictBaseDelay<<(attempt-1))); err != nil {
			return accepted, err
		}
	}
	return accepted, p.waitInSync(ctx, hz, changeIDs)
}

// conflictBaseDelay is the wait before the first re-read after a rejected
// change batch. It doubles with each further attempt.
const conflictBaseDelay = 200 * time.Millisecond

// sameRecordSets reports whether two reads found the same record sets.
func sameRecordSets(a, b map[setKey]*types.ResourceRecordSet) bool {
	if len(a) != len(b) {
		return false
	}
	for key, x := range a {
		y, ok := b[key]
		if !ok || (x == nil) != (y == nil) {
			return false
		}
		if x != nil && !slices.Equal(recordSetFingerprint(x), recordSetFingerprint(y)) {
			return false
		}
	}
	return true
}

func recordSetFingerprint(rs *types.ResourceRecordSet) []string {
	out := []string{aws.ToString(rs.Name), string(rs.Type), fmt.Sprint(aws.ToInt64(rs.TTL))}
	for _, rr := range rs.ResourceRecords {
		out = append(out, aws.ToString(rr.Value))
	}
	return out
}

// setPlan is the change to one record set.
type setPlan struct {
	key     setKey
	changes []types.Change
	texts   []string // the values added or removed
	ttl     int64    // the TTL of those values, in seconds
}

// planChanges turns the wanted values and the current record sets into
// changes. An existing set is deleted exactly as read and created again,
// so that Route 53 rejects the batch if the set changed since the read.
// UPSERT would overwrite that change instead.
func planChanges(op operation, sets []*wantedSet, current map[setKey]*types.ResourceRecordSet) []setPlan {
	var plans []setPlan
	for _, ws := range sets {
		cur := current[ws.key]
		var plan setPlan
		var ok bool
		if op == opAppend {
			plan, ok = planAppend(ws, cur)
		} else {
			plan, ok = planDelete(ws, cur)
		}
		if ok {
			plans = append(plans, plan)
		}
	}
	return plans
}

func planAppend(ws *wantedSet, cur *types.ResourceRecordSet) (setPlan, bool) {
	if cur == nil {
		rs := types.ResourceRecordSet{
			Name: aws.String(ws.key.name),
			Type: types.RRType(ws.key.typ),
			TTL:  aws.Int64(ws.ttl),
		}
		for _, text := range ws.texts {
			rs.ResourceRecords = append(rs.ResourceRecords, types.ResourceRecord{Value: aws.String(encodeTXT(text))})
		}
		return setPlan{
			key:     ws.key,
			changes: []types.Change{{Action: types.ChangeActionCreate, ResourceRecordSet: &rs}},
			texts:   ws.texts,
			ttl:     ws.ttl,
		}, true
	}

	present := make(map[string]bool)
	for _, rr := range cur.ResourceRecords {
		if text, ok := decodeTXT(aws.ToString(rr.Value)); ok {
			present[text] = true
		}
	}
	var added []string
	replacement := *cur
	replacement.ResourceRecords = slices.Clone(cur.ResourceRecords)
	for _, text := range ws.texts {
		if present[text] {
			continue
		}
		added = append(added, text)
		replacement.ResourceRecords = append(replacement.ResourceRecords, types.ResourceRecord{Value: aws.String(encodeTXT(text))})
	}
	if len(added) == 0 {
		return setPlan{}, false
	}
	old := *cur
	return setPlan{
		key: ws.key,
		changes: []types.Change{
			{Action: types.ChangeActionDelete, ResourceRecordSet: &old},
			{Action: types.ChangeActionCreate, ResourceRecordSet: &replacement},
		},
		texts: added,
		ttl:   aws.ToInt64(cur.TTL),
	}, true
}

func planDelete(ws *wantedSet, cur *types.ResourceRecordSet) (setPlan, bool) {
	if cur == nil {
		return setPlan{}, false
	}
	remove := make(map[string]bool)
	for _, text := range ws.texts {
		remove[text] = true
	}
	var removed []string
	remaining := *cur
	remaining.ResourceRecords = nil
	for _, rr := range cur.ResourceRecords {
		text, ok := decodeTXT(aws.ToString(rr.Value))
		if ok && remove[text] {
			if !slices.Contains(removed, text) {
				removed = append(removed, text)
			}
			continue
		}
		remaining.ResourceRecords = append(remaining.ResourceRecords, rr)
	}
	if len(removed) == 0 {
		return setPlan{}, false
	}
	old := *cur
	changes := []types.Change{{Action: types.ChangeActionDelete, ResourceRecordSet: &old}}
	if len(remaining.ResourceRecords) > 0 {
		changes = append(changes, types.Change{Action: types.ChangeActionCreate, ResourceRecordSet: &remaining})
	}
	return setPlan{key: ws.key, changes: changes, texts: removed, ttl: aws.ToInt64(cur.TTL)}, true
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
