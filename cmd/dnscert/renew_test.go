package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/dnscert/dnscert/internal/testbed"
)

// Two renew processes at once on one store: the second waits for the
// first's lock, then finds the new certificate not due, so the CA sees one
// order and the store stays whole.
func TestConcurrentRenewOrdersOnce(t *testing.T) {
	f := startBed(t)
	dir := t.TempDir()
	runDnscert(t, f, 0, f.issueArgs(dir)...)

	leafPEM, err := os.ReadFile(filepath.Join(dir, "certificates", orderNames[0], "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.bed.Pebble.SetRenewalInfo(leafPEM, time.Now().Add(-time.Hour), time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	orders := f.bed.Pebble.RequestsTo(testbed.NewOrderPath)
	args := []string{"--path", dir, "--log-format", "json", "renew", "--json",
		"--ca-cert", f.bed.Pebble.TLSCertFile, "--resolver", f.bed.DNS.ResolverAddr(),
		"--dns-port", strconv.Itoa(f.bed.DNS.Port)}
	first := startDnscert(t, f, args...)
	second := startDnscert(t, f, args...)
	renewed := 0
	for _, p := range []*process{first, second} {
		status := p.wait(issueLimit)
		if status.ExitCode() != 0 {
			t.Fatalf("renew: %s\nstderr:\n%s", describeStatus(status), p.log)
		}
		var summary struct {
			Renewed int `json:"renewed"`
		}
		if err := json.Unmarshal([]byte(p.stdout.String()), &summary); err != nil {
			t.Fatalf("renew output is not JSON: %v\n%s", err, p.stdout.String())
		}
		renewed += summary.Renewed
	}
	if renewed != 1 {
		t.Errorf("%d renewals in two concurrent runs, want 1", renewed)
	}
	if n := f.bed.Pebble.RequestsTo(testbed.NewOrderPath) - orders; n != 1 {
		t.Errorf("%d orders created, want 1", n)
	}
	if _, err := os.Stat(filepath.Join(dir, "certificates", orderNames[0], "privkey.pem")); err != nil {
		t.Errorf("store damaged: %v", err)
	}
}
