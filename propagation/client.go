package propagation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sync/singleflight"
)

// Defaults for the zero values of Client's fields.
const (
	DefaultPort         = 53
	DefaultQueryTimeout = 2 * time.Second
	// DefaultUDPSize follows the DNS Flag Day 2020 advice, which avoids IP
	// fragmentation; larger answers come back truncated and are read over TCP.
	DefaultUDPSize = 1232
)

// Client finds the zones and authoritative nameservers of names and checks
// what those nameservers serve. Its zero value uses the system's resolvers
// for bootstrap lookups and port 53 for authoritative servers.
//
// A Client is safe for concurrent use and must not be copied after first use.
type Client struct {
	// Resolvers are recursive resolvers ("host:port") used only for
	// bootstrap lookups: the SOA walk that finds an enclosing zone, NS sets
	// and nameserver addresses. Challenge names are never sent to them.
	// Empty means the servers in /etc/resolv.conf.
	Resolvers []string

	// Port is the port of authoritative nameservers. NS records carry no
	// port, so it is the same for every nameserver; tests set it to reach
	// loopback servers. Zero means 53.
	Port int

	// QueryTimeout bounds each single query. Zero means DefaultQueryTimeout.
	QueryTimeout time.Duration

	// UDPSize is the EDNS0 buffer size advertised. Zero means DefaultUDPSize.
	UDPSize uint16

	// UseIPv6 decides whether AAAA addresses of nameservers are queried.
	// Nil means yes when this host has a global IPv6 address.
	UseIPv6 *bool

	// Logger receives debug lines for each query and progress of waits.
	// Nil discards them.
	Logger *slog.Logger

	queries atomic.Int64

	resolversOnce sync.Once
	resolvers     []string
	resolversErr  error

	ipv6Once sync.Once
	ipv6     bool

	zonesMu     sync.Mutex
	zones       map[string]Zone // by apex; see Nameservers
	zoneLookups singleflight.Group
}

// Queries returns the number of DNS queries sent so far, counting a TCP
// retry after a truncated answer as a second query.
func (c *Client) Queries() int64 {
	return c.queries.Load()
}

func (c *Client) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

func (c *Client) port() int {
	if c.Port == 0 {
		return DefaultPort
	}
	return c.Port
}

func (c *Client) queryTimeout() time.Duration {
	if c.QueryTimeout == 0 {
		return DefaultQueryTimeout
	}
	return c.QueryTimeout
}

func (c *Client) udpSize() uint16 {
	if c.UDPSize == 0 {
		return DefaultUDPSize
	}
	return c.UDPSize
}

// useIPv6 decides once whether IPv6 addresses of nameservers are queried,
// and logs when they are not, since the CA may still reach them that way.
func (c *Client) useIPv6() bool {
	c.ipv6Once.Do(func() {
		if c.UseIPv6 != nil {
			c.ipv6 = *c.UseIPv6
		} else {
			c.ipv6 = hostHasGlobalIPv6()
		}
		if !c.ipv6 {
			c.logger().Info("this host has no global IPv6 address, so only the IPv4 addresses of nameservers are checked")
		}
	})
	return c.ipv6
}

// serverAddr returns "ip:port" for an authoritative nameserver address.
func (c *Client) serverAddr(ip netip.Addr) string {
	return net.JoinHostPort(ip.String(), strconv.Itoa(c.port()))
}

func (c *Client) bootstrapResolvers() ([]string, error) {
	c.resolversOnce.Do(func() {
		if len(c.Resolvers) > 0 {
			for _, r := range c.Resolvers {
				c.resolvers = append(c.resolvers, withDefaultPort(r))
			}
			return
		}
		conf, err := dns.ClientConfigFromFile("/etc/resolv.conf")
		if err != nil {
			c.resolversErr = fmt.Errorf("reading the system's resolvers: %w; give one with --resolver", err)
			return
		}
		for _, s := range conf.Servers {
			c.resolvers = append(c.resolvers, net.JoinHostPort(s, conf.Port))
		}
		if len(c.resolvers) == 0 {
			c.resolversErr = errors.New("/etc/resolv.conf lists no nameserver; give one with --resolver")
		}
	})
	return c.resolvers, c.resolversErr
}

// withDefaultPort adds ":53" to a resolver given without a port.
func withDefaultPort(server string) string {
	if _, _, err := net.SplitHostPort(server); err == nil {
		return server
	}
	return net.JoinHostPort(strings.Trim(server, "[]"), "53")
}

// ValidateResolver checks one --resolver value: an IP address with an
// optional port. Host names are rejected because resolving them would need a
// resolver in the first place.
func ValidateResolver(server string) error {
	host, port := server, ""
	if h, p, err := net.SplitHostPort(server); err == nil {
		host, port = h, p
	}
	if _, err := netip.ParseAddr(strings.Trim(host, "[]")); err != nil {
		return fmt.Errorf("invalid resolver %q: give an IP address with an optional port, such as 127.0.0.1:53 or [2001:db8::53]:53", server)
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("invalid resolver %q: the port must be a number from 1 to 65535", server)
		}
	}
	return nil
}

// newQuery builds a query with EDNS0. Authoritative queries clear RD so that
// the answer shows what the server itself holds.
func (c *Client) newQuery(name string, qtype uint16, recursive bool) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = recursive
	m.SetEdns0(c.udpSize(), false)
	return m
}

// exchange sends m to addr over UDP and repeats it over TCP when the answer
// is truncated, so a large RRset is never mistaken for a missing value.
func (c *Client) exchange(ctx context.Context, m *dns.Msg, addr string) (*dns.Msg, error) {
	timeout := c.queryTimeout()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	c.queries.Add(1)
	udp := &dns.Client{Net: "udp", UDPSize: c.udpSize(), Timeout: timeout}
	r, _, err := udp.ExchangeContext(ctx, m, addr)
	if err == nil && !r.Truncated {
		c.logQuery(ctx, m, r, addr, "udp")
		return r, nil
	}
	if err != nil && !isTimeout(err) {
		return nil, err
	}
	// A timeout over UDP is retried over TCP too: some networks drop large
	// UDP answers (fragments) that TCP delivers.
	c.queries.Add(1)
	tcp := &dns.Client{Net: "tcp", Timeout: timeout}
	r, _, err = tcp.ExchangeContext(ctx, m, addr)
	if err != nil {
		return nil, err
	}
	c.logQuery(ctx, m, r, addr, "tcp")
	return r, nil
}

func (c *Client) logQuery(ctx context.Context, m, r *dns.Msg, addr, transport string) {
	logger := c.logger()
	if !logger.Enabled(ctx, slog.LevelDebug) {
		return
	}
	q := m.Question[0]
	logger.LogAttrs(ctx, slog.LevelDebug, "dns query",
		slog.String("name", q.Name),
		slog.String("type", dns.TypeToString[q.Qtype]),
		slog.String("server", addr),
		slog.String("transport", transport),
		slog.Bool("rd", m.RecursionDesired),
		slog.String("rcode", dns.RcodeToString[r.Rcode]),
		slog.Bool("aa", r.Authoritative),
		slog.Int("answers", len(r.Answer)))
}

func isTimeout(err error) bool {
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return true
	}
	return errors.Is(err, context.DeadlineExceeded)
}

// recursive asks the bootstrap resolvers in turn and returns the first
// NOERROR or NXDOMAIN answer.
func (c *Client) recursive(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	servers, err := c.bootstrapResolvers()
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, server := range servers {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r, err := c.exchange(ctx, c.newQuery(name, qtype, true), server)
		if err != nil {
			errs = append(errs, fmt.Errorf("resolver %s: %w", server, err))
			continue
		}
		if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
			errs = append(errs, fmt.Errorf("resolver %s answered %s", server, dns.RcodeToString[r.Rcode]))
			continue
		}
		return r, nil
	}
	return nil, fmt.Errorf("looking up %s %s: %w", name, dns.TypeToString[qtype], errors.Join(errs...))
}

// lookupAddrs resolves a nameserver's host name to its addresses through the
// bootstrap resolvers.
func (c *Client) lookupAddrs(ctx context.Context, host string) ([]netip.Addr, error) {
	types := []uint16{dns.TypeA}
	if c.useIPv6() {
		types = append(types, dns.TypeAAAA)
	}
	var addrs []netip.Addr
	var errs []error
	for _, qtype := range types {
		r, err := c.recursive(ctx, host, qtype)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		addrs = append(addrs, addrsFromRRs(r.Answer, "")...)
	}
	if len(addrs) == 0 {
		if len(errs) > 0 {
			return nil, errors.Join(errs...)
		}
		return nil, fmt.Errorf("nameserver %s has no address records", host)
	}
	return addrs, nil
}

// addrsFromRRs collects A and AAAA addresses, of owner only when it is set.
func addrsFromRRs(rrs []dns.RR, owner string) []netip.Addr {
	var addrs []netip.Addr
	for _, rr := range rrs {
		if owner != "" && !strings.EqualFold(rr.Header().Name, owner) {
			continue
		}
		var ip net.IP
		switch v := rr.(type) {
		case *dns.A:
			ip = v.A
		case *dns.AAAA:
			ip = v.AAAA
		default:
			continue
		}
		if a, ok := netip.AddrFromSlice(ip); ok {
			addrs = append(addrs, a.Unmap())
		}
	}
	return addrs
}

func hostHasGlobalIPv6() bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		prefix, err := netip.ParsePrefix(a.String())
		if err != nil {
			continue
		}
		ip := prefix.Addr()
		if ip.Is6() && !ip.Is4In6() && ip.IsGlobalUnicast() && !ip.IsPrivate() {
			return true
		}
	}
	return false
}
