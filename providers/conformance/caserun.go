package conformance

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libdns/libdns"
)

// caseRun is the state of one case: the names it watches with the values
// they had before the case, and the records it added and has not deleted.
type caseRun struct {
	t     *testing.T
	h     Harness
	ctx   context.Context
	zone  string // lower-case FQDN
	token string // random label suffix of this run

	mu       sync.Mutex
	watched  []string            // absolute names, in the order first used
	baseline map[string][]string // values at each watched name before the case
	added    []libdns.TXT        // records added and not yet deleted
}

func newCaseRun(t *testing.T, h Harness, zone, token, name string) *caseRun {
	timeout := h.CaseTimeout
	if timeout == 0 {
		timeout = defaultCaseTimeout
	}
	deadline := time.Now().Add(timeout)
	// The case gets most of the time, so the cleanup still has some
	// when a call of the case hangs until the deadline.
	ctx, cancel := context.WithDeadline(context.Background(), deadline.Add(-timeout/4))
	c := &caseRun{t: t, h: h, ctx: ctx, zone: zone, token: token, baseline: map[string][]string{}}
	t.Cleanup(func() {
		cancel()
		cleanupCtx, cancelCleanup := context.WithDeadline(context.Background(), deadline)
		defer cancelCleanup()
		c.cleanup(cleanupCtx)
	})
	return c
}

// uniqueName returns a relative name that no other case or run uses, such
// as "_acme-challenge.delete-one-1a2b3c4d", and fails the case unless it
// has no TXT values yet.
func (c *caseRun) uniqueName(label string) string {
	c.t.Helper()
	name := "_acme-challenge." + label + "-" + c.token
	if values := c.watch(c.absolute(name)); len(values) > 0 {
		c.t.Fatalf("TXT values %q are at %s before the case added any; delete them, they may be left from an earlier run", values, c.absolute(name))
	}
	return name
}

// sharedName returns the relative name name, which other runs may use
// too. Values already there are expected to stay.
func (c *caseRun) sharedName(name string) string {
	c.t.Helper()
	c.watch(c.absolute(name))
	return name
}

// watch reads the values at the absolute name before the case changes
// it, so the cleanup can check that the case left the name as it found
// it. It returns those values.
func (c *caseRun) watch(name string) []string {
	c.t.Helper()
	values, err := c.h.Read(c.ctx, name)
	if err != nil {
		c.t.Fatalf("reading TXT values at %s before the case: %v", name, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.baseline[name]; !ok {
		c.watched = append(c.watched, name)
		c.baseline[name] = slices.Clone(values)
	}
	return values
}

// absolute returns the lower-case absolute form of a relative name.
func (c *caseRun) absolute(name string) string {
	if name == "@" {
		return c.zone
	}
	return strings.ToLower(name) + "." + c.zone
}

func (c *caseRun) txt(name, value string) libdns.TXT {
	return libdns.TXT{Name: name, TTL: ttl, Text: value}
}

// add calls AppendRecords once with recs and fails the case on error.
func (c *caseRun) add(step string, recs ...libdns.TXT) {
	c.t.Helper()
	c.track(recs)
	if _, err := c.h.Provider.AppendRecords(c.ctx, c.h.Zone, toRecords(recs)); err != nil {
		c.t.Fatalf("%s: AppendRecords(%q, %s) failed: %v", step, c.h.Zone, describe(recs), err)
	}
}

// del calls DeleteRecords once with recs and fails the case on error.
func (c *caseRun) del(step string, recs ...libdns.TXT) {
	c.t.Helper()
	if _, err := c.h.Provider.DeleteRecords(c.ctx, c.h.Zone, toRecords(recs)); err != nil {
		c.t.Fatalf("%s: DeleteRecords(%q, %s) failed: %v", step, c.h.Zone, describe(recs), err)
	}
	c.untrack(recs)
}

// concurrently calls method once per record, all calls at once, and fails
// the case when any call fails.
func (c *caseRun) concurrently(step string, method func(context.Context, string, []libdns.Record) ([]libdns.Record, error), recs []libdns.TXT) {
	c.t.Helper()
	c.track(recs)
	errs := make([]error, len(recs))
	var wg sync.WaitGroup
	for i, rec := range recs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = method(c.ctx, c.h.Zone, []libdns.Record{rec})
		}()
	}
	wg.Wait()
	failed := false
	for i, err := range errs {
		if err != nil {
			c.t.Errorf("%s: the call with %s failed: %v", step, describe(recs[i:i+1]), err)
			failed = true
		}
	}
	if failed {
		c.t.FailNow()
	}
}

// track records recs as added, so the cleanup deletes them if the case
// stops early. Records are tracked before the call, because a failed call
// may still have added some of them.
func (c *caseRun) track(recs []libdns.TXT) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rec := range recs {
		if !slices.ContainsFunc(c.added, func(a libdns.TXT) bool { return sameRecord(a, rec) }) {
			c.added = append(c.added, rec)
		}
	}
}

func (c *caseRun) untrack(recs []libdns.TXT) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.added = slices.DeleteFunc(c.added, func(a libdns.TXT) bool {
		return slices.ContainsFunc(recs, func(r libdns.TXT) bool { return sameRecord(a, r) })
	})
}

func sameRecord(a, b libdns.TXT) bool {
	return a.Name == b.Name && a.Text == b.Text
}

// expect fails the case unless the relative name has exactly the values
// it had before the case plus want.
func (c *caseRun) expect(step, name string, want ...string) {
	c.t.Helper()
	c.expectAbsolute(step, c.absolute(name), want...)
}

// expectAbsolute is expect for an absolute name.
func (c *caseRun) expectAbsolute(step, name string, want ...string) {
	c.t.Helper()
	c.mu.Lock()
	full := append(slices.Clone(c.baseline[name]), want...)
	c.mu.Unlock()
	got, err := c.readUntil(c.ctx, name, full)
	if err != nil {
		c.t.Fatalf("after %s: reading TXT values at %s: %v", step, name, err)
	}
	if msg := compare(got, full); msg != "" {
		c.t.Errorf("after %s: TXT values at %s: %s", step, name, msg)
	}
}

// readUntil reads the values at name until they equal want or
// ReadTimeout has passed, and returns the last values read.
func (c *caseRun) readUntil(ctx context.Context, name string, want []string) ([]string, error) {
	deadline := time.Now().Add(c.h.ReadTimeout)
	interval := min(max(c.h.ReadTimeout/20, 50*time.Millisecond), 2*time.Second)
	for {
		got, err := c.h.Read(ctx, name)
		if err != nil {
			return nil, err
		}
		if compare(got, want) == "" || !time.Now().Before(deadline) {
			return got, nil
		}
		select {
		case <-ctx.Done():
			return got, nil
		case <-time.After(interval):
		}
	}
}

// compare returns "" when got and want contain the same values the same
// number of times, or else a message that lists both and the difference.
func compare(got, want []string) string {
	g, w := sortedCopy(got), sortedCopy(want)
	if slices.Equal(g, w) {
		return ""
	}
	var missing, unexpected []string
	rest := slices.Clone(g)
	for _, v := range w {
		if i := slices.Index(rest, v); i >= 0 {
			rest = slices.Delete(rest, i, i+1)
		} else {
			missing = append(missing, v)
		}
	}
	unexpected = rest
	msg := fmt.Sprintf("got %q, want %q", g, w)
	if len(missing) > 0 {
		msg += fmt.Sprintf("; missing %q", missing)
	}
	if len(unexpected) > 0 {
		msg += fmt.Sprintf("; unexpected %q", unexpected)
	}
	return msg
}

// cleanup deletes the records that the case added and did not delete, in
// one call, and then checks that every watched name has the values it had
// before the case.
func (c *caseRun) cleanup(ctx context.Context) {
	c.mu.Lock()
	leftover := slices.Clone(c.added)
	watched := slices.Clone(c.watched)
	c.mu.Unlock()

	if len(leftover) > 0 {
		if _, err := c.h.Provider.DeleteRecords(ctx, c.h.Zone, toRecords(leftover)); err != nil {
			c.t.Errorf("cleanup: DeleteRecords(%q, %s) failed: %v", c.h.Zone, describe(leftover), err)
		}
	}
	for _, name := range watched {
		c.mu.Lock()
		want := c.baseline[name]
		c.mu.Unlock()
		got, err := c.readUntil(ctx, name, want)
		if err != nil {
			c.t.Errorf("cleanup: reading TXT values at %s: %v", name, err)
			continue
		}
		if msg := compare(got, want); msg != "" {
			c.t.Errorf("cleanup: the case left TXT values at %s different from before it: %s", name, msg)
		}
	}
}

func toRecords(recs []libdns.TXT) []libdns.Record {
	out := make([]libdns.Record, len(recs))
	for i, rec := range recs {
		out[i] = rec
	}
	return out
}

// describe lists records for messages, the first few in full.
func describe(recs []libdns.TXT) string {
	const maxShown = 3
	parts := make([]string, 0, maxShown+1)
	for i, rec := range recs {
		if i == maxShown {
			parts = append(parts, fmt.Sprintf("and %d more", len(recs)-maxShown))
			break
		}
		parts = append(parts, fmt.Sprintf("TXT %q %q", rec.Name, rec.Text))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
