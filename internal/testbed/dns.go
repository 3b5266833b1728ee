package testbed

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/dnscert/dnscert/internal/dnstest"
)

// Fixed loopback addresses of the test network. Nameservers of the zones
// use other addresses of 127.0.0.0/8, given in each ZoneSpec.
const (
	PrimaryIP  = "127.0.0.2"  // hidden primary: takes every update, listed in no NS set
	RootIP     = "127.0.0.10" // serves the parent zone "test." with delegations
	ResolverIP = "127.0.0.20" // recursive resolver for Pebble and for bootstrap lookups
)

// TSIG key the primary requires for updates.
const (
	TSIGKey       = "dnscert-test."
	TSIGAlgorithm = "hmac-sha256"
)

// ZoneSpec describes one zone of the test network.
type ZoneSpec struct {
	// Origin is the zone apex, such as "example.test.".
	Origin string
	// Nameservers are the loopback IPs of its NS servers, named ns1, ns2, ...
	// inside the zone (with glue in the parent).
	Nameservers []string
	// Delays are how long after an update each nameserver, by IP, serves
	// it; a negative delay means never. Missing IPs get no delay. A server
	// shared by several zones takes the delay of the first zone listing it.
	Delays map[string]time.Duration
	// Records is zone-file text added to the zone, relative to Origin.
	Records string
	// NegativeTTL is the SOA MINIMUM and SOA TTL in seconds, which bound
	// how long resolvers cache negative answers; zero means 60.
	NegativeTTL uint32
}

// DNS is a network of authoritative servers for the test zones, below a
// root server for "test.", with a hidden primary that takes TSIG-signed
// updates and a recursive resolver.
type DNS struct {
	// Port is shared by every server of the network, since NS records
	// carry no port.
	Port       int
	TSIGSecret string

	Primary  *dnstest.Server
	Root     *dnstest.Server
	Resolver *dnstest.Resolver
	// Servers are the nameservers by IP.
	Servers map[string]*dnstest.Server

	zones  []ZoneSpec
	subnet byte
}

// StartDNS starts the servers for zones. Port 0 picks a free port shared by
// all addresses.
func StartDNS(zones []ZoneSpec, port int, logger *slog.Logger) (*DNS, error) {
	return StartDNSIn(0, zones, port, logger)
}

// StartDNSIn is StartDNS in the loopback block 127.0.subnet.0/24: every
// address, those in zones included, has its third octet replaced by subnet.
// Networks in different blocks can share a port, such as 53, in one host.
func StartDNSIn(subnet byte, zones []ZoneSpec, port int, logger *slog.Logger) (_ *DNS, err error) {
	zones = inSubnet(subnet, zones)
	ips := []string{inBlock(subnet, PrimaryIP), inBlock(subnet, RootIP), inBlock(subnet, ResolverIP)}
	for _, z := range zones {
		for _, ip := range z.Nameservers {
			if !slices.Contains(ips, ip) {
				ips = append(ips, ip)
			}
		}
	}
	if port == 0 {
		if port, err = dnstest.FreePort(ips...); err != nil {
			return nil, err
		}
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	d := &DNS{
		Port:       port,
		TSIGSecret: base64.StdEncoding.EncodeToString(secret),
		Servers:    make(map[string]*dnstest.Server),
		zones:      zones,
		subnet:     subnet,
	}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	opts := []dnstest.Option{dnstest.WithLogger(logger)}
	if d.Primary, err = dnstest.NewServer(d.addr(PrimaryIP), opts...); err != nil {
		return nil, err
	}
	if err := d.Primary.RequireTSIG(TSIGKey, TSIGAlgorithm, d.TSIGSecret); err != nil {
		return nil, err
	}
	if d.Root, err = dnstest.NewServer(d.addr(RootIP), opts...); err != nil {
		return nil, err
	}
	if err := d.Root.AddZone("test.", d.rootZone()); err != nil {
		return nil, fmt.Errorf("root zone: %w", err)
	}
	for _, z := range zones {
		if err := d.startZone(z, opts); err != nil {
			return nil, fmt.Errorf("zone %s: %w", z.Origin, err)
		}
	}
	d.Resolver, err = dnstest.NewResolver(d.addr(ResolverIP), []string{d.addr(RootIP)}, port, opts...)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// addr returns "ip:port" for ip moved into the network's block.
func (d *DNS) addr(ip string) string {
	return net.JoinHostPort(inBlock(d.subnet, ip), strconv.Itoa(d.Port))
}

// inBlock moves a 127.0.0.x address into 127.0.subnet.x.
func inBlock(subnet byte, ip string) string {
	if subnet == 0 {
		return ip
	}
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is4() {
		return ip
	}
	b := a.As4()
	b[2] = subnet
	return netip.AddrFrom4(b).String()
}

func inSubnet(subnet byte, zones []ZoneSpec) []ZoneSpec {
	out := make([]ZoneSpec, len(zones))
	for i, z := range zones {
		z.Nameservers = slices.Clone(z.Nameservers)
		for j, ip := range z.Nameservers {
			z.Nameservers[j] = inBlock(subnet, ip)
		}
		delays := make(map[string]time.Duration, len(z.Delays))
		for ip, d := range z.Delays {
			delays[inBlock(subnet, ip)] = d
		}
		z.Delays = delays
		out[i] = z
	}
	return out
}

// PrimaryAddr returns the address ("ip:port") that takes updates.
func (d *DNS) PrimaryAddr() string { return d.addr(PrimaryIP) }

// ResolverAddr returns the address ("ip:port") of the recursive resolver.
func (d *DNS) ResolverAddr() string { return d.addr(ResolverIP) }

func (d *DNS) startZone(z ZoneSpec, opts []dnstest.Option) error {
	text := d.zoneText(z)
	if err := d.Primary.AddZone(z.Origin, text); err != nil {
		return err
	}
	for _, ip := range z.Nameservers {
		srv, ok := d.Servers[ip]
		if !ok {
			var err error
			if srv, err = dnstest.NewServer(d.addr(ip), opts...); err != nil {
				return err
			}
			d.Servers[ip] = srv
			delay := z.Delays[ip]
			if err := d.Primary.AddSecondary(srv, delay); err != nil {
				return err
			}
		}
		if err := srv.AddZone(z.Origin, text); err != nil {
			return err
		}
	}
	return nil
}

// zoneText builds the zone: SOA naming the hidden primary, NS records, glue
// for its own nameservers, delegations to child zones of the network, and
// the extra records.
func (d *DNS) zoneText(z ZoneSpec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "$ORIGIN %s\n$TTL 300\n", z.Origin)
	negative := z.NegativeTTL
	if negative == 0 {
		negative = 60
	}
	fmt.Fprintf(&b, "@ %d IN SOA primary.test. hostmaster.%s 1 60 60 600 %d\n", negative, z.Origin, negative)
	for i, ip := range z.Nameservers {
		fmt.Fprintf(&b, "@ IN NS ns%d.%s\n", i+1, z.Origin)
		fmt.Fprintf(&b, "ns%d.%s IN A %s\n", i+1, z.Origin, ip)
	}
	b.WriteString(d.delegations(z.Origin))
	b.WriteString(z.Records)
	b.WriteString("\n")
	return b.String()
}

// rootZone is the zone "test." with a delegation for each top zone.
func (d *DNS) rootZone() string {
	var b strings.Builder
	b.WriteString("$ORIGIN test.\n$TTL 300\n")
	b.WriteString("@ IN SOA ns.test. hostmaster.test. 1 60 60 600 60\n")
	b.WriteString("@ IN NS ns.test.\n")
	fmt.Fprintf(&b, "ns IN A %s\n", inBlock(d.subnet, RootIP))
	fmt.Fprintf(&b, "primary IN A %s\n", inBlock(d.subnet, PrimaryIP))
	b.WriteString(d.delegations("test."))
	return b.String()
}

// delegations returns NS and glue records in parent for every zone whose
// closest enclosing zone of the network is parent.
func (d *DNS) delegations(parent string) string {
	var b strings.Builder
	for _, z := range d.zones {
		if d.parentOf(z.Origin) != dns.Fqdn(parent) {
			continue
		}
		for i, ip := range z.Nameservers {
			fmt.Fprintf(&b, "%s IN NS ns%d.%s\n", z.Origin, i+1, z.Origin)
			fmt.Fprintf(&b, "ns%d.%s IN A %s\n", i+1, z.Origin, ip)
		}
	}
	return b.String()
}

// parentOf returns the longest other zone of the network (or "test.") that
// contains origin.
func (d *DNS) parentOf(origin string) string {
	best := "test."
	for _, z := range d.zones {
		if z.Origin != origin && dns.IsSubDomain(z.Origin, origin) && dns.CountLabel(z.Origin) > dns.CountLabel(best) {
			best = z.Origin
		}
	}
	return best
}

// Nameserver returns the server at ip, given in the 127.0.0.x form.
func (d *DNS) Nameserver(ip string) *dnstest.Server { return d.Servers[inBlock(d.subnet, ip)] }

// TXT returns the TXT values at name held by the primary and by each
// nameserver, by IP. Tests use it to check that nothing is left behind.
func (d *DNS) TXT(name string) map[string][]string {
	out := make(map[string][]string)
	servers := map[string]*dnstest.Server{inBlock(d.subnet, PrimaryIP): d.Primary}
	for ip, s := range d.Servers {
		servers[ip] = s
	}
	for ip, s := range servers {
		for _, rr := range s.Lookup(dns.Fqdn(name), dns.TypeTXT) {
			if txt, ok := rr.(*dns.TXT); ok {
				out[ip] = append(out[ip], strings.Join(txt.Txt, ""))
			}
		}
		sort.Strings(out[ip])
	}
	return out
}

// Close stops every server.
func (d *DNS) Close() error {
	var errs []error
	if d.Resolver != nil {
		errs = append(errs, d.Resolver.Close())
	}
	for _, s := range d.Servers {
		errs = append(errs, s.Close())
	}
	if d.Root != nil {
		errs = append(errs, d.Root.Close())
	}
	if d.Primary != nil {
		errs = append(errs, d.Primary.Close())
	}
	return errors.Join(errs...)
}
