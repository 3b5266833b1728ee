package dnstest

import (
	"testing"
	"time"

	"github.com/miekg/dns"
)

// startPair starts a primary on 127.0.0.11 and a secondary on 127.0.0.12,
// both on one port and both hosting exampleZone.
func startPair(t *testing.T) (primary, secondary *Server) {
	t.Helper()
	port := freePort(t, "127.0.0.11", "127.0.0.12")
	primary = startServer(t, "127.0.0.11", port, "example.test.", exampleZone)
	secondary = startServer(t, "127.0.0.12", port, "example.test.", exampleZone)
	return primary, secondary
}

func insertTXT(t *testing.T, s *Server, name, value string) {
	t.Helper()
	m := newUpdate("example.test.")
	m.Insert([]dns.RR{mustRR(t, name+" 60 IN TXT \""+value+"\"")})
	expectRcode(t, "insert "+name, update(t, s.Addr(), m), dns.RcodeSuccess)
}

func servesTXT(t *testing.T, s *Server, name, value string) bool {
	t.Helper()
	for _, v := range txtValues(query(t, s.Addr(), name, dns.TypeTXT).Answer) {
		if v == value {
			return true
		}
	}
	return false
}

func TestReplicationDelay(t *testing.T) {
	primary, secondary := startPair(t)
	const delay = 300 * time.Millisecond
	if err := primary.AddSecondary(secondary, delay); err != nil {
		t.Fatalf("AddSecondary: %v", err)
	}
	const name = "_acme-challenge.example.test."

	start := time.Now()
	insertTXT(t, primary, name, "token")
	if !servesTXT(t, primary, name, "token") {
		t.Fatalf("primary does not serve the new record")
	}
	if servesTXT(t, secondary, name, "token") {
		t.Fatalf("secondary serves the new record right after the update, expected it after %s", delay)
	}
	if n := primary.PendingChanges(secondary); n != 1 {
		t.Errorf("PendingChanges = %d, expected 1", n)
	}

	if !waitFor(5*time.Second, func() bool { return servesTXT(t, secondary, name, "token") }) {
		t.Fatalf("secondary never served the new record")
	}
	if elapsed := time.Since(start); elapsed < delay {
		t.Errorf("secondary served the record after %s, before the delay of %s", elapsed, delay)
	}
	if p, s := serialOf(t, primary, "example.test."), serialOf(t, secondary, "example.test."); p != s {
		t.Errorf("serials differ after replication: primary %d, secondary %d", p, s)
	}
	if n := primary.PendingChanges(secondary); n != 0 {
		t.Errorf("PendingChanges after delivery = %d, expected 0", n)
	}
}

func TestReplicationNeverUntilFlush(t *testing.T) {
	primary, secondary := startPair(t)
	if err := primary.AddSecondary(secondary, -1); err != nil {
		t.Fatalf("AddSecondary: %v", err)
	}
	const name = "held.example.test."

	insertTXT(t, primary, name, "one")
	insertTXT(t, primary, name, "two")
	time.Sleep(50 * time.Millisecond)
	if servesTXT(t, secondary, name, "one") {
		t.Fatalf("secondary serves a change held by a negative delay")
	}
	if n := primary.PendingChanges(secondary); n != 2 {
		t.Errorf("PendingChanges = %d, expected 2", n)
	}

	primary.FlushSecondaries()
	if !servesTXT(t, secondary, name, "one") || !servesTXT(t, secondary, name, "two") {
		t.Errorf("secondary does not serve both values after FlushSecondaries")
	}
	if n := primary.PendingChanges(secondary); n != 0 {
		t.Errorf("PendingChanges after flush = %d, expected 0", n)
	}
}

func TestReplicationSetDelay(t *testing.T) {
	primary, secondary := startPair(t)
	if err := primary.AddSecondary(secondary, -1); err != nil {
		t.Fatalf("AddSecondary: %v", err)
	}
	const name = "released.example.test."

	insertTXT(t, primary, name, "v")
	if servesTXT(t, secondary, name, "v") {
		t.Fatalf("secondary serves a held change")
	}
	if err := primary.SetSecondaryDelay(secondary, 0); err != nil {
		t.Fatalf("SetSecondaryDelay: %v", err)
	}
	if !waitFor(2*time.Second, func() bool { return servesTXT(t, secondary, name, "v") }) {
		t.Errorf("secondary never served the change released by SetSecondaryDelay")
	}

	// Holding again applies to the next change.
	if err := primary.SetSecondaryDelay(secondary, -1); err != nil {
		t.Fatalf("SetSecondaryDelay: %v", err)
	}
	insertTXT(t, primary, name, "w")
	time.Sleep(50 * time.Millisecond)
	if servesTXT(t, secondary, name, "w") {
		t.Errorf("secondary serves a change made after the delay was set to never")
	}
}

func TestReplicationChain(t *testing.T) {
	port := freePort(t, "127.0.0.11", "127.0.0.12", "127.0.0.13")
	primary := startServer(t, "127.0.0.11", port, "example.test.", exampleZone)
	middle := startServer(t, "127.0.0.12", port, "example.test.", exampleZone)
	last := startServer(t, "127.0.0.13", port, "example.test.", exampleZone)
	if err := primary.AddSecondary(middle, 0); err != nil {
		t.Fatalf("AddSecondary(middle): %v", err)
	}
	if err := middle.AddSecondary(last, 0); err != nil {
		t.Fatalf("AddSecondary(last): %v", err)
	}
	// A cycle back to the primary must not loop: the serial is not newer.
	if err := last.AddSecondary(primary, 0); err != nil {
		t.Fatalf("AddSecondary(primary): %v", err)
	}

	insertTXT(t, primary, "chain.example.test.", "v")
	if !waitFor(2*time.Second, func() bool { return servesTXT(t, last, "chain.example.test.", "v") }) {
		t.Fatalf("change did not reach the end of the chain")
	}
	want := serialOf(t, primary, "example.test.")
	if got := serialOf(t, last, "example.test."); got != want {
		t.Errorf("serial at the end of the chain = %d, expected %d", got, want)
	}
}

func TestAddSecondaryInvalid(t *testing.T) {
	primary, secondary := startPair(t)
	if err := primary.AddSecondary(primary, 0); err == nil {
		t.Errorf("AddSecondary(self) succeeded, expected an error")
	}
	if err := primary.AddSecondary(nil, 0); err == nil {
		t.Errorf("AddSecondary(nil) succeeded, expected an error")
	}
	if err := primary.SetSecondaryDelay(secondary, 0); err == nil {
		t.Errorf("SetSecondaryDelay before AddSecondary succeeded, expected an error")
	}
	if err := primary.AddSecondary(secondary, 0); err != nil {
		t.Fatalf("AddSecondary: %v", err)
	}
	if err := primary.AddSecondary(secondary, 0); err == nil {
		t.Errorf("second AddSecondary of the same server succeeded, expected an error")
	}
}
