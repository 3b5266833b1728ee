package dnstest

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// freePortAttempts bounds the candidate ports FreePort tries.
const freePortAttempts = 50

// FreePort returns a port number that is free for both UDP and TCP on every
// given loopback IP, so that servers on 127.0.0.10, 127.0.0.11, ... can share
// it. Without arguments it checks 127.0.0.1.
//
// NOTE: the port is released before FreePort returns, so another process can
// take it before the caller binds it. Callers that need certainty retry with a
// new port when the bind fails.
func FreePort(ips ...string) (int, error) {
	if len(ips) == 0 {
		ips = []string{"127.0.0.1"}
	}
	for _, ip := range ips {
		if err := checkLoopback(ip); err != nil {
			return 0, err
		}
	}

	var lastErr error
	for range freePortAttempts {
		port, err := candidatePort(ips[0])
		if err != nil {
			lastErr = err
			continue
		}
		if err := probePort(ips, port); err != nil {
			lastErr = err
			continue
		}
		return port, nil
	}
	return 0, fmt.Errorf("no port free for udp and tcp on %s after %d attempts: %w",
		strings.Join(ips, ", "), freePortAttempts, lastErr)
}

// candidatePort asks the kernel for a free UDP port on ip.
func candidatePort(ip string) (int, error) {
	pc, err := net.ListenPacket("udp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, err
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).Port, nil
}

// probePort binds port for UDP and TCP on every ip at once and releases all
// sockets before it returns.
func probePort(ips []string, port int) error {
	var closers []interface{ Close() error }
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	for _, ip := range ips {
		addr := net.JoinHostPort(ip, strconv.Itoa(port))
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return err
		}
		closers = append(closers, pc)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		closers = append(closers, ln)
	}
	return nil
}
