package dnstest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"time"

	"github.com/miekg/dns"
)

// Resolver is a non-caching iterative resolver on one loopback address,
// serving UDP and TCP on the same port. Tests use it in place of the
// recursive resolver of an ACME CA. Every query starts at the root servers
// and follows referrals and CNAME chains, so it sees zone changes
// immediately. All methods are safe for concurrent use.
type Resolver struct {
	// The fields up to resolveTimeout are set before the listeners start
	// and never change.
	addr            string
	logger          *slog.Logger
	roots           []string
	port            int
	upstreamTimeout time.Duration
	resolveTimeout  time.Duration

	ep      *endpoint
	queries queryLog

	// ctx is cancelled by Close to stop resolutions in progress.
	ctx    context.Context
	cancel context.CancelFunc
}

// NewResolver starts a resolver on addr, such as "127.0.0.2:0", and returns
// once its UDP and TCP listeners run. roots are the host:port addresses of
// the root servers. port is the port of every name server found through a
// referral, because NS and glue records carry no port: the whole test
// network shares it. Every address must be a loopback IP.
func NewResolver(addr string, roots []string, port int, opts ...Option) (*Resolver, error) {
	cfg := newConfig(opts)
	if len(roots) == 0 {
		return nil, errors.New("no root servers: pass at least one host:port, such as the Addr of a Server hosting the root zone")
	}
	for _, root := range roots {
		host, _, err := net.SplitHostPort(root)
		if err != nil {
			return nil, fmt.Errorf("invalid root server address %q: %w (use ip:port)", root, err)
		}
		if err := checkLoopback(host); err != nil {
			return nil, fmt.Errorf("root server %q: %w", root, err)
		}
	}
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("invalid name server port %d: use the port shared by the test servers, from 1 to 65535", port)
	}
	if cfg.upstreamTimeout <= 0 || cfg.resolveTimeout <= 0 {
		return nil, fmt.Errorf("invalid resolver timeouts (upstream %s, resolve %s): both must be positive", cfg.upstreamTimeout, cfg.resolveTimeout)
	}

	pc, ln, err := bindLoopback(addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Resolver{
		addr:            ln.Addr().String(),
		roots:           slices.Clone(roots),
		port:            port,
		upstreamTimeout: cfg.upstreamTimeout,
		resolveTimeout:  cfg.resolveTimeout,
		ctx:             ctx,
		cancel:          cancel,
	}
	r.logger = cfg.logger.With("resolver", r.addr)
	r.ep, err = serve(pc, ln, r, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	r.logger.Info("dns resolver started", "roots", r.roots, "port", port)
	return r, nil
}

// Addr returns the host:port the resolver is bound to.
func (r *Resolver) Addr() string {
	return r.addr
}

// Close cancels resolutions in progress, stops the listeners and waits for
// running handlers.
func (r *Resolver) Close() error {
	r.cancel()
	err := r.ep.close()
	r.logger.Info("dns resolver stopped")
	return err
}

// Queries returns the client requests received so far, oldest first. Queries
// the resolver sends to name servers appear in the logs of those servers.
func (r *Resolver) Queries() []Query {
	return r.queries.list()
}

// ResetQueries empties the query log.
func (r *Resolver) ResetQueries() {
	r.queries.reset()
}

// ServeDNS implements dns.Handler. The RD bit of the request is logged but
// does not change the behaviour: every query is resolved.
func (r *Resolver) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	entry := Query{
		Time:      time.Now(),
		Transport: w.LocalAddr().Network(),
		RD:        req.RecursionDesired,
		Opcode:    req.Opcode,
		Rcode:     NoResponse,
	}
	if len(req.Question) > 0 {
		entry.Name = req.Question[0].Name
		entry.Type = req.Question[0].Qtype
	}

	resp := new(dns.Msg).SetReply(req)
	resp.RecursionAvailable = true
	switch {
	case !checkEDNSVersion(req, resp):
	case req.Opcode != dns.OpcodeQuery:
		resp.Rcode = dns.RcodeNotImplemented
	case req.Question[0].Qclass != dns.ClassINET:
		resp.Rcode = dns.RcodeRefused
	default:
		ctx, cancel := context.WithTimeout(r.ctx, r.resolveTimeout)
		result, err := r.Resolve(ctx, entry.Name, entry.Type)
		cancel()
		if err != nil {
			r.logger.Warn("resolution failed", "name", entry.Name, "type", dns.TypeToString[entry.Type], "error", err)
			resp.Rcode = dns.RcodeServerFailure
			break
		}
		resp.Rcode = result.Rcode
		resp.Answer = result.Answer
		resp.Ns = result.Ns
	}

	finishResponse(req, resp, isUDP(w))
	// The entry is logged before the response leaves, so a client that
	// reads the log after receiving the response finds it.
	entry.Rcode = resp.Rcode
	entry.Truncated = resp.Truncated
	r.queries.add(entry)
	if err := w.WriteMsg(resp); err != nil {
		r.logger.Warn("write response failed", "name", entry.Name, "type", dns.TypeToString[entry.Type], "error", err)
	}
}

// Resolve resolves name and qtype iteratively from the roots, without going
// through the resolver's listeners. The result has rcode NOERROR or NXDOMAIN,
// the answer records including any CNAME chain, and for a negative answer
// the SOA record of the zone that sent it. An error means the resolution
// failed; ServeDNS answers SERVFAIL then.
func (r *Resolver) Resolve(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	res := &resolution{r: r}
	return res.resolve(ctx, dns.Fqdn(name), qtype, 0)
}
