package cli

import (
	"log/slog"
	"net/http"
	"testing"
	"time"
)

// A CA that accepts connections but never responds must fail a request
// within a minute, not hold the run.
func TestACMEClientTimeouts(t *testing.T) {
	client, retry := newACMEClient("https://127.0.0.1:1/dir", nil, slog.New(slog.DiscardHandler))
	if got := retry.AttemptTimeout; got != 60*time.Second {
		t.Errorf("AttemptTimeout = %s, want 60s", got)
	}
	if got := client.HTTPClient.Timeout; got != 0 {
		t.Errorf("http.Client timeout = %s, want none: it would cut short the waits for Retry-After", got)
	}
	transport, ok := retry.Base.(*http.Transport)
	if !ok {
		t.Fatalf("retry transport wraps %T, want *http.Transport", retry.Base)
	}
	if got := transport.ResponseHeaderTimeout; got != 30*time.Second {
		t.Errorf("ResponseHeaderTimeout = %s, want 30s", got)
	}
	if got := transport.TLSHandshakeTimeout; got != 10*time.Second {
		t.Errorf("TLSHandshakeTimeout = %s, want 10s", got)
	}
	if got := transport.MaxIdleConnsPerHost; got != 100 {
		t.Errorf("MaxIdleConnsPerHost = %d, want 100", got)
	}
}

func TestIsLoopbackHost(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{
		{"localhost", true},
		{"LOCALHOST", true},
		{"127.0.0.1", true},
		{"127.1.2.3", true},
		{"::1", true},
		{"::ffff:127.0.0.1", true},
		{"127.evil.example", false},
		{"127.0.0.1.evil.example", false},
		{"128.0.0.1", false},
		{"example.com", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := isLoopbackHost(tt.host); got != tt.want {
			t.Errorf("isLoopbackHost(%q) = %t, want %t", tt.host, got, tt.want)
		}
	}
}

func TestParseTimeout(t *testing.T) {
	valid := []struct {
		in   string
		want time.Duration
	}{
		{"600", 600 * time.Second},
		{" 90 ", 90 * time.Second},
		{"10m", 10 * time.Minute},
		{"1m30s", 90 * time.Second},
		{"0", 0},
	}
	for _, tt := range valid {
		got, err := parseTimeout(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("parseTimeout(%q) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"abc", "", "10 minutes", "99999999999999999", "-5"} {
		if got, err := parseTimeout(in); err == nil && got > 0 {
			t.Errorf("parseTimeout(%q) = %s, want an error or a value that is not positive", in, got)
		}
	}
}
