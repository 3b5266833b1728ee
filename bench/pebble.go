package main

import (
	"net/http"
	"strconv"
	"sync"
)

// retryAfterSeconds is the Retry-After Pebble is configured with for
// authorizations and orders: testbed.PebbleOptions' zero value.
const retryAfterSeconds = 1

// pebbleObserver wraps Pebble's HTTP handler. It counts the client
// connections that sent requests, and it rewrites every Retry-After that
// Pebble sends as an HTTP date into delta-seconds.
type pebbleObserver struct {
	mu      sync.Mutex
	clients map[string]struct{} // remote "ip:port", one per connection
}

func newPebbleObserver() *pebbleObserver {
	return &pebbleObserver{clients: make(map[string]struct{})}
}

// Reset clears the set of counted connections.
func (o *pebbleObserver) Reset() {
	o.mu.Lock()
	defer o.mu.Unlock()
	clear(o.clients)
}

// Connections returns the number of connections that sent a request since
// the last Reset. Every connection to Pebble is a new TLS handshake.
func (o *pebbleObserver) Connections() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.clients)
}

// Middleware is the testbed.PebbleOptions.Middleware of the observer.
func (o *pebbleObserver) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.clients[r.RemoteAddr] = struct{}{}
		o.mu.Unlock()
		next.ServeHTTP(&retryAfterWriter{ResponseWriter: w}, r)
	})
}

// retryAfterWriter sends Retry-After as delta-seconds. Pebble 2.10 picks
// delta-seconds or an HTTP date at random for each response, and the date
// has one-second resolution. A client's wait would then be a random 0 to
// 1 s rather than the configured 1 s, which would swamp the differences
// this benchmark measures. Values already in delta-seconds, such as
// rate-limit waits, pass unchanged.
type retryAfterWriter struct {
	http.ResponseWriter
	fixed bool
}

func (w *retryAfterWriter) WriteHeader(code int) {
	w.fix()
	w.ResponseWriter.WriteHeader(code)
}

func (w *retryAfterWriter) Write(p []byte) (int, error) {
	w.fix()
	return w.ResponseWriter.Write(p)
}

func (w *retryAfterWriter) fix() {
	if w.fixed {
		return
	}
	w.fixed = true
	h := w.Header()
	if v := h.Get("Retry-After"); v != "" {
		if _, err := http.ParseTime(v); err == nil {
			h.Set("Retry-After", strconv.Itoa(retryAfterSeconds))
		}
	}
}
