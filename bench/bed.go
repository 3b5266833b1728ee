package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"

	"github.com/dnscert/dnscert/internal/dnstest"
	"github.com/dnscert/dnscert/internal/testbed"
)

// Pebble's own resolver. The test bed's resolver queries its one root server
// once and returns SERVFAIL when that UDP datagram is lost. The kernel drops
// datagrams (RcvbufErrors in /proc/net/snmp) when the 100-name orders make
// Pebble start 3 lookups per name at once. A CA's resolver retries, so
// Pebble gets a resolver that lists the root server caResolverRootTries
// times and gives up on one server after caResolverUpstreamTimeout.
const (
	caResolverIP              = "127.0.0.21"
	caResolverRootTries       = 3
	caResolverUpstreamTimeout = 250 * time.Millisecond
)

// caseBed is a case's test bed: the DNS network of internal/testbed, the
// resolver Pebble queries, and Pebble.
type caseBed struct {
	*testbed.Bed
	resolver *dnstest.Resolver
	observer *pebbleObserver
	logFile  *os.File
}

// startBed starts the DNS network with zones, a resolver for Pebble and
// Pebble. Warnings of the servers go to testbed.log in dir.
func startBed(dir string, zones []testbed.ZoneSpec) (_ *caseBed, err error) {
	b := &caseBed{observer: newPebbleObserver()}
	defer func() {
		if err != nil {
			b.Close()
		}
	}()
	if b.logFile, err = os.Create(filepath.Join(dir, "testbed.log")); err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewTextHandler(b.logFile, &slog.HandlerOptions{Level: slog.LevelWarn}))

	network, err := testbed.StartDNS(zones, 0, logger)
	if err != nil {
		return nil, fmt.Errorf("starting DNS servers: %w", err)
	}
	b.Bed = &testbed.Bed{DNS: network}
	roots := make([]string, caResolverRootTries)
	for i := range roots {
		roots[i] = network.Root.Addr()
	}
	b.resolver, err = dnstest.NewResolver(caResolverIP+":0", roots, network.Port,
		dnstest.WithUpstreamTimeout(caResolverUpstreamTimeout), dnstest.WithLogger(logger))
	if err != nil {
		return nil, fmt.Errorf("starting Pebble's resolver: %w", err)
	}
	b.Pebble, err = testbed.StartPebble(dir, testbed.PebbleOptions{
		DNSServer: b.resolver.Addr(),
		// The zero values of the other options mean: no validation sleep,
		// no nonce rejection, Retry-After 1 s for authorizations and
		// orders.
		Profiles: map[string]ca.Profile{
			"default": {Description: "90-day certificates", ValidityPeriod: 90 * 24 * 3600},
		},
		Middleware: b.observer.Middleware,
	})
	if err != nil {
		return nil, fmt.Errorf("starting Pebble: %w", err)
	}
	return b, nil
}

// Close stops every server of the bed.
func (b *caseBed) Close() {
	if b.Bed != nil {
		if b.Pebble != nil {
			b.Pebble.Close()
		}
		b.DNS.Close()
	}
	if b.resolver != nil {
		b.resolver.Close()
	}
	if b.logFile != nil {
		b.logFile.Close()
	}
}

// Warnings returns the number of warnings the servers logged, such as
// failed resolutions.
func (b *caseBed) Warnings() int {
	data, err := os.ReadFile(b.logFile.Name())
	if err != nil {
		return 0
	}
	return strings.Count(string(data), "level=WARN")
}

// udpReceiveErrors returns the machine's count of UDP datagrams dropped
// because a socket's receive buffer was full (RcvbufErrors in
// /proc/net/snmp), or -1 when it cannot be read. It counts every process
// of the machine, not only the benchmark's.
func udpReceiveErrors() int64 {
	var header []string
	for _, line := range strings.Split(readFile("/proc/net/snmp"), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || fields[0] != "Udp:" {
			continue
		}
		if header == nil {
			header = fields
			continue
		}
		for i, name := range header {
			if name == "RcvbufErrors" && i < len(fields) {
				n, err := strconv.ParseInt(fields[i], 10, 64)
				if err == nil {
					return n
				}
			}
		}
	}
	return -1
}
