package main

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/dnscert/dnscert/internal/testbed"
)

// Loopback addresses of the two nameservers of every zone. The lag case
// delays the second one.
const (
	ns1IP = "127.0.0.11"
	ns2IP = "127.0.0.12"
)

// profiledCase is the case whose orders also run under pprof.
const profiledCase = "san100"

// benchCase is one shape of order.
type benchCase struct {
	ID    string
	Title string
	// Zones is the number of zones the names of one order spread over.
	Zones int
	// PerZone is the number of host names per zone; ignored when
	// ApexWildcard is set.
	PerZone int
	// ApexWildcard orders the zone apex and its wildcard, which share one
	// _acme-challenge name with two values.
	ApexWildcard bool
	// Lag is how long after an update the second nameserver serves it.
	Lag time.Duration
}

var allCases = []benchCase{
	{ID: "one", Title: "1 name", Zones: 1, PerZone: 1},
	{ID: "wildcard", Title: "apex + wildcard", Zones: 1, ApexWildcard: true},
	{ID: "san10", Title: "10 SANs, 1 zone", Zones: 1, PerZone: 10},
	{ID: "san100", Title: "100 SANs, 1 zone", Zones: 1, PerZone: 100},
	{ID: "zones5", Title: "100 SANs, 5 zones", Zones: 5, PerZone: 20},
	{ID: "lag", Title: "apex + wildcard, ns2 2 s late", Zones: 1, ApexWildcard: true, Lag: 2 * time.Second},
}

func caseIDs(cases []benchCase) []string {
	ids := make([]string, 0, len(cases))
	for _, c := range cases {
		ids = append(ids, c.ID)
	}
	return ids
}

// selectCases returns the cases named in list, in the order of allCases.
func selectCases(list string) ([]benchCase, error) {
	requested := make(map[string]bool)
	for _, id := range strings.Split(list, ",") {
		if id = strings.TrimSpace(id); id != "" {
			requested[id] = true
		}
	}
	var out []benchCase
	for _, c := range allCases {
		if requested[c.ID] {
			out = append(out, c)
			delete(requested, c.ID)
		}
	}
	for id := range requested {
		return nil, fmt.Errorf("unknown case %q in -cases; known cases: %s", id, strings.Join(caseIDs(allCases), ", "))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no case selected; give -cases with some of: %s", strings.Join(caseIDs(allCases), ", "))
	}
	return out, nil
}

// NameCount returns the number of identifiers of one order.
func (c benchCase) NameCount() int {
	if c.ApexWildcard {
		return 2 * c.Zones
	}
	return c.PerZone * c.Zones
}

// zoneOrigins returns the zones of the order tagged tag. Every order gets
// zones of its own, so no run finds records, authorizations or answers of
// another.
func (c benchCase) zoneOrigins(tag string) []string {
	if c.Zones == 1 {
		return []string{fmt.Sprintf("%s-%s.test.", c.ID, tag)}
	}
	out := make([]string, 0, c.Zones)
	for j := 1; j <= c.Zones; j++ {
		out = append(out, fmt.Sprintf("%s-%s-z%d.test.", c.ID, tag, j))
	}
	return out
}

// names returns the identifiers of the order tagged tag.
func (c benchCase) names(tag string) []string {
	var out []string
	for _, origin := range c.zoneOrigins(tag) {
		zone := strings.TrimSuffix(origin, ".")
		switch {
		case c.ApexWildcard:
			out = append(out, zone, "*."+zone)
		case c.PerZone == 1:
			out = append(out, "www."+zone)
		default:
			for i := 1; i <= c.PerZone; i++ {
				out = append(out, fmt.Sprintf("h%03d.%s", i, zone))
			}
		}
	}
	return out
}

// zoneSpecs returns every zone of the case's test bed: those of each tag.
func (c benchCase) zoneSpecs(tags []string) []testbed.ZoneSpec {
	var delays map[string]time.Duration
	if c.Lag > 0 {
		delays = map[string]time.Duration{ns2IP: c.Lag}
	}
	var specs []testbed.ZoneSpec
	for _, tag := range tags {
		for _, origin := range c.zoneOrigins(tag) {
			specs = append(specs, testbed.ZoneSpec{
				Origin:      origin,
				Nameservers: []string{ns1IP, ns2IP},
				Delays:      delays,
			})
		}
	}
	return specs
}

// nameserverAddrs returns "ip:port" of both nameservers on port.
func nameserverAddrs(port int) []string {
	p := strconv.Itoa(port)
	return []string{net.JoinHostPort(ns1IP, p), net.JoinHostPort(ns2IP, p)}
}
