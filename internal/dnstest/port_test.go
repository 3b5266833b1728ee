package dnstest

import (
	"net"
	"strconv"
	"testing"
)

func TestFreePortSharedByIPs(t *testing.T) {
	ips := []string{"127.0.0.10", "127.0.0.11", "127.0.0.12"}
	port, err := FreePort(ips...)
	if err != nil {
		t.Fatalf("FreePort: %v", err)
	}
	if port <= 0 || port > 65535 {
		t.Fatalf("FreePort = %d, expected a port number", port)
	}
	for _, ip := range ips {
		addr := net.JoinHostPort(ip, strconv.Itoa(port))
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			t.Errorf("bind udp %s: %v", addr, err)
			continue
		}
		defer pc.Close()
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("bind tcp %s: %v", addr, err)
			continue
		}
		defer ln.Close()
	}
}

func TestProbePortTaken(t *testing.T) {
	// A port bound for TCP on one of the IPs is not free.
	ln, err := net.Listen("tcp", "127.0.0.21:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	taken := ln.Addr().(*net.TCPAddr).Port

	if err := probePort([]string{"127.0.0.20", "127.0.0.21"}, taken); err == nil {
		t.Errorf("probePort(%d) succeeded on a port bound for tcp", taken)
	}
}

func TestFreePortDefaultIP(t *testing.T) {
	if _, err := FreePort(); err != nil {
		t.Errorf("FreePort(): %v", err)
	}
}

func TestLoopbackOnly(t *testing.T) {
	if _, err := FreePort("192.0.2.1"); err == nil {
		t.Errorf("FreePort(192.0.2.1) succeeded, expected a loopback error")
	}
	if _, err := NewServer("0.0.0.0:0"); err == nil {
		t.Errorf("NewServer(0.0.0.0:0) succeeded, expected a loopback error")
	}
	if _, err := NewServer("localhost:0"); err == nil {
		t.Errorf("NewServer(localhost:0) succeeded, expected an error for a host name")
	}
	if _, err := NewResolver("127.0.0.2:0", []string{"192.0.2.1:53"}, 53); err == nil {
		t.Errorf("NewResolver with a non-loopback root succeeded, expected an error")
	}
}

func TestServerFixedPort(t *testing.T) {
	port := freePort(t, "127.0.0.11", "127.0.0.12")
	a := startServer(t, "127.0.0.11", port)
	b := startServer(t, "127.0.0.12", port)
	if want := joinAddr("127.0.0.11", port); a.Addr() != want {
		t.Errorf("Addr = %s, expected %s", a.Addr(), want)
	}
	if want := joinAddr("127.0.0.12", port); b.Addr() != want {
		t.Errorf("Addr = %s, expected %s", b.Addr(), want)
	}
	if _, err := NewServer(a.Addr()); err == nil {
		t.Errorf("second NewServer on %s succeeded, expected a bind error", a.Addr())
	}
}

func TestServerCloseTwice(t *testing.T) {
	s, err := NewServer("127.0.0.11:0")
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
