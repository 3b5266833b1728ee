package route53

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
)

// hostedZone is a hosted zone as this package uses it.
type hostedZone struct {
	id      string // without "/hostedzone/"
	name    string // normalized
	private bool
}

func (hz hostedZone) String() string {
	if hz.private {
		return hz.id + " (private " + hz.name + ")"
	}
	return hz.id + " (" + hz.name + ")"
}

func newHostedZone(z types.HostedZone) hostedZone {
	hz := hostedZone{
		id:   strings.TrimPrefix(aws.ToString(z.Id), "/hostedzone/"),
		name: normalizeName(aws.ToString(z.Name)),
	}
	if z.Config != nil {
		hz.private = z.Config.PrivateZone
	}
	return hz
}

// zonesPerPage is the maximum MaxItems of ListHostedZonesByName.
const zonesPerPage = 100

// listHostedZones pages through ListHostedZonesByName from the name start
// ("" for the first zone) for as long as keep accepts the zones, which
// come in the order of [sortKey]. A nil keep accepts every zone.
func (p *Provider) listHostedZones(ctx context.Context, start string, keep func(hostedZone) bool) ([]hostedZone, error) {
	in := &route53.ListHostedZonesByNameInput{MaxItems: aws.Int32(zonesPerPage)}
	if start != "" {
		in.DNSName = aws.String(strings.TrimSuffix(start, "."))
	}
	var zones []hostedZone
	for {
		out, err := p.client.ListHostedZonesByName(ctx, in)
		if err != nil {
			return nil, p.explainAPIError(err, hostedZone{})
		}
		for _, z := range out.HostedZones {
			hz := newHostedZone(z)
			if keep != nil && !keep(hz) {
				return zones, nil
			}
			zones = append(zones, hz)
		}
		if !out.IsTruncated || out.NextDNSName == nil {
			return zones, nil
		}
		in.DNSName, in.HostedZoneId = out.NextDNSName, out.NextHostedZoneId
	}
}

// candidateZones returns the hosted zones that may hold records of zone:
// every hosted zone named zone or below it, and, when no public one is
// named zone, the hosted zones of the nearest parent name that has a
// public one. Zones below zone come in the same listing because they sort
// right after it. The result is cached per zone.
func (p *Provider) candidateZones(ctx context.Context, zone string) ([]hostedZone, error) {
	p.mu.Lock()
	cached, ok := p.zones[zone]
	p.mu.Unlock()
	if ok {
		return cached, nil
	}

	zones, err := p.listHostedZones(ctx, zone, func(hz hostedZone) bool { return isSubdomain(hz.name, zone) })
	if err != nil {
		return nil, err
	}
	for parent := parentName(zone); !hasPublicZone(zones, zone) && parent != ""; parent = parentName(parent) {
		named, err := p.listHostedZones(ctx, parent, func(hz hostedZone) bool { return hz.name == parent })
		if err != nil {
			return nil, err
		}
		zones = append(zones, named...)
		if hasPublicZone(named, parent) {
			break
		}
	}

	p.mu.Lock()
	p.zones[zone] = zones
	p.mu.Unlock()
	p.log.DebugContext(ctx, "found Route 53 hosted zones", "zone", zone, "hosted_zones", len(zones))
	return zones, nil
}

func hasPublicZone(zones []hostedZone, name string) bool {
	for _, hz := range zones {
		if hz.name == name && !hz.private {
			return true
		}
	}
	return false
}

// ErrZoneNotFound is wrapped by the errors that report that no usable
// hosted zone contains a record.
var ErrZoneNotFound = errors.New("no hosted zone found")

// zoneForName picks the public hosted zone with the longest name that
// contains name. Private zones are passed over, because a public
// certificate authority cannot query them, and named in the error when
// only they match.
func zoneForName(name string, zones []hostedZone, names settingNames) (hostedZone, error) {
	var best []hostedZone
	var private []string
	for _, hz := range zones {
		if !isSubdomain(name, hz.name) {
			continue
		}
		if hz.private {
			private = append(private, hz.id)
			continue
		}
		switch {
		case len(best) == 0 || len(hz.name) > len(best[0].name):
			best = []hostedZone{hz}
		case hz.name == best[0].name:
			best = append(best, hz)
		}
	}
	switch {
	case len(best) == 1:
		return best[0], nil
	case len(best) > 1:
		ids := make([]string, len(best))
		for i, hz := range best {
			ids[i] = hz.id
		}
		return hostedZone{}, names.errorf("HostedZoneID",
			"%d public hosted zones are named %s (%s); set %s to the one that the domain's NS records delegate to",
			len(best), best[0].name, strings.Join(ids, ", "), names.of("HostedZoneID"))
	case len(private) > 0:
		return hostedZone{}, names.errorf("HostedZoneID",
			"%w for %s: only private hosted zones contain it (%s), and a public certificate authority cannot query those; set %s to use one anyway",
			ErrZoneNotFound, name, strings.Join(private, ", "), names.of("HostedZoneID"))
	default:
		return hostedZone{}, fmt.Errorf("%w for %s: the credentials see no hosted zone with that name or a parent name; create the hosted zone, or check the account and the zone name", ErrZoneNotFound, name)
	}
}

// pinnedZone returns the hosted zone of Options.HostedZoneID, read once
// with GetHostedZone.
func (p *Provider) pinnedZone(ctx context.Context) (hostedZone, error) {
	p.mu.Lock()
	cached := p.pinned
	p.mu.Unlock()
	if cached != nil {
		return *cached, nil
	}
	out, err := p.client.GetHostedZone(ctx, &route53.GetHostedZoneInput{Id: aws.String(p.pinnedZoneID)})
	if err != nil {
		var notFound *types.NoSuchHostedZone
		if errors.As(err, &notFound) {
			return hostedZone{}, p.names.errorf("HostedZoneID",
				"hosted zone %s does not exist or belongs to another AWS account; check the ID and the credentials: %w", p.pinnedZoneID, err)
		}
		return hostedZone{}, p.explainAPIError(err, hostedZone{id: p.pinnedZoneID})
	}
	if out.HostedZone == nil {
		return hostedZone{}, fmt.Errorf("GetHostedZone %s returned no hosted zone", p.pinnedZoneID)
	}
	hz := newHostedZone(*out.HostedZone)
	p.mu.Lock()
	p.pinned = &hz
	p.mu.Unlock()
	return hz, nil
}
