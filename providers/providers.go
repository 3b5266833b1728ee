// Package providers is the registry of the DNS providers that dnscert can
// use for the DNS-01 challenge. Each provider declares the environment
// variables it reads, and [New] builds it from them after checking that
// every required variable is set. No provider constructor sends network
// traffic, so configuration errors surface before the first request.
//
// The provider packages do not import this package. Their adapters live
// here and are listed in the table in registry.go, so this package
// imports each provider package and never the reverse.
package providers

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/libdns/libdns"
)

// Provider is the interface dnscert needs from a DNS provider, to add the
// challenge TXT records and to delete them afterwards.
type Provider interface {
	libdns.RecordAppender
	libdns.RecordDeleter
}

// Var describes one environment variable that a provider reads.
type Var struct {
	// Name is the variable's name, such as "RFC2136_NAMESERVER". The value
	// may also come from the file named by Name + "_FILE".
	Name string
	// Required makes New fail when the variable, its aliases and its _FILE
	// form are all unset or empty.
	Required bool
	// Secret marks a value that must never appear in errors or logs.
	Secret bool
	// Usage is a one-line description for help text.
	Usage string
	// Aliases are other accepted names, tried in order after Name.
	Aliases []string
}

// Info describes a registered provider.
type Info struct {
	Name    string // registry name, lower case, such as "rfc2136"
	Usage   string // one-line description for help text
	Example string // example configuration for help text
	Vars    []Var
	// CredentialVars name the variables to check when the provider rejects
	// its credentials.
	CredentialVars []string
	// New builds the provider from its configuration. It must not send
	// network traffic.
	New func(Config) (Provider, error)
}

// clone returns a copy of info whose slices the caller may modify.
func (info Info) clone() Info {
	info.Vars = slices.Clone(info.Vars)
	info.CredentialVars = slices.Clone(info.CredentialVars)
	for i := range info.Vars {
		info.Vars[i].Aliases = slices.Clone(info.Vars[i].Aliases)
	}
	return info
}

// Lookup returns the provider registered under name, ignoring case.
func Lookup(name string) (Info, bool) {
	name = strings.ToLower(strings.TrimSpace(name))
	for _, info := range registry {
		if info.Name == name {
			return info.clone(), true
		}
	}
	return Info{}, false
}

// All returns every registered provider, sorted by name.
func All() []Info {
	all := make([]Info, 0, len(registry))
	for _, info := range registry {
		all = append(all, info.clone())
	}
	slices.SortFunc(all, func(a, b Info) int { return strings.Compare(a.Name, b.Name) })
	return all
}

// Names returns the names of all registered providers, sorted.
func Names() []string {
	names := make([]string, 0, len(registry))
	for _, info := range All() {
		names = append(names, info.Name)
	}
	return names
}

// New builds the provider called name with variables from lookup, which is
// os.LookupEnv in production. It fails, before any network traffic, when
// the name is unknown, when a required variable is missing, or when the
// provider rejects a value. Errors never contain secret values.
func New(name string, lookup func(string) (string, bool), opts ...Option) (Provider, error) {
	if lookup == nil {
		return nil, errors.New("providers: lookup function is nil; pass os.LookupEnv")
	}
	info, ok := Lookup(name)
	if !ok {
		return nil, fmt.Errorf("unknown DNS provider %q; known providers: %s", name, strings.Join(Names(), ", "))
	}

	cfg := NewConfig(info, lookup)
	for _, opt := range opts {
		opt(&cfg)
	}
	for _, v := range info.Vars {
		if !v.Required {
			continue
		}
		value, err := cfg.Get(v.Name)
		if err != nil {
			return nil, fmt.Errorf("provider %s: %w", info.Name, err)
		}
		if value == "" {
			return nil, fmt.Errorf("provider %s: missing required variable %s; set %s to %s", info.Name, v.describeNames(), v.Name, v.Usage)
		}
	}

	p, err := info.New(cfg)
	if err != nil {
		return nil, prefixErrors("provider "+info.Name+": ", err)
	}
	return withCredentialCheck(p, info), nil
}

// Option changes how New builds a provider.
type Option func(*Config)

// WithLogger gives the provider a logger for retries and debug lines.
func WithLogger(logger *slog.Logger) Option {
	return func(c *Config) { c.logger = logger }
}

// prefixErrors adds prefix to err, and to each error joined in err, so
// every line of a multi-line message names its source.
func prefixErrors(prefix string, err error) error {
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok || len(joined.Unwrap()) < 2 {
		return fmt.Errorf("%s%w", prefix, err)
	}
	errs := joined.Unwrap()
	prefixed := make([]error, len(errs))
	for i, e := range errs {
		prefixed[i] = fmt.Errorf("%s%w", prefix, e)
	}
	return errors.Join(prefixed...)
}

// describeNames lists every name that can set v, such as
// "RFC2136_NAMESERVER (or RFC2136_NAMESERVER_FILE)".
func (v Var) describeNames() string {
	others := append(slices.Clone(v.Aliases), v.Name+"_FILE")
	return v.Name + " (or " + strings.Join(others, ", or ") + ")"
}
