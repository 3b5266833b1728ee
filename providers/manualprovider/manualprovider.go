// Package manualprovider implements the libdns interfaces with a person
// at a terminal. AppendRecords prints the records to add as zone-file
// lines and waits until the user presses Enter. DeleteRecords prints the
// records that can be removed and does not wait.
package manualprovider

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/libdns/libdns"

	"github.com/dnscert/dnscert/providers/internal/recordname"
)

// Provider prints instructions to Out and reads Enter from In. Calls take
// turns, so the instructions of two zones never mix and one Enter
// completes one prompt. A Provider must not be copied after first use.
type Provider struct {
	// In is the input that the user presses Enter on, normally os.Stdin
	// after CheckTerminal accepted it. Any line, empty or not, counts as
	// Enter.
	In io.Reader

	// Out receives the instructions, normally os.Stderr, because dnscert
	// may write machine-readable output to standard output.
	Out io.Writer

	initOnce sync.Once
	turn     chan struct{} // contains one token while a call prints or waits

	// readMu guards reader and pending.
	readMu sync.Mutex
	reader *bufio.Reader
	// pending receives the result of the read of In in progress, or is
	// nil when no read runs. A read that outlives a canceled wait stays
	// pending and serves the next wait, so In is never read by two
	// goroutines at once.
	pending chan error
}

var (
	_ libdns.RecordAppender = (*Provider)(nil)
	_ libdns.RecordDeleter  = (*Provider)(nil)
)

// AppendRecords prints the zone and one zone-file line per record to Out,
// such as
//
//	_acme-challenge.www.example.test. 60 IN TXT "value"
//
// then prints a request to press Enter once the records are published
// and waits for a line from In. It returns when the line arrives, or with
// ctx.Err() wrapped as soon as ctx ends. It returns the records with names
// relative to the zone. An empty recs prints nothing and does not wait.
func (p *Provider) AppendRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	if p.In == nil {
		return nil, errors.New("manual: no input to read Enter from; set In, normally to os.Stdin")
	}
	origin, lines, out, err := p.format(zone, recs)
	if err != nil || len(lines) == 0 {
		return nil, err
	}
	if err := p.takeTurn(ctx); err != nil {
		return nil, err
	}
	defer p.endTurn()

	text := fmt.Sprintf("\nAdd these DNS records to zone %s, next to any TXT values already there:\n%s\nPress Enter once the records are published.\n",
		origin, strings.Join(lines, "\n")+"\n")
	if _, err := io.WriteString(p.Out, text); err != nil {
		return nil, fmt.Errorf("manual: cannot print the records to add: %w", err)
	}
	if err := p.waitForEnter(ctx); err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteRecords prints the zone and the records that are no longer
// needed, as zone-file lines, to Out. It does not wait for the user, so it
// returns before anyone removed them, and it returns every record given.
func (p *Provider) DeleteRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	origin, lines, out, err := p.format(zone, recs)
	if err != nil || len(lines) == 0 {
		return nil, err
	}
	if err := p.takeTurn(ctx); err != nil {
		return nil, err
	}
	defer p.endTurn()

	text := fmt.Sprintf("\nThese DNS records are no longer needed; remove them from zone %s (dnscert does not wait for this):\n%s",
		origin, strings.Join(lines, "\n")+"\n")
	if _, err := io.WriteString(p.Out, text); err != nil {
		return nil, fmt.Errorf("manual: cannot print the records to remove: %w", err)
	}
	return out, nil
}

// format checks the records and returns the canonical zone, one zone-file
// line per record, and the records to return.
func (p *Provider) format(zone string, recs []libdns.Record) (origin string, lines []string, out []libdns.Record, err error) {
	if p.Out == nil {
		return "", nil, nil, errors.New("manual: no output to print the records to; set Out, normally to os.Stderr")
	}
	origin, err = recordname.CanonicalZone(zone)
	if err != nil {
		return "", nil, nil, fmt.Errorf("manual: %w", err)
	}
	for i, rec := range recs {
		if rec == nil {
			return "", nil, nil, fmt.Errorf("manual: record %d is nil", i)
		}
		rr := rec.RR()
		fqdn, relative, err := recordname.Resolve(rr.Name, origin)
		if err != nil {
			return "", nil, nil, fmt.Errorf("manual: %w", err)
		}
		typ := strings.ToUpper(strings.TrimSpace(rr.Type))
		if typ == "" {
			return "", nil, nil, fmt.Errorf("manual: record %q has no type; set the record type, such as TXT", rr.Name)
		}
		if strings.ContainsAny(rr.Data, "\r\n") && typ != "TXT" {
			return "", nil, nil, fmt.Errorf("manual: %s record %q has a line break in its value %q", typ, rr.Name, rr.Data)
		}
		lines = append(lines, zoneLine(fqdn, rr.TTL, typ, rr.Data))
		out = append(out, returned(libdns.RR{Name: relative, TTL: rr.TTL, Type: typ, Data: rr.Data}))
	}
	return origin, lines, out, nil
}

// zoneLine formats a record as a zone-file line. A zero TTL is left out,
// so the zone's default applies.
func zoneLine(fqdn string, ttl time.Duration, typ, data string) string {
	var b strings.Builder
	b.WriteString(fqdn)
	if seconds := int64(ttl / time.Second); seconds > 0 {
		fmt.Fprintf(&b, " %d", seconds)
	}
	b.WriteString(" IN ")
	b.WriteString(typ)
	b.WriteString(" ")
	if typ == "TXT" {
		b.WriteString(quoteTXT(data))
	} else {
		b.WriteString(data)
	}
	return b.String()
}

// quoteTXT returns text as the quoted character-strings of a zone file,
// each at most 255 bytes before quoting (RFC 1035 section 3.3.14). '"'
// and '\' are escaped with a backslash, and bytes outside printable ASCII
// as \DDD.
func quoteTXT(text string) string {
	const maxString = 255
	if text == "" {
		return `""`
	}
	var parts []string
	for len(text) > 0 {
		n := min(len(text), maxString)
		parts = append(parts, quoteString(text[:n]))
		text = text[n:]
	}
	return strings.Join(parts, " ")
}

func quoteString(raw string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < ' ' || c > '~':
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// returned converts rr to the typed libdns record, or leaves it as a
// libdns.RR when libdns cannot parse its data.
func returned(rr libdns.RR) libdns.Record {
	if rr.Type == "TXT" {
		return libdns.TXT{Name: rr.Name, TTL: rr.TTL, Text: rr.Data}
	}
	typed, err := rr.Parse()
	if err != nil {
		return rr
	}
	return typed
}

func (p *Provider) init() {
	p.initOnce.Do(func() { p.turn = make(chan struct{}, 1) })
}

// takeTurn waits until no other call prints or waits, or until ctx ends.
func (p *Provider) takeTurn(ctx context.Context) error {
	p.init()
	select {
	case p.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("manual: gave up waiting for another prompt to be completed: %w", ctx.Err())
	}
}

func (p *Provider) endTurn() { <-p.turn }

// waitForEnter waits for one line from In, or until ctx ends. The read
// runs in its own goroutine because an io.Reader offers no way to
// interrupt a read.
func (p *Provider) waitForEnter(ctx context.Context) error {
	p.readMu.Lock()
	if p.reader == nil {
		p.reader = bufio.NewReader(p.In)
	}
	if p.pending == nil {
		result := make(chan error, 1)
		reader := p.reader
		go func() {
			_, err := reader.ReadString('\n')
			result <- err
		}()
		p.pending = result
	}
	pending := p.pending
	p.readMu.Unlock()

	select {
	case err := <-pending:
		p.readMu.Lock()
		p.pending = nil
		p.readMu.Unlock()
		switch {
		case errors.Is(err, io.EOF):
			return errors.New("manual: standard input ended before Enter was pressed, so the records may not be published; run dnscert in an interactive terminal")
		case err != nil:
			return fmt.Errorf("manual: cannot read Enter from standard input: %w", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("manual: stopped waiting for Enter: %w", ctx.Err())
	}
}
