// Package testbed runs a complete local issuance environment: Let's
// Encrypt's Pebble CA in this process and a network of authoritative DNS
// servers on loopback addresses, with a hidden primary that accepts RFC 2136
// updates. The tests and the dnscert-sandbox command use it; the dnscert
// binary never links it.
package testbed

import (
	"fmt"
	"log/slog"
	"strconv"
)

// Options configures a Bed.
type Options struct {
	Zones  []ZoneSpec
	Pebble PebbleOptions
	// Port of the DNS network; zero picks a free one.
	Port int
	// Subnet moves every address into 127.0.Subnet.0/24 (see StartDNSIn).
	Subnet byte
	Logger *slog.Logger
}

// Bed is a running CA with its DNS network.
type Bed struct {
	DNS    *DNS
	Pebble *Pebble
}

// Start starts the DNS network, then Pebble pointed at its resolver. dir
// receives Pebble's HTTPS certificate.
func Start(dir string, opts Options) (*Bed, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	d, err := StartDNSIn(opts.Subnet, opts.Zones, opts.Port, logger)
	if err != nil {
		return nil, fmt.Errorf("starting DNS servers: %w", err)
	}
	popts := opts.Pebble
	if popts.DNSServer == "" {
		popts.DNSServer = d.ResolverAddr()
	}
	p, err := StartPebble(dir, popts)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("starting Pebble: %w", err)
	}
	return &Bed{DNS: d, Pebble: p}, nil
}

// Close stops the CA and the DNS servers.
func (b *Bed) Close() {
	b.Pebble.Close()
	b.DNS.Close()
}

// Env returns the environment variables for the rfc2136 provider of
// dnscert to publish on this network.
func (b *Bed) Env() map[string]string {
	return map[string]string{
		"RFC2136_NAMESERVER":     b.DNS.PrimaryAddr(),
		"RFC2136_TSIG_KEY":       TSIGKey,
		"RFC2136_TSIG_SECRET":    b.DNS.TSIGSecret,
		"RFC2136_TSIG_ALGORITHM": TSIGAlgorithm,
	}
}

// IssueArgs returns the dnscert arguments of an issue command against this
// bed, storing into storagePath, for names.
func (b *Bed) IssueArgs(storagePath string, names ...string) []string {
	args := []string{
		"dnscert", "--path", storagePath, "issue",
		"--server", b.Pebble.DirectoryURL,
		"--ca-cert", b.Pebble.TLSCertFile,
		"--dns", "rfc2136",
		"--resolver", b.DNS.ResolverAddr(),
		"--dns-port", strconv.Itoa(b.DNS.Port),
		"--profile", "default",
		"--accept-tos",
		"--email", "admin@example.test",
	}
	for _, n := range names {
		args = append(args, "-d", n)
	}
	return args
}

// DefaultZones is the network of the sandbox and of the end-to-end tests:
// example.test on two nameservers, the delegated subzone sub.example.test
// on two others, and other.test, which holds a CNAME target for
// _acme-challenge.alias.example.test.
func DefaultZones() []ZoneSpec {
	return []ZoneSpec{
		{
			Origin:      "example.test.",
			Nameservers: []string{"127.0.0.11", "127.0.0.12"},
			Records: "@ IN A 127.0.0.1\nwww IN A 127.0.0.1\nalias IN A 127.0.0.1\n" +
				"_acme-challenge.alias IN CNAME alias-challenge.other.test.\n",
		},
		{
			Origin:      "sub.example.test.",
			Nameservers: []string{"127.0.0.13", "127.0.0.14"},
			Records:     "a IN A 127.0.0.1\nb IN A 127.0.0.1\n",
		},
		{
			Origin:      "other.test.",
			Nameservers: []string{"127.0.0.15"},
			Records:     "@ IN A 127.0.0.1\n",
		},
	}
}
