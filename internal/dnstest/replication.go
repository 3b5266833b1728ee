package dnstest

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// replication is the set of secondaries of a Server. Every zone change on
// the primary produces an immutable snapshot of the zone, which each replica
// delivers to its secondary after the replica's delay.
type replication struct {
	mu       sync.Mutex
	replicas []*replica
	stopped  bool
}

// replica delivers snapshots from one primary to one secondary.
type replica struct {
	secondary *Server
	logger    *slog.Logger

	mu sync.Mutex
	// delivered is signalled when inFlight drops to zero.
	delivered *sync.Cond
	delay     time.Duration
	pending   []*pendingChange
	inFlight  int
	stopped   bool
}

// pendingChange is a snapshot waiting for delivery. generation changes
// whenever the timer is replaced, so a timer that fired late can tell that
// it is stale.
type pendingChange struct {
	snapshot   *zone
	queued     time.Time
	timer      *time.Timer
	generation int
}

// AddSecondary makes secondary receive every change applied to s by dynamic
// updates, delay after the change. A negative delay holds changes until
// FlushSecondaries or SetSecondaryDelay releases them.
//
// The secondary must host the zone already, so call AddZone on it with the
// same text. Like a real secondary after a zone transfer, it replaces its
// copy of the zone with the primary's. It does so only when the primary's
// SOA serial is newer (RFC 1982), which also ends replication cycles.
// Changes the secondary receives are passed on to its own secondaries.
func (s *Server) AddSecondary(secondary *Server, delay time.Duration) error {
	if secondary == nil || secondary == s {
		return errors.New("invalid secondary: pass another *Server")
	}
	s.repl.mu.Lock()
	defer s.repl.mu.Unlock()
	if s.repl.stopped {
		return fmt.Errorf("server %s is closed: add secondaries before Close", s.Addr())
	}
	if s.repl.find(secondary) != nil {
		return fmt.Errorf("server %s is already a secondary of %s: use SetSecondaryDelay to change its delay", secondary.Addr(), s.Addr())
	}
	r := &replica{
		secondary: secondary,
		logger:    s.logger.With("secondary", secondary.Addr()),
		delay:     delay,
	}
	r.delivered = sync.NewCond(&r.mu)
	s.repl.replicas = append(s.repl.replicas, r)
	s.logger.Info("secondary added", "secondary", secondary.Addr(), "delay", delay)
	return nil
}

// SetSecondaryDelay changes the delay of secondary. Pending changes are
// rescheduled to their queue time plus the new delay: those already due are
// delivered at once, and a negative delay holds them all.
func (s *Server) SetSecondaryDelay(secondary *Server, delay time.Duration) error {
	s.repl.mu.Lock()
	r := s.repl.find(secondary)
	s.repl.mu.Unlock()
	if r == nil {
		return fmt.Errorf("server %s is not a secondary of %s: call AddSecondary first", serverAddr(secondary), s.Addr())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.delay = delay
	for _, pc := range r.pending {
		r.arm(pc)
	}
	return nil
}

// FlushSecondaries delivers every pending change to every secondary now.
// When it returns, the secondaries serve all changes made on s before the
// call. Changes that the secondaries pass on to their own secondaries follow
// those servers' delays.
func (s *Server) FlushSecondaries() {
	s.repl.mu.Lock()
	replicas := slices.Clone(s.repl.replicas)
	s.repl.mu.Unlock()
	for _, r := range replicas {
		r.flush()
	}
}

// PendingChanges returns how many changes wait for delivery to secondary,
// or 0 when secondary is not a secondary of s.
func (s *Server) PendingChanges(secondary *Server) int {
	s.repl.mu.Lock()
	r := s.repl.find(secondary)
	s.repl.mu.Unlock()
	if r == nil {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending)
}

func serverAddr(s *Server) string {
	if s == nil {
		return "<nil>"
	}
	return s.Addr()
}

// find returns the replica of secondary. The caller holds rp.mu.
func (rp *replication) find(secondary *Server) *replica {
	for _, r := range rp.replicas {
		if r.secondary == secondary {
			return r
		}
	}
	return nil
}

// schedule queues snapshot for every secondary.
func (rp *replication) schedule(snapshot *zone) {
	rp.mu.Lock()
	replicas := slices.Clone(rp.replicas)
	rp.mu.Unlock()
	for _, r := range replicas {
		r.enqueue(snapshot)
	}
}

// stop discards all pending changes and refuses new ones.
func (rp *replication) stop() {
	rp.mu.Lock()
	rp.stopped = true
	replicas := slices.Clone(rp.replicas)
	rp.mu.Unlock()
	for _, r := range replicas {
		r.stop()
	}
}

func (r *replica) enqueue(snapshot *zone) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return
	}
	pc := &pendingChange{snapshot: snapshot, queued: time.Now()}
	r.pending = append(r.pending, pc)
	r.arm(pc)
}

// arm replaces the timer of pc according to the current delay. The caller
// holds r.mu.
func (r *replica) arm(pc *pendingChange) {
	pc.generation++
	if pc.timer != nil {
		pc.timer.Stop()
		pc.timer = nil
	}
	if r.delay < 0 {
		return
	}
	wait := max(time.Until(pc.queued.Add(r.delay)), 0)
	generation := pc.generation
	pc.timer = time.AfterFunc(wait, func() { r.deliver(pc, generation) })
}

// deliver applies pc to the secondary unless pc was rescheduled, flushed or
// discarded since its timer was set.
func (r *replica) deliver(pc *pendingChange, generation int) {
	r.mu.Lock()
	if pc.generation != generation || !r.take(pc) {
		r.mu.Unlock()
		return
	}
	r.inFlight++
	r.mu.Unlock()

	r.apply(pc)

	r.mu.Lock()
	r.inFlight--
	if r.inFlight == 0 {
		r.delivered.Broadcast()
	}
	r.mu.Unlock()
}

// take removes pc from the pending list and reports whether it was there.
// The caller holds r.mu.
func (r *replica) take(pc *pendingChange) bool {
	i := slices.Index(r.pending, pc)
	if i < 0 {
		return false
	}
	r.pending = slices.Delete(r.pending, i, i+1)
	return true
}

// flush applies all pending changes in queue order and waits for deliveries
// that timers started earlier.
func (r *replica) flush() {
	r.mu.Lock()
	pending := r.pending
	r.pending = nil
	for _, pc := range pending {
		pc.generation++
		if pc.timer != nil {
			pc.timer.Stop()
		}
	}
	r.mu.Unlock()

	for _, pc := range pending {
		r.apply(pc)
	}

	r.mu.Lock()
	for r.inFlight > 0 {
		r.delivered.Wait()
	}
	r.mu.Unlock()
}

func (r *replica) apply(pc *pendingChange) {
	serial := pc.snapshot.soa().Serial
	if r.secondary.applySnapshot(pc.snapshot) {
		r.logger.Info("zone replicated", "zone", pc.snapshot.origin, "serial", serial, "queued_for", time.Since(pc.queued))
		return
	}
	r.logger.Debug("replicated zone ignored: secondary does not host it or has a newer serial", "zone", pc.snapshot.origin, "serial", serial)
}

func (r *replica) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
	for _, pc := range r.pending {
		pc.generation++
		if pc.timer != nil {
			pc.timer.Stop()
		}
	}
	if n := len(r.pending); n > 0 {
		r.logger.Info("pending zone changes discarded", "changes", n)
	}
	r.pending = nil
}

// applySnapshot installs a copy of snapshot when s hosts the zone with an
// older serial, passes it on to the secondaries of s and reports whether it
// was installed. Snapshots are never modified, so one can go to several
// secondaries.
func (s *Server) applySnapshot(snapshot *zone) bool {
	s.mu.Lock()
	current, ok := s.zones[snapshot.origin]
	if !ok || !serialNewer(snapshot.soa().Serial, current.soa().Serial) {
		s.mu.Unlock()
		return false
	}
	s.zones[snapshot.origin] = snapshot.clone()
	s.mu.Unlock()

	s.repl.schedule(snapshot)
	return true
}
