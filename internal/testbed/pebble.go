package testbed

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
)

// PebbleOptions configures an in-process Pebble CA.
type PebbleOptions struct {
	// DNSServer is the one resolver ("host:port") Pebble's validator asks.
	DNSServer string
	// RetryAfterAuthz and RetryAfterOrder are the Retry-After seconds Pebble
	// sends while authorizations and orders are processing. Zero means 1.
	RetryAfterAuthz int
	RetryAfterOrder int
	// NonceReject is the percentage of good nonces rejected as bad (badNonce).
	NonceReject int
	// ValidationSleep, when positive, is the longest random delay in seconds
	// before each validation; zero disables the delay.
	ValidationSleep int
	// AlwaysValid makes every challenge pass without a DNS lookup; only for
	// measuring the protocol floor.
	AlwaysValid bool
	// RequireEAB makes newAccount require external account binding with one
	// of EABKeys (key ID to base64url HMAC key).
	RequireEAB bool
	EABKeys    map[string]string
	// AlternateRoots adds alternate chains; ChainLength sets intermediates+root.
	AlternateRoots int
	ChainLength    int
	// Profiles offered; nil means "default" (90 days) and "shortlived" (6 days).
	Profiles map[string]ca.Profile
	// Log receives Pebble's log lines; nil discards them.
	Log io.Writer
	// Middleware, when set, wraps Pebble's HTTP handler, for example to
	// inject faults.
	Middleware func(http.Handler) http.Handler
}

// Pebble is Let's Encrypt's test CA running in this process behind HTTPS on
// 127.0.0.1.
type Pebble struct {
	// DirectoryURL is the ACME directory.
	DirectoryURL string
	// TLSCertFile is a PEM file with the certificate of Pebble's HTTPS
	// listener, to pass as --ca-cert.
	TLSCertFile string

	ca       *ca.CAImpl
	server   *httptest.Server
	mgmt     *httptest.Server
	requests atomic.Int64

	pathsMu sync.Mutex
	paths   map[string]int64
}

// envMu serializes the start of Pebble instances, because Pebble reads its
// knobs from process environment variables inside va.New and wfe.New.
var envMu sync.Mutex

// StartPebble starts a CA whose files (the TLS certificate) go into dir.
func StartPebble(dir string, opts PebbleOptions) (*Pebble, error) {
	out := opts.Log
	if out == nil {
		out = io.Discard
	}
	logger := log.New(out, "pebble ", log.LstdFlags|log.Lmicroseconds)
	profiles := opts.Profiles
	if profiles == nil {
		profiles = map[string]ca.Profile{
			"default":    {Description: "90-day certificates", ValidityPeriod: 90 * 24 * 3600},
			"shortlived": {Description: "6-day certificates", ValidityPeriod: 6 * 24 * 3600},
		}
	}
	chainLength := opts.ChainLength
	if chainLength == 0 {
		chainLength = 1
	}
	retryAuthz, retryOrder := opts.RetryAfterAuthz, opts.RetryAfterOrder
	if retryAuthz == 0 {
		retryAuthz = 1
	}
	if retryOrder == 0 {
		retryOrder = 1
	}

	envMu.Lock()
	restore := setEnv(map[string]string{
		"PEBBLE_VA_NOSLEEP":        boolEnv(opts.ValidationSleep <= 0),
		"PEBBLE_VA_SLEEPTIME":      strconv.Itoa(max(opts.ValidationSleep, 0)),
		"PEBBLE_VA_ALWAYS_VALID":   boolEnv(opts.AlwaysValid),
		"PEBBLE_WFE_NONCEREJECT":   strconv.Itoa(opts.NonceReject),
		"PEBBLE_AUTHZREUSE":        "0",
		"PEBBLE_ALTERNATE_ROOTS":   strconv.Itoa(opts.AlternateRoots),
		"PEBBLE_CHAIN_LENGTH":      strconv.Itoa(chainLength),
		"PEBBLE_WFE_ORDERSPERPAGE": "",
	})
	store := db.NewMemoryStore()
	authority := ca.New(logger, store, "", "ecdsa", opts.AlternateRoots, chainLength, profiles)
	validator := va.New(logger, 0, 0, false, opts.DNSServer, store)
	for id, key := range opts.EABKeys {
		if err := store.AddExternalAccountKeyByID(id, key); err != nil {
			restore()
			envMu.Unlock()
			return nil, fmt.Errorf("adding EAB key %s: %w", id, err)
		}
	}
	frontend := wfe.New(logger, store, validator, authority, []string{"pebble.letsencrypt.org"},
		false, opts.RequireEAB, retryAuthz, retryOrder)
	restore()
	envMu.Unlock()

	p := &Pebble{ca: authority, paths: make(map[string]int64)}
	handler := frontend.Handler()
	if opts.Middleware != nil {
		handler = opts.Middleware(handler)
	}
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.requests.Add(1)
		p.pathsMu.Lock()
		p.paths[r.URL.Path]++
		p.pathsMu.Unlock()
		handler.ServeHTTP(w, r)
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	server := httptest.NewUnstartedServer(counted)
	server.Listener.Close()
	server.Listener = ln
	server.Config.ErrorLog = log.New(io.Discard, "", 0)
	server.StartTLS()

	certFile := filepath.Join(dir, "pebble-https.pem")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: server.Certificate().Raw})
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		server.Close()
		return nil, err
	}
	p.mgmt = httptest.NewTLSServer(frontend.ManagementHandler())
	p.mgmt.Config.ErrorLog = log.New(io.Discard, "", 0)
	p.DirectoryURL = server.URL + wfe.DirectoryPath
	p.TLSCertFile = certFile
	p.server = server
	return p, nil
}

// NewOrderPath is the path of Pebble's newOrder resource.
const NewOrderPath = "/order-plz"

// RequestsTo returns the number of requests received for exactly path.
func (p *Pebble) RequestsTo(path string) int64 {
	p.pathsMu.Lock()
	defer p.pathsMu.Unlock()
	return p.paths[path]
}

// Requests returns the number of HTTP requests Pebble has received.
func (p *Pebble) Requests() int64 {
	return p.requests.Load()
}

// Roots returns a pool with every root certificate of the CA, to verify
// issued chains.
func (p *Pebble) Roots() *x509.CertPool {
	pool := x509.NewCertPool()
	for i := range p.ca.GetNumberOfRootCerts() {
		pool.AddCert(p.ca.GetRootCert(i).Cert)
	}
	return pool
}

// HTTPClient returns a client that trusts Pebble's HTTPS listener.
func (p *Pebble) HTTPClient() *http.Client {
	return p.server.Client()
}

// SetRenewalInfo makes Pebble answer renewal information requests for the
// certificate in certPEM with the window start..end (RFC 9773 section 4.2).
func (p *Pebble) SetRenewalInfo(certPEM []byte, start, end time.Time) error {
	ari, err := json.Marshal(map[string]any{
		"suggestedWindow": map[string]string{
			"start": start.UTC().Format(time.RFC3339),
			"end":   end.UTC().Format(time.RFC3339),
		},
	})
	if err != nil {
		return err
	}
	body, err := json.Marshal(map[string]string{"Certificate": string(certPEM), "ARIResponse": string(ari)})
	if err != nil {
		return err
	}
	resp, err := p.mgmt.Client().Post(p.mgmt.URL+"/set-renewal-info/", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("set-renewal-info: %s: %s", resp.Status, msg)
	}
	return nil
}

// RootCommonName returns the common name of root i (0 is the default
// chain's root), for preferred-chain tests.
func (p *Pebble) RootCommonName(i int) string {
	return p.ca.GetRootCert(i).Cert.Subject.CommonName
}

// Close stops the HTTPS listeners. Pebble's validator goroutine keeps
// running until the process exits; it holds no sockets.
func (p *Pebble) Close() {
	p.server.Close()
	p.mgmt.Close()
}

func boolEnv(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// setEnv sets variables and returns a function that restores the old values.
func setEnv(vars map[string]string) (restore func()) {
	type old struct {
		value string
		set   bool
	}
	saved := make(map[string]old, len(vars))
	for k, v := range vars {
		prev, ok := os.LookupEnv(k)
		saved[k] = old{prev, ok}
		if v == "" {
			os.Unsetenv(k)
		} else {
			os.Setenv(k, v)
		}
	}
	return func() {
		for k, o := range saved {
			if o.set {
				os.Setenv(k, o.value)
			} else {
				os.Unsetenv(k)
			}
		}
	}
}
