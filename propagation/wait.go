package propagation

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Polling schedule of Wait: the first check runs at once, later ones after
// intervals that grow from InitialInterval by half each round up to
// MaxInterval. The cap keeps the delay between a lagging server catching up
// and the check noticing it under a second.
const (
	InitialInterval = 250 * time.Millisecond
	MaxInterval     = time.Second
	// parallelQueries bounds the queries in flight during one round.
	parallelQueries = 32
	// lameRounds and lameAfter decide when a server that keeps refusing or
	// answering without authority is reported instead of waited on.
	lameRounds = 5
	lameAfter  = 3 * time.Second
	// progressEvery spaces the "still waiting" log lines.
	progressEvery = 5 * time.Second
)

// Record is a TXT record that every authoritative server of Zone must serve.
type Record struct {
	Name   string // owner name
	Zone   Zone
	Values []string
}

// Lag describes one nameserver address that does not yet serve a record.
type Lag struct {
	Name       string // record owner name
	Nameserver string // NS host name
	Addr       string // "ip:port" queried
	State      string // what the server answered last
	Lame       bool   // REFUSED, SERVFAIL or not authoritative
}

func (l Lag) String() string {
	return fmt.Sprintf("%s (%s) for %s: %s", l.Nameserver, l.Addr, l.Name, l.State)
}

// TimeoutError reports the records and nameservers still lagging when the
// propagation deadline passed.
type TimeoutError struct {
	Elapsed time.Duration
	Lagging []Lag
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("propagation timed out after %s; still waiting for %s",
		e.Elapsed.Round(time.Millisecond), describeLags(e.Lagging))
}

// LameError reports a nameserver that keeps answering without authority,
// with REFUSED or with SERVFAIL for a zone it is listed for. Waiting on it
// would only run out the deadline, and the CA may ask it too.
type LameError struct {
	Lag
	Rounds int
}

func (e *LameError) Error() string {
	return fmt.Sprintf("nameserver %s (%s) is listed for zone of %s but answered %s %d times in a row; fix the delegation or the server, then retry",
		e.Nameserver, e.Addr, e.Name, e.State, e.Rounds)
}

func describeLags(lags []Lag) string {
	const shown = 10
	parts := make([]string, 0, min(len(lags), shown))
	for i, l := range lags {
		if i == shown {
			break
		}
		parts = append(parts, l.String())
	}
	s := strings.Join(parts, "; ")
	if len(lags) > shown {
		s += fmt.Sprintf("; and %d more", len(lags)-shown)
	}
	return s
}

// check is one (record name, server address) pair with every value that
// address must serve.
type check struct {
	name       string
	nameserver string
	addr       string
	values     []string
	state      string
	lame       bool
	lameStreak int
}

// Wait returns once every address of every nameserver of each record's
// zone answers authoritatively with all of that record's values, or when
// timeout passes (a *TimeoutError), a server turns out to be lame (a
// *LameError) or ctx ends. Records with the same name are merged, so an
// apex and its wildcard wait for both of their values at once.
func (c *Client) Wait(ctx context.Context, records []Record, timeout time.Duration) error {
	checks := c.buildChecks(records)
	if len(checks) == 0 {
		return nil
	}
	logger := c.logger()
	start := time.Now()
	deadline := start.Add(timeout)
	logger.LogAttrs(ctx, slog.LevelInfo, "waiting for authoritative nameservers",
		slog.Int("records", len(records)), slog.Int("checks", len(checks)),
		slog.Duration("timeout", timeout))

	interval := InitialInterval
	lastProgress := start
	for round := 1; ; round++ {
		c.runRound(ctx, checks)
		if err := ctx.Err(); err != nil {
			return err
		}
		checks = slices.DeleteFunc(checks, func(ch *check) bool {
			if ch.state == "" {
				logger.LogAttrs(ctx, slog.LevelDebug, "nameserver serves the record",
					slog.String("name", ch.name), slog.String("nameserver", ch.nameserver),
					slog.String("addr", ch.addr), slog.Duration("after", time.Since(start)))
			}
			return ch.state == ""
		})
		if len(checks) == 0 {
			logger.LogAttrs(ctx, slog.LevelInfo, "every authoritative nameserver serves the records",
				slog.Duration("elapsed", time.Since(start)), slog.Int("rounds", round))
			return nil
		}
		for _, ch := range checks {
			if ch.lameStreak >= lameRounds && time.Since(start) >= lameAfter {
				return &LameError{Lag: ch.lag(), Rounds: ch.lameStreak}
			}
		}
		if round == 1 || time.Since(lastProgress) >= progressEvery {
			lastProgress = time.Now()
			logger.LogAttrs(ctx, slog.LevelInfo, "still waiting for nameservers",
				slog.Duration("elapsed", time.Since(start).Round(time.Millisecond)),
				slog.Int("pending", len(checks)),
				slog.String("lagging", describeLags(lags(checks))))
		}

		remaining := time.Until(deadline)
		if remaining <= 0 {
			return &TimeoutError{Elapsed: time.Since(start), Lagging: lags(checks)}
		}
		timer := time.NewTimer(min(interval, remaining))
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
		interval = min(interval*3/2, MaxInterval)
	}
}

func (c *Client) buildChecks(records []Record) []*check {
	byKey := make(map[string]*check)
	var checks []*check
	for _, rec := range records {
		name := canonical(rec.Name)
		for _, ns := range rec.Zone.Nameservers {
			for _, ip := range ns.Addrs {
				addr := c.serverAddr(ip)
				key := name + "|" + addr
				ch, ok := byKey[key]
				if !ok {
					ch = &check{name: name, nameserver: ns.Name, addr: addr}
					byKey[key] = ch
					checks = append(checks, ch)
				}
				for _, v := range rec.Values {
					if !slices.Contains(ch.values, v) {
						ch.values = append(ch.values, v)
					}
				}
			}
		}
	}
	return checks
}

func (c *Client) runRound(ctx context.Context, checks []*check) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, parallelQueries)
	for _, ch := range checks {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c.runCheck(ctx, ch)
		}()
	}
	wg.Wait()
}

func (c *Client) runCheck(ctx context.Context, ch *check) {
	r, err := c.exchange(ctx, c.newQuery(ch.name, dns.TypeTXT, false), ch.addr)
	ch.state, ch.lame = classify(r, err, ch.name, ch.values)
	if ch.lame {
		ch.lameStreak++
	} else {
		ch.lameStreak = 0
	}
}

// classify turns one answer (or query error) into the state of a check:
// "" when every value is served, otherwise what the server answered. lame
// is true for answers a working authoritative server never gives.
func classify(r *dns.Msg, err error, name string, values []string) (state string, lame bool) {
	switch {
	case err != nil && isTimeout(err):
		return "no answer (timed out)", false
	case err != nil:
		return "query failed: " + err.Error(), false
	case r == nil:
		return "no answer", false
	case r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError:
		return rcodeName(r.Rcode), true
	case !r.Authoritative:
		return "not authoritative (AA=0)", true
	case r.Rcode == dns.RcodeNameError:
		return "NXDOMAIN", false
	default:
		return missingValues(r, name, values), false
	}
}

func rcodeName(rcode int) string {
	if s, ok := dns.RcodeToString[rcode]; ok {
		return s
	}
	return fmt.Sprintf("rcode %d", rcode)
}

// missingValues returns "" when the answer holds every value, or a short
// description of what is missing. The strings of one TXT record are joined
// before comparing, as CAs do.
func missingValues(r *dns.Msg, name string, values []string) string {
	served := make(map[string]bool)
	for _, rr := range r.Answer {
		if txt, ok := rr.(*dns.TXT); ok && strings.EqualFold(txt.Hdr.Name, name) {
			served[strings.Join(txt.Txt, "")] = true
		}
	}
	missing := 0
	for _, v := range values {
		if !served[v] {
			missing++
		}
	}
	switch {
	case missing == 0:
		return ""
	case len(served) == 0:
		return "no TXT record"
	default:
		return fmt.Sprintf("%d of %d values missing (%d TXT values served)", missing, len(values), len(served))
	}
}

func (ch *check) lag() Lag {
	return Lag{Name: ch.name, Nameserver: ch.nameserver, Addr: ch.addr, State: ch.state, Lame: ch.lame}
}

func lags(checks []*check) []Lag {
	out := make([]Lag, 0, len(checks))
	for _, ch := range checks {
		out = append(out, ch.lag())
	}
	return out
}
