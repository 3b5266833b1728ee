package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/dnscert/dnscert/issuer"
	"github.com/dnscert/dnscert/storage"
)

// issueResult is the --json output of issue: one object on stdout, on
// success and on failure alike.
type issueResult struct {
	OK            bool                   `json:"ok"`
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
	Steps         []issuer.StepTime      `json:"steps"`
	TotalSeconds  float64                `json:"total_seconds"`
	DNSQueries    int64                  `json:"dns_queries"`
	ProviderCalls int                    `json:"provider_calls"`
	Error         string                 `json:"error,omitempty"`
	ExitCode      int                    `json:"exit_code"`
}

func (r *issueRun) baseResult() issueResult {
	return issueResult{
		Certificate:  r.opts.certName,
		Names:        r.opts.names,
		Steps:        r.timings.Steps(),
		TotalSeconds: r.timings.Total().Seconds(),
	}
}

// fail reports a failed run: the JSON object when --json is set (the error
// still goes to stderr through Run), and the step times in the log.
func (r *issueRun) fail(err error) error {
	if r.opts.json {
		res := r.baseResult()
		res.Error = err.Error()
		res.ExitCode = ExitCode(err)
		writeJSON(r.streams.Stdout, res)
	}
	r.logger.Error("issuance failed", "error", err, "steps", formatSteps(r.timings.Steps()))
	return err
}

func (r *issueRun) succeed(meta storage.Metadata, res *issuer.Result, queries int64, calls int) error {
	paths := r.store.CertificatePaths(r.opts.certName)
	out := r.baseResult()
	out.OK = true
	out.Files = &paths
	out.NotBefore, out.NotAfter = &meta.NotBefore, &meta.NotAfter
	out.Serial = meta.Serial
	out.Issuer = meta.IssuerCN
	out.Profile = meta.Profile
	out.RenewalWindow = meta.RenewalWindow
	out.CertURL = res.CertURL
	out.DNSQueries = queries
	out.ProviderCalls = calls
	if r.opts.json {
		writeJSON(r.streams.Stdout, out)
		return nil
	}
	w := r.streams.Stdout
	fmt.Fprintf(w, "Certificate %s issued for %s\n", r.opts.certName, strings.Join(r.opts.names, ", "))
	fmt.Fprintf(w, "  valid until %s (issuer %s, serial %s)\n", meta.NotAfter.UTC().Format(time.RFC3339), meta.IssuerCN, meta.Serial)
	if w := meta.RenewalWindow; w != nil {
		fmt.Fprintf(r.streams.Stdout, "  renew between %s and %s\n", w.Start.UTC().Format(time.RFC3339), w.End.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(w, "  certificate:  %s\n  chain:        %s\n  full chain:   %s\n  private key:  %s\n",
		paths.Cert, paths.Chain, paths.FullChain, paths.PrivateKey)
	fmt.Fprintf(w, "  took %s: %s\n", r.timings.Total().Round(time.Millisecond), formatSteps(out.Steps))
	return nil
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
