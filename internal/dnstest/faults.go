package dnstest

// Faults selects ways in which a Server misbehaves. The zero value is a
// well-behaved server. When several fields are set, Drop takes precedence
// over Refuse, and Refuse over ServFail; the remaining faults combine.
type Faults struct {
	// Drop makes the server ignore every request, so clients time out.
	Drop bool
	// Refuse makes the server respond REFUSED to every request, queries and
	// updates alike.
	Refuse bool
	// ServFail makes the server respond SERVFAIL to every request, queries
	// and updates alike.
	ServFail bool
	// NoAA clears the AA bit of query responses, like a lame server.
	NoAA bool
	// TruncateUDP makes every response to a query over UDP carry TC=1 and
	// empty sections, so the client must retry over TCP. TCP responses are
	// complete.
	TruncateUDP bool
	// LowercaseEcho lower-cases the owner names of all records in query
	// responses, for testing clients that must compare names
	// case-insensitively. The question section keeps the case as sent.
	LowercaseEcho bool
}

// SetFaults replaces the faults of s. It is safe to call while s serves
// requests; requests that arrive afterwards see the new faults.
func (s *Server) SetFaults(f Faults) {
	s.faults.Store(&f)
}

// Faults returns the faults currently set on s.
func (s *Server) Faults() Faults {
	if f := s.faults.Load(); f != nil {
		return *f
	}
	return Faults{}
}
