package route53

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
)

// Page sizes of ListResourceRecordSets. The API reference states that it
// returns up to 300 record sets at a time.
const (
	maxSetsPerPage = 300
	// setsPerName estimates how many record sets lie between two challenge
	// names in a zone, such as A, AAAA and TXT at each host name. A page of
	// this many sets per name that is still needed usually covers them all.
	setsPerName = 4
)

// readSets returns the current simple record sets of the wanted keys, in
// hz. A key without a set is absent from the map.
//
// Each ListResourceRecordSets request starts at the first key not yet
// resolved. Route 53 returns the sets from that name and type on, so the
// first set of the page shows whether that key exists. When exact is
// false, the page is also larger and resolves the further keys it
// covers: a key whose name sorts before the last name of a truncated page,
// or any key when the page is the last. That inference relies on the
// documented sort order, which is known exactly only for names of plain
// characters (see [isPlainName]), so other keys always get their own
// request. With exact set, every key gets its own request of one set.
func (p *Provider) readSets(ctx context.Context, hz hostedZone, sets []*wantedSet, exact bool) (map[setKey]*types.ResourceRecordSet, error) {
	pending := make([]setKey, len(sets))
	for i, ws := range sets {
		pending[i] = ws.key
	}
	wanted := make(map[setKey]bool, len(pending))
	for _, key := range pending {
		wanted[key] = true
	}
	found := make(map[setKey]*types.ResourceRecordSet)

	for len(pending) > 0 {
		start := pending[0]
		size := 1
		if !exact && len(pending) > 1 {
			size = min(maxSetsPerPage, setsPerName*len(pending))
		}
		out, err := p.client.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{
			HostedZoneId:    aws.String(hz.id),
			StartRecordName: aws.String(start.name),
			StartRecordType: types.RRType(start.typ),
			MaxItems:        aws.Int32(int32(size)),
		})
		if err != nil {
			return nil, p.explainAPIError(err, hz)
		}

		// boundary is the last plain name of the page.
		boundary := ""
		for i := range out.ResourceRecordSets {
			rs := &out.ResourceRecordSets[i]
			key := setKey{name: normalizeName(aws.ToString(rs.Name)), typ: string(rs.Type)}
			if isPlainName(key.name) {
				boundary = key.name
			}
			if !wanted[key] || found[key] != nil {
				continue
			}
			if rs.SetIdentifier != nil || rs.AliasTarget != nil || rs.TrafficPolicyInstanceId != nil {
				return nil, fmt.Errorf("the %s record set %s in hosted zone %s is an alias or uses a routing policy (set identifier %q); this provider changes only simple record sets, so remove that set or delegate the name elsewhere",
					key.typ, key.name, hz, aws.ToString(rs.SetIdentifier))
			}
			found[key] = rs
		}

		next := pending[:0:0]
		for i, key := range pending {
			resolved := i == 0 || found[key] != nil
			if !exact && !resolved && isPlainName(key.name) && isPlainName(start.name) {
				resolved = !out.IsTruncated || boundary != "" && sortKey(key.name) < sortKey(boundary)
			}
			if !resolved {
				next = append(next, key)
			}
		}
		pending = next
	}
	return found, nil
}

// Limits of one ChangeResourceRecordSets request: 1,000 ResourceRecord
// elements and 32,000 characters in all Value elements, from the quotas
// page of the Route 53 Developer Guide (DNSLimitations.html) that the
// SDK's documentation of the operation links to.
const (
	maxRecordsPerBatch    = 1000
	maxValueCharsPerBatch = 32000
)

// splitBatches groups the plans into batches within the request limits.
// The changes of one record set always share a batch, because its DELETE
// and CREATE must apply together. A set too large for any batch gets one
// of its own, and Route 53 reports the limit.
func splitBatches(plans []setPlan) [][]setPlan {
	var batches [][]setPlan
	var batch []setPlan
	records, chars := 0, 0
	for _, plan := range plans {
		r, c := planSize(plan)
		if len(batch) > 0 && (records+r > maxRecordsPerBatch || chars+c > maxValueCharsPerBatch) {
			batches = append(batches, batch)
			batch, records, chars = nil, 0, 0
		}
		batch = append(batch, plan)
		records += r
		chars += c
	}
	if len(batch) > 0 {
		batches = append(batches, batch)
	}
	return batches
}

func planSize(plan setPlan) (records, chars int) {
	for _, c := range plan.changes {
		for _, rr := range c.ResourceRecordSet.ResourceRecords {
			records++
			chars += len(aws.ToString(rr.Value))
		}
	}
	return records, chars
}

// submit sends the plans in as few change batches as the limits allow. It
// returns the change IDs and the plans of the batches that Route 53
// accepted, and stops at the first error.
func (p *Provider) submit(ctx context.Context, op operation, hz hostedZone, plans []setPlan) ([]string, []setPlan, error) {
	var ids []string
	var applied []setPlan
	for _, batch := range splitBatches(plans) {
		var changes []types.Change
		values := 0
		for _, plan := range batch {
			changes = append(changes, plan.changes...)
			values += len(plan.texts)
		}
		out, err := p.client.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{
			HostedZoneId: aws.String(hz.id),
			ChangeBatch: &types.ChangeBatch{
				Changes: changes,
				Comment: aws.String(fmt.Sprintf("dnscert: %s %d TXT values", op, values)),
			},
		})
		if err != nil {
			return ids, applied, err
		}
		id := ""
		if out.ChangeInfo != nil {
			id = strings.TrimPrefix(aws.ToString(out.ChangeInfo.Id), "/change/")
		}
		if id == "" {
			return ids, applied, errors.New("ChangeResourceRecordSets returned no change ID")
		}
		ids = append(ids, id)
		applied = append(applied, batch...)
		p.log.DebugContext(ctx, "submitted Route 53 change batch",
			"hosted_zone", hz.id, "change", id, "operation", op.String(), "values", values, "changes", len(changes))
	}
	return ids, applied, nil
}

// maxPollInterval caps the wait between GetChange requests, unless the
// configured first interval is longer.
const maxPollInterval = 10 * time.Second

// waitInSync polls GetChange for each change until Route 53 reports it
// INSYNC, starting after the poll interval and doubling the wait up to
// maxPollInterval. The whole wait is bounded by the sync timeout and ctx.
func (p *Provider) waitInSync(ctx context.Context, hz hostedZone, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	began := time.Now()
	waitCtx, cancel := context.WithTimeout(ctx, p.syncTimeout)
	defer cancel()
	timedOut := func(id string) error {
		return p.names.errorf("SyncTimeout",
			"change %s is still PENDING after %s; Route 53 usually applies a change to all its name servers within 60 seconds, so retry later or raise %s",
			id, p.syncTimeout, p.names.of("SyncTimeout"))
	}
	for _, id := range slices.Clone(ids) {
		interval := p.pollInterval
		for {
			if err := sleep(waitCtx, interval); err != nil {
				if ctx.Err() != nil {
					return fmt.Errorf("waiting for change %s to become INSYNC: %w", id, ctx.Err())
				}
				return timedOut(id)
			}
			out, err := p.client.GetChange(waitCtx, &route53.GetChangeInput{Id: aws.String(id)})
			if err != nil {
				if ctx.Err() == nil && waitCtx.Err() != nil {
					return timedOut(id)
				}
				return p.explainAPIError(err, hz)
			}
			if out.ChangeInfo != nil && out.ChangeInfo.Status == types.ChangeStatusInsync {
				break
			}
			interval = min(2*interval, max(maxPollInterval, p.pollInterval))
		}
	}
	p.log.DebugContext(ctx, "Route 53 changes are INSYNC", "hosted_zone", hz.id, "changes", len(ids), "waited", time.Since(began))
	return nil
}
