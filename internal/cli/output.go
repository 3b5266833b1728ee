package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/dnscert/dnscert/issuer"
	"github.com/dnscert/dnscert/storage"
)

// certResult is the outcome for one certificate, as printed by --json.
type certResult struct {
	OK bool `json:"ok"`
	// Status is issued, renewed, not_due, issued_by_other_run, failed or
	// interrupted. A certificate that was stored keeps issued or renewed
	// when a later step fails, such as the deploy hook: OK stays true and
	// Error and ExitCode report that step.
	Status        string                 `json:"status"`
	Reason        string                 `json:"reason,omitempty"`
	Certificate   string                 `json:"certificate"`
	Names         []string               `json:"names"`
	Files         *storage.Paths         `json:"files,omitempty"`
	NotBefore     *time.Time             `json:"not_before,omitempty"`
	NotAfter      *time.Time             `json:"not_after,omitempty"`
	Serial        string                 `json:"serial,omitempty"`
	Issuer        string                 `json:"issuer,omitempty"`
	Profile       string                 `json:"profile,omitempty"`
	RenewalWindow *storage.RenewalWindow `json:"renewal_window,omitempty"`
	CertURL       string                 `json:"certificate_url,omitempty"`
	Replaces      string                 `json:"replaces,omitempty"`
	Steps         []issuer.StepTime      `json:"steps"`
	TotalSeconds  float64                `json:"total_seconds"`
	DNSQueries    int64                  `json:"dns_queries"`
	ProviderCalls int                    `json:"provider_calls"`
	Error         string                 `json:"error,omitempty"`
	ExitCode      int                    `json:"exit_code"`

	timings *issuer.Timings
}

func newCertResult(req certRequest, timings *issuer.Timings, stats obtainStats) *certResult {
	return &certResult{
		Status:        "issued",
		Certificate:   req.certName,
		Names:         req.names,
		Replaces:      req.replaces,
		DNSQueries:    stats.dnsQueries,
		ProviderCalls: stats.providerCalls,
		timings:       timings,
	}
}

func (r *certResult) finish() {
	if r.timings != nil {
		r.Steps = r.timings.Steps()
		r.TotalSeconds = r.timings.Total().Seconds()
	}
	if r.Steps == nil {
		r.Steps = []issuer.StepTime{}
	}
	if r.Names == nil {
		r.Names = []string{}
	}
}

// fail records an error after which no certificate was stored.
func (r *certResult) fail(err error) {
	r.OK = false
	r.Status = "failed"
	r.setError(err)
	if r.ExitCode == ExitInterrupted {
		r.Status = "interrupted"
	}
	r.finish()
}

// setError records err in the result; OK and Status stay as they are.
func (r *certResult) setError(err error) {
	r.Error = err.Error()
	r.ExitCode = ExitCode(err)
	var interrupted *interruptedError
	if r.ExitCode == ExitInterrupted && !errors.As(err, &interrupted) {
		r.Error = (&interruptedError{err: err}).Error()
	}
}

// failedResult is the result of an order that failed before it started,
// such as on invalid input.
func failedResult(req certRequest, err error) *certResult {
	r := newCertResult(req, nil, obtainStats{})
	r.fail(err)
	return r
}

func (r *certResult) succeed(store *storage.Store, meta storage.Metadata, res *issuer.Result) {
	paths := store.CertificatePaths(meta.Name)
	if !meta.Combined {
		paths.Combined = ""
	}
	if meta.ExternalKey {
		paths.PrivateKey = ""
	}
	r.OK = true
	r.Files = &paths
	r.NotBefore, r.NotAfter = &meta.NotBefore, &meta.NotAfter
	r.Serial = meta.Serial
	r.Issuer = meta.IssuerCN
	r.Profile = meta.Profile
	r.RenewalWindow = meta.RenewalWindow
	r.Names = meta.Names
	if res != nil {
		r.CertURL = res.CertURL
	}
	r.finish()
}

// printResult writes one certificate's result: JSON on stdout with --json,
// otherwise a short summary for people. It returns err, marked as reported
// when the JSON already carries it.
func printResult(streams Streams, asJSON bool, r *certResult, err error) error {
	if asJSON {
		writeJSON(streams.Stdout, r)
		return err
	}
	if r.OK {
		writeSummary(streams.Stdout, r)
	}
	return err
}

func writeSummary(w io.Writer, r *certResult) {
	if r.Status == "issued_by_other_run" {
		fmt.Fprintf(w, "Certificate %s for %s was issued by the run this one waited for; no new order was sent\n", r.Certificate, strings.Join(r.Names, ", "))
	} else {
		fmt.Fprintf(w, "Certificate %s %s for %s\n", r.Certificate, r.Status, strings.Join(r.Names, ", "))
	}
	if r.NotAfter != nil {
		fmt.Fprintf(w, "  valid until %s (issuer %s, serial %s)\n", r.NotAfter.UTC().Format(time.RFC3339), r.Issuer, r.Serial)
	}
	if rw := r.RenewalWindow; rw != nil {
		fmt.Fprintf(w, "  CA renewal window %s to %s\n", rw.Start.UTC().Format(time.RFC3339), rw.End.UTC().Format(time.RFC3339))
	}
	if f := r.Files; f != nil {
		fmt.Fprintf(w, "  certificate:  %s\n  chain:        %s\n  full chain:   %s\n", f.Cert, f.Chain, f.FullChain)
		if f.PrivateKey != "" {
			fmt.Fprintf(w, "  private key:  %s\n", f.PrivateKey)
		}
		if f.Combined != "" {
			fmt.Fprintf(w, "  combined:     %s\n", f.Combined)
		}
	}
	if len(r.Steps) > 0 {
		fmt.Fprintf(w, "  took %s: %s\n", (time.Duration(r.TotalSeconds * float64(time.Second))).Round(time.Millisecond), formatSteps(r.Steps))
	}
}

func formatSteps(steps []issuer.StepTime) string {
	parts := make([]string, 0, len(steps))
	for _, s := range steps {
		parts = append(parts, fmt.Sprintf("%s %s", s.Step, s.Duration.Round(time.Millisecond)))
	}
	return strings.Join(parts, ", ")
}

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
