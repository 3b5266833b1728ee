package cli

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/dnscert/dnscert/storage"
)

func listCommand(streams Streams) *cli.Command {
	return &cli.Command{
		Name:      "list",
		Usage:     "list the stored certificates with expiry, renewal window, CA and files",
		UsageText: "dnscert list [--json]",
		Description: "Reads the storage directory only and sends no request. A certificate directory that\n" +
			"cannot be read is reported on stderr with its path, after the others are listed, and\n" +
			"the exit code is then 1.",
		Flags: withCommonFlags([]cli.Flag{
			&cli.BoolFlag{
				Name:    flagJSON,
				Usage:   `print one JSON object on stdout, {"certificates": [...], "errors": [...]}`,
				EnvVars: envName(flagJSON),
			},
		}),
		Action: func(cctx *cli.Context) error {
			return runList(cctx, streams)
		},
	}
}

// listedCertificate is one stored certificate as list prints it.
type listedCertificate struct {
	Name    string   `json:"name"`
	Names   []string `json:"names"`
	Expired bool     `json:"expired"`
	Revoked bool     `json:"revoked"`
	// RevocationReason is the RFC 5280 reason name, set only when Revoked.
	RevocationReason string    `json:"revocation_reason,omitempty"`
	Replaced         bool      `json:"replaced,omitempty"`
	NotBefore        time.Time `json:"not_before"`
	NotAfter         time.Time `json:"not_after"`
	// DaysLeft is the number of whole days until NotAfter, rounded toward
	// zero, so it is negative only from one day after expiry.
	DaysLeft int    `json:"days_left"`
	Serial   string `json:"serial"`
	Issuer   string `json:"issuer"`
	KeyType  string `json:"key_type,omitempty"`
	// CA is the --server shortcut of DirectoryURL, or DirectoryURL itself.
	CA            string                 `json:"ca"`
	DirectoryURL  string                 `json:"directory_url,omitempty"`
	AccountEmail  string                 `json:"account_email,omitempty"`
	Profile       string                 `json:"profile,omitempty"`
	RenewalWindow *storage.RenewalWindow `json:"renewal_window,omitempty"`
	Files         storage.Paths          `json:"files"`
}

// listError is a certificate directory that could not be read.
type listError struct {
	Path  string `json:"path"`
	Error string `json:"error"`
}

// listOutput is the --json output of list.
type listOutput struct {
	Certificates []listedCertificate `json:"certificates"`
	Errors       []listError         `json:"errors"`
}

func runList(cctx *cli.Context, streams Streams) error {
	if err := checkNoArguments(cctx, ""); err != nil {
		return err
	}
	logger, err := newLogger(cctx, streams.Stderr)
	if err != nil {
		return err
	}
	store, err := openStoreReadOnly(commonString(cctx, flagPath), logger)
	if err != nil {
		return err
	}
	metas, damaged, err := store.ScanCertificates()
	if err != nil {
		return err
	}

	now := time.Now()
	out := listOutput{Certificates: []listedCertificate{}, Errors: []listError{}}
	for _, meta := range metas {
		out.Certificates = append(out.Certificates, newListedCertificate(store, meta, now))
	}
	for _, d := range damaged {
		out.Errors = append(out.Errors, listError{Path: d.Dir, Error: d.Err.Error()})
	}

	switch {
	case cctx.Bool(flagJSON):
		writeJSON(streams.Stdout, out)
	case len(metas) == 0 && len(damaged) == 0:
		fmt.Fprintf(streams.Stdout, "No certificates stored in %s.\n", store.Root())
	case len(metas) == 0:
		fmt.Fprintf(streams.Stdout, "No readable certificates in %s.\n", store.Root())
	default:
		writeCertificateTable(streams.Stdout, out.Certificates)
	}

	for _, d := range damaged {
		fmt.Fprintf(streams.Stderr, "dnscert: cannot read certificate directory %s: %v\n", d.Dir, d.Err)
	}
	if len(damaged) > 0 {
		return fmt.Errorf("%d certificate directories cannot be read: %w", len(damaged), errReported)
	}
	return nil
}

func newListedCertificate(store *storage.Store, meta storage.Metadata, now time.Time) listedCertificate {
	c := listedCertificate{
		Name:          meta.Name,
		Names:         meta.Names,
		Expired:       !now.Before(meta.NotAfter),
		Revoked:       meta.Revoked,
		Replaced:      meta.Replaced,
		NotBefore:     meta.NotBefore,
		NotAfter:      meta.NotAfter,
		DaysLeft:      int(meta.NotAfter.Sub(now).Hours() / 24),
		Serial:        meta.Serial,
		Issuer:        meta.IssuerCN,
		KeyType:       meta.KeyType,
		CA:            caDisplayName(meta.DirectoryURL),
		DirectoryURL:  meta.DirectoryURL,
		AccountEmail:  meta.AccountEmail,
		Profile:       meta.Profile,
		RenewalWindow: meta.RenewalWindow,
		Files:         storedPaths(store, meta),
	}
	if meta.Revoked {
		c.RevocationReason = revocationReasonName(meta.RevocationReason)
	}
	return c
}

// storedPaths returns the paths of the files a certificate has, with the
// private key and combined.pem left empty when they are not written.
func storedPaths(store *storage.Store, meta storage.Metadata) storage.Paths {
	paths := store.CertificatePaths(meta.Name)
	if meta.ExternalKey {
		paths.PrivateKey = ""
	}
	if !meta.Combined {
		paths.Combined = ""
	}
	return paths
}

// caDisplayName returns the --server shortcut whose URL is directoryURL,
// or directoryURL itself.
func caDisplayName(directoryURL string) string {
	if directoryURL == "" {
		return "unknown"
	}
	names := make([]string, 0, len(caShortcuts))
	for name, d := range caShortcuts {
		if d.url == directoryURL {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return directoryURL
	}
	sort.Strings(names)
	return names[0]
}

// marks returns the state words of a certificate: valid, or any of
// revoked, replaced and expired.
func (c listedCertificate) marks() string {
	var marks []string
	if c.Revoked {
		marks = append(marks, "revoked")
	}
	if c.Replaced {
		marks = append(marks, "replaced")
	}
	if c.Expired {
		marks = append(marks, "expired")
	}
	if len(marks) == 0 {
		return "valid"
	}
	return strings.Join(marks, ",")
}

// writeCertificateTable prints two aligned tables without colours, for
// terminals and CI logs alike: one row of state per certificate, then the
// directory and file names of each.
func writeCertificateTable(w io.Writer, certs []listedCertificate) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATUS\tEXPIRES\tDAYS LEFT\tRENEW AT\tARI WINDOW\tCA\tPROFILE\tNAMES")
	for _, c := range certs {
		renewAt, window := "-", "-"
		if rw := c.RenewalWindow; rw != nil {
			window = rw.Start.UTC().Format(time.DateOnly) + ".." + rw.End.UTC().Format(time.DateOnly)
			if !rw.SelectedTime.IsZero() {
				renewAt = rw.SelectedTime.UTC().Format("2006-01-02 15:04Z")
			}
		}
		// renew replaces a revoked certificate at its next run, whatever
		// the CA's renewal window.
		if c.Revoked && !c.Replaced {
			renewAt = "now (revoked)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			c.Name, c.marks(), c.NotAfter.UTC().Format(time.DateOnly), strconv.Itoa(c.DaysLeft),
			renewAt, window, c.CA, orDash(c.Profile), strings.Join(c.Names, ","))
	}
	_ = tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tDIRECTORY\tFILES")
	for _, c := range certs {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name, c.Files.Dir, strings.Join(fileNames(c.Files), " "))
	}
	_ = tw.Flush()
}

// fileNames returns the base names of the files in paths that exist for
// the certificate, in the order a server configuration names them.
func fileNames(p storage.Paths) []string {
	var names []string
	for _, path := range []string{p.Cert, p.Chain, p.FullChain, p.PrivateKey, p.Combined} {
		if path != "" {
			names = append(names, filepath.Base(path))
		}
	}
	return names
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
