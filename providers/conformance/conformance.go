// Package conformance is a test suite for the DNS providers of dnscert. It
// checks the behavior that the DNS-01 publisher relies on: TXT values are
// added next to the values already at a name and removed one by one, by
// libdns.TXT records with names relative to the zone.
//
// A provider's test calls [Run] with a [Harness] that names the provider,
// a zone it may change, and a way to read the TXT values at a name:
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, conformance.Harness{
//			Provider: p,
//			Zone:     "example.test.",
//			Read:     readTXT,
//		})
//	}
//
// Each case is a subtest, so one case runs with
// go test -run 'TestConformance/DeleteOneOfTwo'. The cases use names
// below the zone that start with "_acme-challenge." and end with a random
// label, so runs against a real zone do not collide with each other. Two
// cases use fixed names: "_acme-challenge" at the top of the zone and the
// zone apex. There the values already present are read first, left alone
// and expected back at the end.
package conformance

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libdns/libdns"
)

// Provider is the interface under test, the same as dnscert's
// providers.Provider.
type Provider interface {
	libdns.RecordAppender
	libdns.RecordDeleter
}

// Harness describes the provider under test.
type Harness struct {
	// Provider is the provider under test.
	Provider Provider

	// Zone is the zone that the cases change, such as "example.test.". It
	// is passed to the provider as given.
	Zone string

	// Read returns the TXT values at name, in any order, with the
	// character-strings of each value joined. name is absolute, lower
	// case and ends with a dot, such as
	// "_acme-challenge.www.example.test.". A name without TXT records
	// returns no values and no error. Read may use the provider's API, a
	// fake API's state, or DNS queries to the authoritative server.
	Read func(ctx context.Context, name string) ([]string, error)

	// ReadTimeout is the time that changes may take to show in Read. Zero
	// means Read shows every change as soon as the provider's call
	// returns. Otherwise each check calls Read again until it shows the
	// expected values or the time has passed.
	ReadTimeout time.Duration

	// SkipDuplicates, when not empty, skips the case that adds the same
	// value twice, and is the reason given for the skip.
	SkipDuplicates string

	// SkipZoneApex, when not empty, skips the case that adds a value at
	// the zone apex, and is the reason given for the skip.
	SkipZoneApex string

	// SkipConcurrent, when not empty, skips the case that makes calls at
	// once, and is the reason given for the skip.
	SkipConcurrent string

	// MaxRecords is the number of records that the bulk case adds and
	// deletes in one call. Zero means 100, the number of names that
	// dnscert accepts in one certificate. A provider whose API takes
	// fewer records per call sets its limit.
	MaxRecords int

	// CaseTimeout bounds each case, including its cleanup. Zero means
	// 2 minutes.
	CaseTimeout time.Duration
}

const (
	defaultMaxRecords  = 100
	defaultCaseTimeout = 2 * time.Minute
	// ttl is the TTL of every record, the one dnscert's publisher uses.
	ttl = 60 * time.Second
)

// testCase is one subtest of the suite.
type testCase struct {
	name string
	run  func(c *caseRun)
	skip func(h Harness) string // returns a reason to skip, or ""
}

var cases = []testCase{
	{name: "TwoValuesOneCall", run: twoValuesOneCall},
	{name: "TwoValuesTwoCalls", run: twoValuesTwoCalls},
	{name: "DeleteOneOfTwo", run: deleteOneOfTwo},
	{name: "SameValueTwice", run: sameValueTwice, skip: func(h Harness) string { return h.SkipDuplicates }},
	{name: "DeleteAbsentValue", run: deleteAbsentValue},
	{name: "ForeignValueSurvives", run: foreignValueSurvives},
	{name: "ManyRecords", run: manyRecords},
	{name: "NameCaseAndTrailingDot", run: nameCaseAndTrailingDot},
	{name: "ApexChallengeName", run: apexChallengeName},
	{name: "ZoneApex", run: zoneApex, skip: func(h Harness) string { return h.SkipZoneApex }},
	{name: "ConcurrentCalls", run: concurrentCalls, skip: func(h Harness) string { return h.SkipConcurrent }},
}

// Run runs every case of the suite as a subtest of t.
func Run(t *testing.T, h Harness) {
	t.Helper()
	zone, err := h.check()
	if err != nil {
		t.Fatalf("conformance: %v", err)
	}
	token, err := randomToken()
	if err != nil {
		t.Fatalf("conformance: cannot make a random name label: %v", err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skip != nil {
				if reason := tc.skip(h); reason != "" {
					t.Skip(reason)
				}
			}
			c := newCaseRun(t, h, zone, token, tc.name)
			tc.run(c)
		})
	}
}

// check validates h and returns its zone as a lower-case FQDN.
func (h Harness) check() (string, error) {
	switch {
	case h.Provider == nil:
		return "", fmt.Errorf("Harness.Provider is nil; set the provider under test")
	case h.Read == nil:
		return "", fmt.Errorf("Harness.Read is nil; set a function that returns the TXT values at a name")
	case strings.TrimSpace(h.Zone) == "" || strings.Trim(h.Zone, ".") == "":
		return "", fmt.Errorf("Harness.Zone %q is not a zone name; set the zone the cases may change, such as \"example.test.\"", h.Zone)
	case h.MaxRecords < 0:
		return "", fmt.Errorf("Harness.MaxRecords is %d; set a positive number, or zero for %d", h.MaxRecords, defaultMaxRecords)
	case h.ReadTimeout < 0 || h.CaseTimeout < 0:
		return "", fmt.Errorf("Harness.ReadTimeout %s or CaseTimeout %s is negative; use zero for the default", h.ReadTimeout, h.CaseTimeout)
	}
	return strings.ToLower(strings.TrimSuffix(h.Zone, ".")) + ".", nil
}

func randomToken() (string, error) {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

func twoValuesOneCall(c *caseRun) {
	name := c.uniqueName("two-one-call")
	v1, v2 := c.value(1), c.value(2)
	c.add("adding two values in one call", c.txt(name, v1), c.txt(name, v2))
	c.expect("adding two values in one call", name, v1, v2)
	c.del("deleting both values", c.txt(name, v1), c.txt(name, v2))
	c.expect("deleting both values", name)
}

func twoValuesTwoCalls(c *caseRun) {
	name := c.uniqueName("two-two-calls")
	v1, v2 := c.value(1), c.value(2)
	c.add("adding the first value", c.txt(name, v1))
	c.add("adding the second value in another call", c.txt(name, v2))
	c.expect("adding two values in two calls", name, v1, v2)
	c.del("deleting both values", c.txt(name, v1), c.txt(name, v2))
	c.expect("deleting both values", name)
}

func deleteOneOfTwo(c *caseRun) {
	name := c.uniqueName("delete-one")
	v1, v2 := c.value(1), c.value(2)
	c.add("adding two values", c.txt(name, v1), c.txt(name, v2))
	c.expect("adding two values", name, v1, v2)
	c.del("deleting the first value", c.txt(name, v1))
	c.expect("deleting the first value", name, v2)
	c.del("deleting the second value", c.txt(name, v2))
	c.expect("deleting the second value", name)
}

func sameValueTwice(c *caseRun) {
	name := c.uniqueName("same-twice")
	v := c.value(1)
	c.add("adding a value", c.txt(name, v))
	c.add("adding the same value again", c.txt(name, v))
	c.expect("adding the same value twice", name, v)
	c.del("deleting the value once", c.txt(name, v))
	c.expect("deleting the value once", name)
}

func deleteAbsentValue(c *caseRun) {
	name := c.uniqueName("delete-absent")
	empty := c.uniqueName("delete-absent-empty")
	present, absent := c.value(1), c.value(2)
	c.add("adding a value", c.txt(name, present))
	c.del("deleting a value that is not there", c.txt(name, absent))
	c.expect("deleting a value that is not there", name, present)
	c.del("deleting at a name without records", c.txt(empty, absent))
	c.expect("deleting at a name without records", empty)
	c.expect("deleting at a name without records", name, present)
	c.del("deleting the value", c.txt(name, present))
	c.expect("deleting the value", name)
}

func foreignValueSurvives(c *caseRun) {
	name := c.uniqueName("foreign")
	foreign, ours1, ours2 := c.value(0), c.value(1), c.value(2)
	c.add("adding the foreign value", c.txt(name, foreign))
	c.add("adding our values", c.txt(name, ours1), c.txt(name, ours2))
	c.expect("adding our values next to the foreign one", name, foreign, ours1, ours2)
	c.del("deleting our values", c.txt(name, ours1), c.txt(name, ours2))
	c.expect("deleting our values", name, foreign)
	c.del("deleting the foreign value", c.txt(name, foreign))
	c.expect("deleting the foreign value", name)
}

func manyRecords(c *caseRun) {
	n := c.h.MaxRecords
	if n == 0 {
		n = defaultMaxRecords
	}
	names := make([]string, n)
	recs := make([]libdns.TXT, n)
	for i := range n {
		names[i] = c.uniqueName(fmt.Sprintf("bulk%d", i))
		recs[i] = c.txt(names[i], c.value(i))
	}
	step := fmt.Sprintf("adding %d records in one call", n)
	c.add(step, recs...)
	for i, name := range names {
		c.expect(step, name, recs[i].Text)
	}
	step = fmt.Sprintf("deleting %d records in one call", n)
	c.del(step, recs...)
	for _, name := range names {
		c.expect(step, name)
	}
}

// nameCaseAndTrailingDot checks names with upper-case letters and
// absolute names. They must land at the lower-case absolute name, never at
// a name with the zone appended twice.
func nameCaseAndTrailingDot(c *caseRun) {
	upper := c.uniqueName("upper")
	absolute := c.uniqueName("absolute")
	mixed := c.uniqueName("mixed")
	for _, name := range []string{absolute, mixed} {
		c.watch(c.absolute(name) + c.zone)
	}

	recs := []libdns.TXT{
		c.txt(strings.ToUpper(upper), c.value(1)),
		c.txt(c.absolute(absolute), c.value(2)),
		c.txt(strings.ToUpper(c.absolute(mixed)), c.value(3)),
	}
	step := fmt.Sprintf("adding records named %q, %q and %q", recs[0].Name, recs[1].Name, recs[2].Name)
	c.add(step, recs...)
	c.expect(step, upper, recs[0].Text)
	c.expect(step, absolute, recs[1].Text)
	c.expect(step, mixed, recs[2].Text)
	for _, name := range []string{absolute, mixed} {
		c.expectAbsolute(step+" (the zone must not be appended to an absolute name)", c.absolute(name)+c.zone)
	}

	c.del("deleting them by the same names", recs...)
	for _, name := range []string{upper, absolute, mixed} {
		c.expect("deleting them by the same names", name)
	}
}

func apexChallengeName(c *caseRun) {
	name := c.sharedName("_acme-challenge")
	v1, v2 := c.value(1), c.value(2)
	c.add("adding two values at _acme-challenge", c.txt(name, v1), c.txt(name, v2))
	c.expect("adding two values at _acme-challenge", name, v1, v2)
	c.del("deleting both values", c.txt(name, v1), c.txt(name, v2))
	c.expect("deleting both values", name)
}

func zoneApex(c *caseRun) {
	name := c.sharedName("@")
	v := c.value(1)
	c.add("adding a value at the zone apex", c.txt(name, v))
	c.expect("adding a value at the zone apex", name, v)
	c.del("deleting the value", c.txt(name, v))
	c.expect("deleting the value", name)
}

// concurrentCalls checks that calls for different names of one zone may
// run at once, as the libdns contract requires.
func concurrentCalls(c *caseRun) {
	const calls = 4
	recs := make([]libdns.TXT, calls)
	for i := range calls {
		recs[i] = c.txt(c.uniqueName(fmt.Sprintf("concurrent%d", i)), c.value(i))
	}
	c.concurrently("adding one record per call in concurrent calls", c.h.Provider.AppendRecords, recs)
	for _, rec := range recs {
		c.expect("adding records in concurrent calls", rec.Name, rec.Text)
	}
	c.concurrently("deleting one record per call in concurrent calls", c.h.Provider.DeleteRecords, recs)
	for _, rec := range recs {
		c.expect("deleting records in concurrent calls", rec.Name)
	}
}

// value returns the i-th TXT value of the case: 43 base64url characters,
// the form of an ACME DNS-01 value, unique to the run and the case.
func (c *caseRun) value(i int) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s/%s/%d", c.token, c.t.Name(), i))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// sortedCopy returns values sorted, for messages and comparison.
func sortedCopy(values []string) []string {
	s := slices.Clone(values)
	slices.Sort(s)
	if s == nil {
		s = []string{}
	}
	return s
}
