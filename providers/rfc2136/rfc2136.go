// Package rfc2136 implements the libdns interfaces with DNS dynamic update
// (RFC 2136) authenticated by TSIG (RFC 8945), for any authoritative server
// that accepts signed updates: BIND, Knot, PowerDNS and others.
//
// Updates and zone transfers go over TCP to one server, normally the
// primary, because a secondary refuses or forwards updates. A BIND
// configuration that allows a key to change the TXT records of a zone, and
// to read the zone for [Provider.GetRecords], looks like this:
//
//	key "dnscert." { algorithm hmac-sha256; secret "<base64>"; };
//	zone "example.test" {
//		type primary;
//		update-policy { grant dnscert. zonesub TXT; };
//		allow-transfer { key dnscert.; };
//	};
//
// Record names follow libdns: relative to the zone ("_acme-challenge.www",
// or "@" for the apex). Absolute names with a trailing dot are accepted too
// and must lie inside the zone.
package rfc2136

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/libdns/libdns"
	"github.com/miekg/dns"
)

// DefaultTimeout bounds each call when neither the context deadline nor
// [Provider.Timeout] is shorter.
const DefaultTimeout = 10 * time.Second

// Provider changes records by RFC 2136 dynamic update. Its methods read
// the fields and never write them, so one value is safe for concurrent use
// as long as the caller does not change the fields meanwhile. Every method
// validates the fields first, as [Provider.Validate] does.
type Provider struct {
	// Nameserver is the server that receives updates: a host name or IP
	// address with an optional port ("ns1.example.test", "192.0.2.1:5353",
	// "[2001:db8::1]:53"). The port defaults to 53.
	Nameserver string

	// TSIGKey is the name of the TSIG key as configured on the server. It is
	// compared as a lower-case fully qualified name, so "DNSCert" and
	// "dnscert." are the same key. Empty means requests are not signed.
	TSIGKey string

	// TSIGSecret is the base64 secret of TSIGKey, as printed by tsig-keygen.
	TSIGSecret string

	// TSIGAlgorithm is the HMAC of the key: hmac-sha256 (when empty),
	// hmac-sha224, hmac-sha384, hmac-sha512 or hmac-sha1. Case and a trailing
	// dot are ignored. hmac-md5 is rejected because miekg/dns no longer
	// implements it.
	TSIGAlgorithm string

	// Timeout bounds each method call, including connecting. Zero means
	// DefaultTimeout. A context deadline that comes earlier wins.
	Timeout time.Duration

	// Logger receives debug records about requests. A nil Logger discards
	// them. Secrets are never logged.
	Logger *slog.Logger
}

var (
	_ libdns.RecordAppender = (*Provider)(nil)
	_ libdns.RecordDeleter  = (*Provider)(nil)
	_ libdns.RecordGetter   = (*Provider)(nil)
)

// AppendRecords adds recs to zone in one UPDATE message, as RFC 2136 section
// 2.5.1 additions. Other values of the same name and type stay in place, and
// the server ignores a value that already exists. It returns the records as
// sent: typed libdns values with names relative to the zone and TTLs
// truncated to whole seconds. An empty recs sends nothing.
//
// TXT text is sent as given, split into 255-byte character-strings when
// longer. Other types are parsed from their libdns zone-file data.
func (p *Provider) AppendRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	return p.change(ctx, zone, recs, false)
}

// DeleteRecords removes exactly the given values from zone in one UPDATE
// message, as RFC 2136 section 2.5.4 deletions (class NONE, TTL 0). Other
// values of the same name and type stay, and a value that does not exist is
// ignored by the server.
//
// Deviations from the libdns contract:
//   - Every record needs a type and a value. Deleting by name or type alone
//     would remove whole RRsets, which this package never does, so such a
//     record fails the call before anything is sent.
//   - The server matches on name, type and value. The TTL is ignored.
//   - It returns every record given, as typed libdns values, because an
//     update response does not say which values existed. Finding out
//     would need a zone transfer before the update.
//
// TXT text is split into 255-byte character-strings exactly as
// AppendRecords does. A value that another client stored with a different
// split is a different record on the wire and is not matched.
func (p *Provider) DeleteRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	return p.change(ctx, zone, recs, true)
}

// GetRecords reads zone by a full zone transfer (AXFR) over TCP, signed
// with the TSIG key when one is set, so the server must allow transfers to
// that key (BIND: allow-transfer { key NAME; };). It returns typed libdns
// records with names relative to the zone, the SOA once, and no DNSSEC
// records (RRSIG, NSEC, NSEC3, NSEC3PARAM, DNSKEY, CDS, CDNSKEY). A record
// whose data libdns cannot parse is returned as a [libdns.RR].
func (p *Provider) GetRecords(ctx context.Context, zone string) ([]libdns.Record, error) {
	s, err := p.settings()
	if err != nil {
		return nil, err
	}
	origin, err := canonicalZone(zone)
	if err != nil {
		return nil, err
	}
	rrs, err := s.transfer(ctx, origin)
	if err != nil {
		return nil, err
	}
	recs := s.zoneRecords(origin, rrs)
	s.logger.DebugContext(ctx, "rfc2136: zone transferred", "zone", origin, "server", s.server, "count", len(recs))
	return recs, nil
}

// Retries of an update whose connection failed.
const (
	maxAttempts  = 3
	retryBackoff = 500 * time.Millisecond
)

// change sends recs as additions, or as deletions, in one UPDATE message.
func (p *Provider) change(ctx context.Context, zone string, recs []libdns.Record, deletion bool) ([]libdns.Record, error) {
	s, err := p.settings()
	if err != nil {
		return nil, err
	}
	origin, err := canonicalZone(zone)
	if err != nil {
		return nil, err
	}
	rrs, out, err := convertRecords(origin, recs, deletion)
	if err != nil {
		return nil, err
	}
	if len(rrs) == 0 {
		return nil, nil
	}

	// Adding a value that is present and removing one that is absent are
	// both no-ops for the server (RFC 2136 sections 2.5.1 and 2.5.4),
	// so an update whose answer was lost can be sent again.
	for attempt := 1; ; attempt++ {
		m := new(dns.Msg)
		m.SetUpdate(origin)
		if deletion {
			m.Remove(rrs)
		} else {
			m.Insert(rrs)
		}
		err := s.sendUpdate(ctx, origin, m)
		if err == nil {
			break
		}
		var tf *transportFailure
		if !errors.As(err, &tf) || attempt == maxAttempts || ctx.Err() != nil {
			return nil, err
		}
		wait := time.Duration(attempt) * retryBackoff
		s.logger.WarnContext(ctx, "rfc2136: update failed, retrying", "zone", origin, "server", s.server, "attempt", attempt, "wait", wait, "error", err)
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
	}
	s.logger.DebugContext(ctx, "rfc2136: update applied", "zone", origin, "server", s.server, "records", len(rrs), "deletion", deletion)
	return out, nil
}

// errorf formats an error with the package prefix.
func errorf(format string, args ...any) error {
	return fmt.Errorf("rfc2136: "+format, args...)
}
