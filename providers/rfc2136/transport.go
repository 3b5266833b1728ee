package rfc2136

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/miekg/dns"
)

// tsigFudge is the permitted clock difference, in seconds, between this
// host and the server. 300 is the miekg/dns default.
const tsigFudge = 300

// maxMACSize is the longest TSIG MAC (HMAC-SHA512), which Msg.Len does not
// count before signing.
const maxMACSize = 64

// operation names a kind of request in errors.
type operation string

const (
	opUpdate   operation = "update"
	opTransfer operation = "zone transfer"
)

func (op operation) describe(zone, server string) string {
	if op == opUpdate {
		return "update of zone " + quote(zone) + " at " + server
	}
	return "zone transfer of " + quote(zone) + " from " + server
}

func quote(s string) string { return `"` + s + `"` }

// client returns a TCP client, because TCP carries messages up to 64 KiB
// without truncation and retransmits lost segments itself.
func (s settings) client() *dns.Client {
	c := &dns.Client{Net: "tcp", Timeout: s.timeout}
	if s.keyName != "" {
		c.TsigSecret = map[string]string{s.keyName: s.secret}
	}
	return c
}

// dial connects to the server. The returned function closes the
// connection, and the connection is also closed when ctx ends, because
// miekg/dns applies only the context deadline to reads and writes, not its
// cancellation.
func (s settings) dial(ctx context.Context, c *dns.Client) (*dns.Conn, func(), error) {
	conn, err := c.DialContext(ctx, s.server)
	if err != nil {
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	return conn, func() {
		stop()
		conn.Close()
	}, nil
}

// sendUpdate signs and sends one UPDATE message and checks the response.
func (s settings) sendUpdate(ctx context.Context, zone string, m *dns.Msg) error {
	description := opUpdate.describe(zone, s.server)
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()

	if s.keyName != "" {
		m.SetTsig(s.keyName, s.algorithm, tsigFudge, time.Now().Unix())
	}
	if size := m.Len() + maxMACSize; size > dns.MaxMsgSize {
		return errorf("%s: the %d records need a message of about %d bytes, more than the %d bytes of a DNS message; pass fewer records per call", description, len(m.Ns), size, dns.MaxMsgSize)
	}

	s.logger.DebugContext(ctx, "rfc2136: sending update", "zone", zone, "server", s.server, "records", len(m.Ns), "tsig_key", s.keyName)
	c := s.client()
	conn, closeConn, err := s.dial(ctx, c)
	if err != nil {
		return s.transportError(ctx, description, err)
	}
	defer closeConn()

	resp, _, err := c.ExchangeWithConnContext(ctx, m, conn)
	if err != nil {
		// miekg/dns returns NOTAUTH responses that carry a TSIG record
		// together with dns.ErrAuth. Their RCODE and TSIG error are more
		// specific than that error.
		if resp != nil && errors.Is(err, dns.ErrAuth) {
			return s.responseError(opUpdate, zone, resp)
		}
		if isTSIGError(err) {
			return s.tsigError(description, err)
		}
		return s.transportError(ctx, description, err)
	}
	if resp.Rcode != dns.RcodeSuccess {
		return s.responseError(opUpdate, zone, resp)
	}
	if s.keyName != "" && resp.IsTsig() == nil {
		return errorf("%s: the server answered NOERROR without a TSIG signature, so the answer is not authenticated and the update may or may not have been applied; check that the server knows key %q", description, s.keyName)
	}
	return nil
}

// transfer reads the zone by AXFR and returns its records with the SOA
// once. With a key, the first response signature covers the request MAC
// and all TSIG variables, and later ones the previous MAC and the timers
// only, as in miekg/dns's Transfer. That type is not used because it
// reports a rejected first message without its TSIG error and cannot be
// canceled through a context.
//
// NOTE: like miekg/dns, this reader requires a TSIG record on every
// message. A server that leaves some messages of a long transfer unsigned
// makes it fail with dns.ErrNoSig.
func (s settings) transfer(ctx context.Context, zone string) ([]dns.RR, error) {
	description := opTransfer.describe(zone, s.server)
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()

	q := new(dns.Msg)
	q.SetAxfr(zone)
	var (
		out        []byte
		requestMAC string
		err        error
	)
	if s.keyName != "" {
		q.SetTsig(s.keyName, s.algorithm, tsigFudge, time.Now().Unix())
		out, requestMAC, err = dns.TsigGenerate(q, s.secret, "", false)
	} else {
		out, err = q.Pack()
	}
	if err != nil {
		return nil, errorf("%s: cannot build the request: %w", description, err)
	}

	s.logger.DebugContext(ctx, "rfc2136: requesting zone transfer", "zone", zone, "server", s.server, "tsig_key", s.keyName)
	conn, closeConn, err := s.dial(ctx, s.client())
	if err != nil {
		return nil, s.transportError(ctx, description, err)
	}
	defer closeConn()
	if deadline, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(deadline); err != nil {
			return nil, s.transportError(ctx, description, err)
		}
	}
	if _, err := conn.Write(out); err != nil {
		return nil, s.transportError(ctx, description, err)
	}

	var rrs []dns.RR
	for first := true; ; first = false {
		raw, err := conn.ReadMsgHeader(nil)
		if err != nil {
			return nil, s.transportError(ctx, description, err)
		}
		resp := new(dns.Msg)
		if err := resp.Unpack(raw); err != nil {
			return nil, errorf("%s: invalid response message: %w", description, err)
		}
		if resp.Id != q.Id {
			return nil, errorf("%s: response ID %d does not match request ID %d", description, resp.Id, q.Id)
		}
		if resp.Rcode != dns.RcodeSuccess {
			return nil, s.responseError(opTransfer, zone, resp)
		}
		if s.keyName != "" {
			if err := dns.TsigVerify(raw, s.secret, requestMAC, !first); err != nil {
				return nil, s.tsigError(description, err)
			}
			t := resp.IsTsig()
			if dns.CanonicalName(t.Hdr.Name) != s.keyName {
				return nil, s.tsigError(description, dns.ErrSecret)
			}
			requestMAC = t.MAC
		}
		if first && (len(resp.Answer) == 0 || resp.Answer[0].Header().Rrtype != dns.TypeSOA) {
			return nil, errorf("%s: the response does not start with the zone's SOA record; check that the zone name is right", description)
		}
		for i, rr := range resp.Answer {
			// A zone has one SOA, so a second one closes the transfer.
			if rr.Header().Rrtype == dns.TypeSOA && (!first || i > 0) {
				return rrs, nil
			}
			rrs = append(rrs, rr)
		}
	}
}

// isTSIGError reports whether err comes from verifying or producing a
// TSIG signature in miekg/dns.
func isTSIGError(err error) bool {
	for _, target := range []error{dns.ErrSig, dns.ErrTime, dns.ErrSecret, dns.ErrKeyAlg, dns.ErrNoSig, dns.ErrAuth} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// tsigError explains a failed verification of a response signature.
func (s settings) tsigError(description string, err error) error {
	var hint string
	switch {
	case errors.Is(err, dns.ErrSig):
		hint = "the signature does not match the TSIG secret; check that the secret and algorithm equal those of key " + quote(s.keyName) + " on the server"
	case errors.Is(err, dns.ErrTime):
		hint = fmt.Sprintf("the clocks of this host and the server differ by more than %d seconds; synchronize them, for example with NTP", tsigFudge)
	case errors.Is(err, dns.ErrSecret):
		hint = "the response is signed with another key than " + quote(s.keyName)
	case errors.Is(err, dns.ErrNoSig):
		hint = "the response is not signed; check that the server knows key " + quote(s.keyName)
	default:
		hint = "check the TSIG key name, secret and algorithm"
	}
	return errorf("%s: the response failed TSIG verification, so it is not authenticated: %w (%s)", description, err, hint)
}

// transportError wraps a network failure. A timeout that fell at the call
// deadline is reported as context.DeadlineExceeded, so callers can test for
// it with errors.Is whichever of the deadlines fired first.
func (s settings) transportError(ctx context.Context, description string, err error) error {
	ctxErr := ctx.Err()
	var netErr net.Error
	if ctxErr == nil && errors.As(err, &netErr) && netErr.Timeout() {
		if deadline, ok := ctx.Deadline(); ok && !time.Now().Before(deadline) {
			ctxErr = context.DeadlineExceeded
		}
	}
	switch {
	case errors.Is(ctxErr, context.Canceled):
		return errorf("%s canceled: %w", description, ctxErr)
	case ctxErr != nil:
		return &transportFailure{errorf("%s timed out: %w (%v); check that the server is reachable over TCP, or allow more time than the Timeout of %s or the context deadline", description, ctxErr, err, s.timeout)}
	default:
		return &transportFailure{errorf("%s failed: %w; check that the nameserver address is right and that the server accepts TCP on that port", description, err)}
	}
}

// transportFailure marks an error of the connection rather than an answer
// of the server: the request may or may not have reached it.
type transportFailure struct{ err error }

func (e *transportFailure) Error() string { return e.err.Error() }
func (e *transportFailure) Unwrap() error { return e.err }
