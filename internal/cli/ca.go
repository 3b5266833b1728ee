package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mholt/acmez/v3/acme"
	"github.com/urfave/cli/v2"

	"github.com/dnscert/dnscert/issuer"
	"github.com/dnscert/dnscert/storage"
)

const (
	flagServer    = "server"
	flagEmail     = "email"
	flagCACert    = "ca-cert"
	flagAcceptTOS = "accept-tos"
	flagEABKeyID  = "eab-kid"
	flagEABHMAC   = "eab-hmac"
)

// caDirectory is a --server shortcut.
type caDirectory struct {
	url string
	// eab is true for CAs that register accounts only with external account
	// binding, so a missing key ID fails before any request.
	eab bool
}

// caShortcuts maps --server shortcuts to ACME directory URLs.
var caShortcuts = map[string]caDirectory{
	"letsencrypt":         {url: "https://acme-v02.api.letsencrypt.org/directory"},
	"letsencrypt-staging": {url: "https://acme-staging-v02.api.letsencrypt.org/directory"},
	"zerossl":             {url: "https://acme.zerossl.com/v2/DV90", eab: true},
	"google":              {url: "https://dv.acme-v02.api.pki.goog/directory", eab: true},
	"google-staging":      {url: "https://dv.acme-v02.test-api.pki.goog/directory", eab: true},
	"buypass":             {url: "https://api.buypass.com/acme/directory"},
}

func shortcutNames() string {
	names := make([]string, 0, len(caShortcuts))
	for n := range caShortcuts {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// caFlags are the flags that choose the CA and the account.
func caFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{
			Name:    flagServer,
			Usage:   "ACME directory URL, or one of: " + shortcutNames(),
			EnvVars: envName(flagServer),
			Value:   "letsencrypt",
		},
		&cli.StringFlag{
			Name:    flagEmail,
			Usage:   "contact e-mail for the ACME account; each e-mail gets its own account",
			EnvVars: envName(flagEmail),
		},
		&cli.BoolFlag{
			Name:    flagAcceptTOS,
			Usage:   "agree to the CA's terms of service when registering an account",
			EnvVars: envName(flagAcceptTOS),
		},
		&cli.StringSliceFlag{
			Name:    flagCACert,
			Usage:   "PEM file of extra trusted root certificates for the ACME server's HTTPS (a test CA)",
			EnvVars: envName(flagCACert),
		},
		&cli.StringFlag{
			Name:    flagEABKeyID,
			Usage:   "external account binding key ID, for CAs that require one (ZeroSSL, Google)",
			EnvVars: envName(flagEABKeyID),
		},
		&cli.StringFlag{
			Name:    flagEABHMAC,
			Usage:   "external account binding HMAC key (base64url); prefer DNSCERT_EAB_HMAC or DNSCERT_EAB_HMAC_FILE, since arguments are visible to other users",
			EnvVars: envName(flagEABHMAC),
		},
	}
}

// caOptions is a validated CA and account selection.
type caOptions struct {
	directory  string
	requireEAB bool
	email      string
	acceptTOS  bool
	roots      *x509.CertPool
	eabKeyID   string
	eabHMAC    string
	// explicit is true when --server was given, so renewals use that CA
	// instead of the one each certificate came from.
	explicit bool
}

// parseCAOptions checks the CA flags without any network request.
func parseCAOptions(cctx *cli.Context) (*caOptions, []error) {
	var errs []error
	o := &caOptions{
		email:     strings.TrimSpace(cctx.String(flagEmail)),
		acceptTOS: cctx.Bool(flagAcceptTOS),
		eabKeyID:  cctx.String(flagEABKeyID),
		explicit:  cctx.IsSet(flagServer),
	}
	var err error
	if o.directory, o.requireEAB, err = directoryURL(cctx.String(flagServer)); err != nil {
		errs = append(errs, err)
	}
	if o.email != "" {
		if addr, err := mail.ParseAddress(o.email); err != nil || addr.Address != o.email {
			errs = append(errs, fmt.Errorf("invalid --email %q: give a plain address such as admin@example.com", o.email))
		}
	}
	if o.roots, err = loadRoots(cctx.StringSlice(flagCACert)); err != nil {
		errs = append(errs, err)
	}
	if o.eabHMAC, err = secretValue(cctx.String(flagEABHMAC), "DNSCERT_EAB_HMAC_FILE"); err != nil {
		errs = append(errs, err)
	}
	validHMAC := true
	if o.eabHMAC != "" {
		// acmez decodes the key as unpadded base64url; a bad key would
		// otherwise fail only after the first requests.
		if _, err := base64.RawURLEncoding.DecodeString(o.eabHMAC); err != nil {
			validHMAC = false
			errs = append(errs, fmt.Errorf("invalid --eab-hmac: %v; give the HMAC key exactly as your CA shows it, in base64url without padding", err))
		}
	}
	// An invalid HMAC key has its own message, which is the one to act on.
	if validHMAC && (o.eabKeyID == "") != (o.eabHMAC == "") {
		errs = append(errs, errors.New("external account binding needs both --eab-kid and --eab-hmac (or DNSCERT_EAB_HMAC_FILE)"))
	}
	return o, errs
}

// secretValue returns value, or the content of the file named by the
// variable fileVar when value is empty.
func secretValue(value, fileVar string) (string, error) {
	if value != "" {
		return value, nil
	}
	path := os.Getenv(fileVar)
	if path == "" {
		return "", nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("invalid %s: %w", fileVar, err)
	}
	return strings.TrimSpace(string(data)), nil
}

// directoryURL expands a --server shortcut and checks the URL. Error
// messages show the URL without its password, if it has one.
func directoryURL(server string) (string, bool, error) {
	if d, ok := caShortcuts[strings.ToLower(server)]; ok {
		return d.url, d.eab, nil
	}
	for _, d := range caShortcuts {
		if d.url == server {
			return d.url, d.eab, nil
		}
	}
	u, err := url.Parse(server)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", false, fmt.Errorf("invalid --server %q: give an ACME directory URL (https://...) or one of: %s", redactURL(server, u), shortcutNames())
	}
	if u.User != nil {
		return "", false, fmt.Errorf("invalid --server %q: credentials in the URL are not supported; ACME authenticates with the account key, so remove the user name and password from the URL", u.Redacted())
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", false, fmt.Errorf("invalid --server %q: port %s is out of range; give a port from 1 to 65535", server, p)
		}
	}
	if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		return "", false, fmt.Errorf("invalid --server %q: ACME needs HTTPS except on loopback addresses", server)
	}
	return server, false, nil
}

// redactURL returns server with the password replaced by "xxxxx" when u,
// its parse, has one, and server as it is otherwise.
func redactURL(server string, u *url.URL) string {
	if u == nil {
		// An unparsable URL may still contain "user:password@".
		if at := strings.LastIndex(server, "@"); at >= 0 {
			if scheme := strings.Index(server, "://"); scheme >= 0 && scheme < at {
				return server[:scheme+3] + "xxxxx" + server[at:]
			}
		}
		return server
	}
	if _, ok := u.User.Password(); ok {
		return u.Redacted()
	}
	return server
}

// isLoopbackHost reports whether host is "localhost" or a loopback IP
// address. Host names other than localhost do not count, since DNS may
// point a name such as 127.example.com anywhere.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Unmap().IsLoopback()
}

// loadRoots returns the system roots plus the certificates in files.
func loadRoots(files []string) (*x509.CertPool, error) {
	if len(files) == 0 {
		return nil, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("invalid --ca-cert: %w", err)
		}
		if !pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("invalid --ca-cert %s: no PEM certificate found in the file", f)
		}
	}
	return pool, nil
}

// Time limits of the requests to the CA, so that a CA that accepts
// connections but never responds fails the run instead of holding it. ACME
// requests are small, and long operations are polled, so a minute per
// attempt is generous. The waits for a short Retry-After between attempts
// do not count against it.
const (
	acmeRequestTimeout        = 60 * time.Second
	acmeResponseHeaderTimeout = 30 * time.Second
	acmeTLSHandshakeTimeout   = 10 * time.Second
)

// newACMEClient builds the ACME client, trusting roots when given. Short
// waits the CA asks for with Retry-After are honoured by the transport.
func newACMEClient(directory string, roots *x509.CertPool, logger *slog.Logger) (*acme.Client, *issuer.RetryTransport) {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.ResponseHeaderTimeout = acmeResponseHeaderTimeout
	transport.TLSHandshakeTimeout = acmeTLSHandshakeTimeout
	// Authorizations are fetched and polled in parallel, up to one request
	// per name: keeping that many idle connections saves a TLS handshake per
	// request on CAs that speak HTTP/1.1.
	transport.MaxIdleConnsPerHost = 100
	if roots != nil {
		transport.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	retry := &issuer.RetryTransport{Base: transport, AttemptTimeout: acmeRequestTimeout, Logger: logger}
	return &acme.Client{
		Directory:   directory,
		HTTPClient:  &http.Client{Transport: retry},
		UserAgent:   "dnscert/" + Version,
		Logger:      logger.With(slog.String("component", "acme")),
		PollTimeout: 10 * time.Minute,
	}, retry
}

// account loads or registers the account of the CA options. A CA known to
// require external account binding is refused without a key ID before any
// request, unless an account is already stored.
func (o *caOptions) account(ctx context.Context, client *acme.Client, store *storage.Store, logger *slog.Logger) (acme.Account, error) {
	if o.requireEAB && o.eabKeyID == "" {
		if _, err := store.LoadAccount(o.directory, o.email); errors.Is(err, storage.ErrNotFound) {
			return acme.Account{}, usageErrorf("the CA at %s registers accounts only with external account binding: add --eab-kid and --eab-hmac from your account at the CA", o.directory)
		}
	}
	return issuer.LoadOrRegister(ctx, client, store, issuer.AccountOptions{
		Email:     o.email,
		AcceptTOS: o.acceptTOS,
		EABKeyID:  o.eabKeyID,
		EABHMAC:   o.eabHMAC,
		Logger:    logger,
	})
}
