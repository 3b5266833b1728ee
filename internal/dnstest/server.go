package dnstest

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Server is an authoritative DNS server on one loopback address, serving UDP
// and TCP on the same port. All methods are safe for concurrent use.
type Server struct {
	// addr and logger are set before the listeners start and never change.
	addr    string
	logger  *slog.Logger
	ep      *endpoint
	tsig    *tsigKeys
	faults  atomic.Pointer[Faults]
	queries queryLog

	// mu guards zones and the data inside them.
	mu    sync.RWMutex
	zones map[string]*zone // by canonical origin

	repl replication
}

// NewServer starts an authoritative server on addr, such as "127.0.0.11:0"
// or "127.0.0.11:5353", and returns once its UDP and TCP listeners run.
// Port 0 picks a port that is free for both. The server hosts no zones until
// AddZone is called.
func NewServer(addr string, opts ...Option) (*Server, error) {
	cfg := newConfig(opts)
	pc, ln, err := bindLoopback(addr)
	if err != nil {
		return nil, err
	}
	s := &Server{
		addr:  ln.Addr().String(),
		tsig:  &tsigKeys{},
		zones: make(map[string]*zone),
	}
	s.logger = cfg.logger.With("server", s.addr)
	s.ep, err = serve(pc, ln, s, s.tsig)
	if err != nil {
		return nil, err
	}
	s.logger.Info("dns server started")
	return s, nil
}

// Addr returns the host:port the server is bound to.
func (s *Server) Addr() string {
	return s.addr
}

// Close stops the listeners, waits for running handlers and drops the
// changes still waiting to be replicated to secondaries.
func (s *Server) Close() error {
	s.repl.stop()
	err := s.ep.close()
	s.logger.Info("dns server stopped")
	return err
}

// AddZone parses zoneText in zone-file format with $ORIGIN origin and a
// default TTL of 300 seconds, and serves it. The zone needs exactly one SOA
// record, at the apex. A server may host several zones, including a zone and
// one of its subzones; queries go to the most specific zone.
func (s *Server) AddZone(origin, zoneText string) error {
	z, err := parseZone(origin, zoneText)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.zones[z.origin]; ok {
		return fmt.Errorf("zone %s is already hosted on %s: use another server or update the records with RFC 2136", z.origin, s.Addr())
	}
	s.zones[z.origin] = z
	s.logger.Info("zone added", "zone", z.origin, "serial", z.soa().Serial)
	return nil
}

// Lookup returns copies of the records of type qtype at name, read from the
// current zone data of the most specific hosted zone without a query over
// the network. name may omit the final dot. dns.TypeANY returns every record at name. Lookup does not
// follow CNAMEs or delegations, and it returns nil when no record matches.
func (s *Server) Lookup(name string, qtype uint16) []dns.RR {
	name = dns.Fqdn(name)
	s.mu.RLock()
	defer s.mu.RUnlock()
	z := s.zoneFor(name)
	if z == nil {
		return nil
	}
	return copyRRs(z.rrset(name, qtype))
}

// Queries returns the requests received so far, oldest first.
func (s *Server) Queries() []Query {
	return s.queries.list()
}

// ResetQueries empties the query log.
func (s *Server) ResetQueries() {
	s.queries.reset()
}

// zoneFor returns the most specific hosted zone that contains name, or nil.
// The caller holds s.mu.
func (s *Server) zoneFor(name string) *zone {
	var best *zone
	bestLabels := -1
	for origin, z := range s.zones {
		if !dns.IsSubDomain(origin, name) {
			continue
		}
		if n := dns.CountLabel(origin); n > bestLabels {
			best, bestLabels = z, n
		}
	}
	return best
}

// ServeDNS implements dns.Handler.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	udp := isUDP(w)
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

	faults := s.Faults()
	if faults.Drop {
		s.queries.add(entry)
		s.logger.Debug("request dropped", "name", entry.Name, "type", dns.TypeToString[entry.Type])
		return
	}

	resp := new(dns.Msg).SetReply(req)
	tsigStatus := w.TsigStatus()
	switch {
	case faults.Refuse:
		resp.Rcode = dns.RcodeRefused
	case faults.ServFail:
		resp.Rcode = dns.RcodeServerFailure
	case !checkEDNSVersion(req, resp):
	case req.IsTsig() != nil && tsigStatus != nil:
		// RFC 8945: a request that fails verification gets NOTAUTH with
		// the TSIG error and is not processed.
		resp.Rcode = dns.RcodeNotAuth
		s.logger.Warn("tsig verification failed", "name", entry.Name, "key", req.IsTsig().Hdr.Name, "error", tsigStatus)
	case req.Opcode == dns.OpcodeQuery:
		s.answerQuery(req.Question[0], resp)
		applyQueryFaults(resp, faults)
	case req.Opcode == dns.OpcodeUpdate:
		s.handleUpdate(req, resp)
	default:
		resp.Rcode = dns.RcodeNotImplemented
	}

	finishResponse(req, resp, udp)
	if udp && faults.TruncateUDP && req.Opcode == dns.OpcodeQuery {
		stripToTC(resp)
	}
	addResponseTSIG(req, resp, tsigStatus)

	// The entry is logged before the response leaves, so a client that
	// reads the log after receiving the response finds it.
	entry.Rcode = resp.Rcode
	entry.Truncated = resp.Truncated
	s.queries.add(entry)
	if err := w.WriteMsg(resp); err != nil {
		s.logger.Warn("write response failed", "name", entry.Name, "type", dns.TypeToString[entry.Type], "error", err)
	}
}

// applyQueryFaults changes a query response according to the NoAA and
// LowercaseEcho faults.
func applyQueryFaults(resp *dns.Msg, faults Faults) {
	if faults.NoAA {
		resp.Authoritative = false
	}
	if faults.LowercaseEcho {
		for _, section := range [][]dns.RR{resp.Answer, resp.Ns, resp.Extra} {
			for _, rr := range section {
				rr.Header().Name = strings.ToLower(rr.Header().Name)
			}
		}
	}
}
