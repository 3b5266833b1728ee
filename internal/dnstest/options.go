package dnstest

import (
	"log/slog"
	"time"
)

// Default time limits of a Resolver. Servers on loopback answer within
// milliseconds, so the limits only matter when a server drops queries.
const (
	defaultUpstreamTimeout = time.Second
	defaultResolveTimeout  = 4 * time.Second
)

// Option configures a Server or a Resolver.
type Option func(*config)

type config struct {
	logger          *slog.Logger
	upstreamTimeout time.Duration
	resolveTimeout  time.Duration
}

func newConfig(opts []Option) config {
	c := config{
		upstreamTimeout: defaultUpstreamTimeout,
		resolveTimeout:  defaultResolveTimeout,
	}
	for _, opt := range opts {
		opt(&c)
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// WithLogger sets the logger for starts, stops, updates, replication and
// errors. A nil logger discards every record, which is also the default.
func WithLogger(logger *slog.Logger) Option {
	return func(c *config) { c.logger = logger }
}

// WithUpstreamTimeout sets how long a Resolver waits for one name server to
// answer one query; a retry over TCP after a truncated UDP answer gets the
// same time again. The default is 1s. NewServer ignores this option.
func WithUpstreamTimeout(d time.Duration) Option {
	return func(c *config) { c.upstreamTimeout = d }
}

// WithResolveTimeout sets the total time a Resolver spends on one client
// query before it answers SERVFAIL. The default is 4s. NewServer ignores this
// option.
func WithResolveTimeout(d time.Duration) Option {
	return func(c *config) { c.resolveTimeout = d }
}
