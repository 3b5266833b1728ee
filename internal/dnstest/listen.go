package dnstest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/miekg/dns"
)

const (
	// bindAttempts bounds the retries when port 0 is requested and the
	// kernel's UDP port turns out to be taken for TCP.
	bindAttempts = 20
	startTimeout = 5 * time.Second
	// shutdownTimeout bounds how long Close waits for in-flight handlers.
	shutdownTimeout = 5 * time.Second
)

// endpoint is a UDP and a TCP dns.Server bound to the same address and port.
type endpoint struct {
	addr      string
	udp       *dns.Server
	tcp       *dns.Server
	closeOnce sync.Once
	closeErr  error
}

// bindLoopback binds UDP and TCP on the same loopback address and port.
// Port 0 picks a port that is free for both.
func bindLoopback(addr string) (net.PacketConn, net.Listener, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("invalid listen address %q: %w (use ip:port, for example 127.0.0.11:0)", addr, err)
	}
	if err := checkLoopback(host); err != nil {
		return nil, nil, err
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return nil, nil, fmt.Errorf("invalid port %q in listen address %q: use a number from 0 to 65535", portText, addr)
	}

	attempts := 1
	if port == 0 {
		attempts = bindAttempts
	}
	var lastErr error
	for range attempts {
		pc, ln, err := bindPair(host, port)
		if err == nil {
			return pc, ln, nil
		}
		lastErr = err
	}
	return nil, nil, fmt.Errorf("bind udp and tcp on %s: %w", addr, lastErr)
}

func bindPair(host string, port int) (net.PacketConn, net.Listener, error) {
	pc, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return nil, nil, err
	}
	bound := pc.LocalAddr().(*net.UDPAddr).Port
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(bound)))
	if err != nil {
		pc.Close()
		return nil, nil, err
	}
	return pc, ln, nil
}

// serve starts a dns.Server on each socket and returns once both run. On
// failure it closes the sockets.
func serve(pc net.PacketConn, ln net.Listener, handler dns.Handler, tsig dns.TsigProvider) (*endpoint, error) {
	e := &endpoint{addr: ln.Addr().String()}
	udpStarted := make(chan struct{})
	tcpStarted := make(chan struct{})
	e.udp = &dns.Server{
		PacketConn: pc,
		Handler:    handler,
		// The default of 512 bytes would cut off large UDP requests, such as
		// signed updates with many records.
		UDPSize:           dns.MaxMsgSize,
		TsigProvider:      tsig,
		MsgAcceptFunc:     acceptMsg,
		NotifyStartedFunc: func() { close(udpStarted) },
	}
	e.tcp = &dns.Server{
		Listener:          ln,
		Handler:           handler,
		TsigProvider:      tsig,
		MsgAcceptFunc:     acceptMsg,
		NotifyStartedFunc: func() { close(tcpStarted) },
	}

	errs := make(chan error, 2)
	go func() { errs <- e.udp.ActivateAndServe() }()
	go func() { errs <- e.tcp.ActivateAndServe() }()

	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	for pending := 2; pending > 0; {
		select {
		case <-udpStarted:
			udpStarted = nil
			pending--
		case <-tcpStarted:
			tcpStarted = nil
			pending--
		case err := <-errs:
			// Closing the sockets makes the other ActivateAndServe return.
			pc.Close()
			ln.Close()
			return nil, fmt.Errorf("start dns server on %s: %w", e.addr, err)
		case <-timer.C:
			pc.Close()
			ln.Close()
			return nil, fmt.Errorf("start dns server on %s: listeners not started after %s", e.addr, startTimeout)
		}
	}
	return e, nil
}

// close stops both listeners and waits for running handlers. Later calls
// return the first result.
func (e *endpoint) close() error {
	e.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		e.closeErr = errors.Join(e.udp.ShutdownContext(ctx), e.tcp.ShutdownContext(ctx))
		if e.closeErr != nil {
			e.closeErr = fmt.Errorf("shut down dns server on %s: %w", e.addr, e.closeErr)
		}
	})
	return e.closeErr
}

// acceptMsg extends dns.DefaultMsgAcceptFunc, which rejects every UPDATE
// with NOTIMP, to let dynamic updates through.
func acceptMsg(dh dns.Header) dns.MsgAcceptAction {
	const qrBit = 1 << 15
	opcode := int(dh.Bits>>11) & 0xF
	if opcode != dns.OpcodeUpdate {
		return dns.DefaultMsgAcceptFunc(dh)
	}
	if dh.Bits&qrBit != 0 {
		return dns.MsgIgnore
	}
	// RFC 2136 requires FORMERR unless ZOCOUNT is 1.
	if dh.Qdcount != 1 {
		return dns.MsgReject
	}
	return dns.MsgAccept
}

// checkLoopback returns an error unless host is a loopback IP literal, so
// that nothing in this package listens on or sends to another machine.
func checkLoopback(host string) error {
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		return fmt.Errorf("address %q is not a loopback ip: use 127.0.0.x or ::1 so the test network stays on this machine", host)
	}
	return nil
}

// isUDP reports whether the request arrived over UDP.
func isUDP(w dns.ResponseWriter) bool {
	return w.LocalAddr().Network() == "udp"
}
