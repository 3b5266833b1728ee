package issuer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mholt/acmez/v3/acme"

	"github.com/dnscert/dnscert/storage"
)

func TestChooseInstantInsideWindow(t *testing.T) {
	var ari acme.RenewalInfo
	ari.SuggestedWindow.Start = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	ari.SuggestedWindow.End = ari.SuggestedWindow.Start.Add(48 * time.Hour)
	seen := map[time.Time]bool{}
	for range 50 {
		w := chooseInstant(nil, ari)
		if w.SelectedTime.Before(w.Start) || !w.SelectedTime.Before(w.End) {
			t.Fatalf("selected %s outside %s..%s", w.SelectedTime, w.Start, w.End)
		}
		seen[w.SelectedTime] = true
	}
	if len(seen) < 10 {
		t.Errorf("50 draws gave only %d distinct instants; the choice is not random", len(seen))
	}
}

func TestChooseInstantKeptForSameWindow(t *testing.T) {
	var ari acme.RenewalInfo
	ari.SuggestedWindow.Start = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	ari.SuggestedWindow.End = ari.SuggestedWindow.Start.Add(48 * time.Hour)
	first := chooseInstant(nil, ari)
	again := chooseInstant(first, ari)
	if !again.SelectedTime.Equal(first.SelectedTime) {
		t.Errorf("same window drew a new instant: %s then %s", first.SelectedTime, again.SelectedTime)
	}
	ari.SuggestedWindow.End = ari.SuggestedWindow.End.Add(-24 * time.Hour)
	moved := chooseInstant(first, ari)
	if moved.SelectedTime.After(moved.End) {
		t.Errorf("after the window moved, the instant %s is outside it", moved.SelectedTime)
	}
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		value string
		want  time.Time
		ok    bool
	}{
		{value: "120", want: now.Add(2 * time.Minute), ok: true},
		{value: "0", want: now, ok: true},
		{value: "Fri, 04 Dec 2026 13:00:00 GMT", want: now.Add(time.Hour), ok: true},
		{value: "", ok: false},
		{value: "soon", ok: false},
		{value: "-5", ok: false},
	}
	for _, tt := range tests {
		got, ok := retryAfter(tt.value, now)
		if ok != tt.ok || (ok && !got.Equal(tt.want)) {
			t.Errorf("retryAfter(%q) = %s, %v; want %s, %v", tt.value, got, ok, tt.want, tt.ok)
		}
	}
}

func TestRetryTransportWaitsShortRetryAfter(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	client := &http.Client{Transport: &RetryTransport{}}
	start := time.Now()
	resp, err := client.Post(srv.URL, "application/jose+json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status = %d, want 200 after the retry", resp.StatusCode)
	}
	if calls.Load() != 2 {
		t.Errorf("%d requests, want 2", calls.Load())
	}
	if waited := time.Since(start); waited < time.Second {
		t.Errorf("retried after %s, before the Retry-After of 1s", waited)
	}
}

func TestRetryTransportReturnsLongRetryAfter(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	transport := &RetryTransport{}
	resp, err := (&http.Client{Transport: transport}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || calls.Load() != 1 {
		t.Errorf("status %d after %d requests, want 429 after 1", resp.StatusCode, calls.Load())
	}
	if until := time.Until(transport.LastRetryAfter()); until < 59*time.Minute {
		t.Errorf("LastRetryAfter is %s away, want about an hour", until)
	}
}

func selfSigned(t *testing.T, notBefore, notAfter time.Time) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: notBefore, NotAfter: notAfter, DNSNames: []string{"example.test"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// Without renewal information the certificate is due once a third of its
// lifetime remains; --days and --force override.
func TestDecideRenewalWithoutARI(t *testing.T) {
	dir := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"newNonce":"x","newAccount":"x","newOrder":"x","revokeCert":"x","keyChange":"x"}`))
	}))
	defer dir.Close()
	client := &acme.Client{Directory: dir.URL}
	start := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	leaf := selfSigned(t, start, start.Add(90*24*time.Hour))
	meta := storage.Metadata{Name: "example.test"}
	tests := []struct {
		name   string
		policy RenewalPolicy
		due    bool
	}{
		{name: "day 50 of 90", policy: RenewalPolicy{Now: start.Add(50 * 24 * time.Hour)}, due: false},
		{name: "day 61 of 90", policy: RenewalPolicy{Now: start.Add(61 * 24 * time.Hour)}, due: true},
		{name: "days 45 on day 50", policy: RenewalPolicy{Now: start.Add(50 * 24 * time.Hour), Days: 45}, due: true},
		{name: "days 10 on day 61", policy: RenewalPolicy{Now: start.Add(61 * 24 * time.Hour), Days: 10}, due: false},
		{name: "force on day 1", policy: RenewalPolicy{Now: start.Add(24 * time.Hour), Force: true}, due: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := DecideRenewal(t.Context(), client, meta, leaf, tt.policy, nil)
			if d.Due != tt.due {
				t.Errorf("due = %v (%s), want %v", d.Due, d.Reason, tt.due)
			}
			if d.Replaces != "" {
				t.Errorf("replaces = %q from a CA without renewal information", d.Replaces)
			}
		})
	}
}

func TestMakeCSRLongFirstName(t *testing.T) {
	key, err := storage.GenerateKey(storage.KeyTypeEC256)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("a", 60) + ".example.test"
	der, err := makeCSR(key, []string{long, "b.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	if csr.Subject.CommonName != "" {
		t.Errorf("common name %q set although it exceeds 64 characters", csr.Subject.CommonName)
	}
	if len(csr.DNSNames) != 2 {
		t.Errorf("CSR names = %v", csr.DNSNames)
	}
}

// A CA that never responds fails the attempt after AttemptTimeout.
func TestRetryTransportAttemptTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	defer srv.Close()
	defer close(release)
	client := &http.Client{Transport: &RetryTransport{AttemptTimeout: 200 * time.Millisecond}}
	start := time.Now()
	_, err := client.Get(srv.URL)
	if err == nil {
		t.Fatal("request to a silent server succeeded")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("gave up after %s, want about 200ms", took)
	}
}

// The wait for Retry-After does not count against AttemptTimeout, and the
// limit stays in force while the body is read.
func TestRetryTransportWaitOutsideAttemptTimeout(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("done"))
	}))
	defer srv.Close()
	client := &http.Client{Transport: &RetryTransport{AttemptTimeout: 500 * time.Millisecond}}
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatalf("request failed although each attempt was quick: %v", err)
	}
	defer resp.Body.Close()
	body := make([]byte, 4)
	if _, err := io.ReadFull(resp.Body, body); err != nil || string(body) != "done" {
		t.Errorf("body = %q, %v", body, err)
	}
}

func TestChooseInstantKeepsClientChoice(t *testing.T) {
	var ari acme.RenewalInfo
	ari.SuggestedWindow.Start = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	ari.SuggestedWindow.End = ari.SuggestedWindow.Start.Add(48 * time.Hour)
	ari.SelectedTime = ari.SuggestedWindow.Start.Add(7 * time.Hour)
	if got := chooseInstant(nil, ari).SelectedTime; !got.Equal(ari.SelectedTime) {
		t.Errorf("selected %s, want the acme client's %s", got, ari.SelectedTime)
	}
	ari.SelectedTime = ari.SuggestedWindow.End.Add(time.Hour)
	if got := chooseInstant(nil, ari).SelectedTime; !got.Before(ari.SuggestedWindow.End) {
		t.Errorf("selected %s outside the window although the client's choice was outside it", got)
	}
}
