package dnstest

import (
	"slices"
	"sync"
	"time"
)

// NoResponse is the Query.Rcode of a request the server dropped
// (Faults.Drop).
const NoResponse = -1

// maxLoggedQueries bounds the memory of a long-running server. When the log
// reaches it, the older half of the entries is discarded.
const maxLoggedQueries = 10000

// Query is one request as a Server or Resolver received and answered it.
type Query struct {
	// Time is when the request arrived.
	Time time.Time
	// Name is the question name with its case as sent; for an update it is
	// the zone name.
	Name string
	// Type is the question type (dns.TypeSOA for an update).
	Type uint16
	// Transport is "udp" or "tcp".
	Transport string
	// RD is the Recursion Desired bit of the request.
	RD bool
	// Opcode is the request opcode, such as dns.OpcodeQuery or
	// dns.OpcodeUpdate.
	Opcode int
	// Rcode is the response code sent, including extended codes such as
	// dns.RcodeBadVers, or NoResponse. A response that failed to write is
	// logged with its rcode too, and the failure goes to the slog logger.
	Rcode int
	// Truncated is the TC bit of the response.
	Truncated bool
}

// queryLog is a concurrency-safe list of queries.
type queryLog struct {
	mu      sync.Mutex
	queries []Query
}

func (l *queryLog) add(q Query) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.queries) >= maxLoggedQueries {
		l.queries = slices.Delete(l.queries, 0, maxLoggedQueries/2)
	}
	l.queries = append(l.queries, q)
}

func (l *queryLog) list() []Query {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.queries)
}

func (l *queryLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.queries = nil
}
