package fakecloudflare

import "time"

// Faults selects ways in which the server misbehaves. The counters count
// down with each request they affect. The zero value is a well-behaved
// server.
//
// Fault responses come before authentication, as a rate limiter or a
// failing gateway in front of the API would send them. Their envelopes carry error
// code 0, which Cloudflare does not use, except for the rate limit, which
// carries Cloudflare's code 971.
type Faults struct {
	// RateLimited makes the next RateLimited requests fail with HTTP 429.
	RateLimited int
	// RetryAfter is the Retry-After header of the 429 responses: seconds,
	// such as "1", or an HTTP date. Empty sends no header.
	RetryAfter string

	// ServerErrors makes the next ServerErrors requests that are not rate
	// limited fail with ServerErrorStatus.
	ServerErrors int
	// ServerErrorStatus is the HTTP status of those responses; zero means
	// 500.
	ServerErrorStatus int

	// LostCreates makes the next LostCreates successful record creations
	// store the record and then lose the response, as when it is
	// lost on the way back: the client gets HTTP 504, or a closed
	// connection when DropConnection is set.
	LostCreates    int
	DropConnection bool

	// Latency delays every response by this duration.
	Latency time.Duration
}

// SetFaults replaces the faults of s. Requests that arrive afterwards see
// the new faults.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// Faults returns the faults currently set on s, with the counters that
// remain.
func (s *Server) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// fault is the misbehaviour applied to one request.
type fault int

const (
	faultNone fault = iota
	faultRateLimit
	faultServerError
)

// takeFaultLocked decides the fault of one request and counts it down.
func (s *Server) takeFaultLocked() (fault, Faults) {
	f := s.faults
	switch {
	case s.faults.RateLimited > 0:
		s.faults.RateLimited--
		return faultRateLimit, f
	case s.faults.ServerErrors > 0:
		s.faults.ServerErrors--
		return faultServerError, f
	default:
		return faultNone, f
	}
}

// takeLostCreate reports whether the response to a successful create must be
// lost, and counts the fault down.
func (s *Server) takeLostCreate() (lost, drop bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.LostCreates <= 0 {
		return false, false
	}
	s.faults.LostCreates--
	return true, s.faults.DropConnection
}
