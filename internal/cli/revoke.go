package cli

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/dnscert/dnscert/issuer"
	"github.com/dnscert/dnscert/storage"
)

const (
	flagCertFile    = "cert-file"
	flagKeyFile     = "key-file"
	flagWithCertKey = "with-cert-key"
	flagReason      = "reason"
)

// revocationReason is an RFC 5280 section 5.3.1 CRLReason code.
type revocationReason struct {
	name string
	code int
}

// revocationReasons are the codes a subscriber may request. Let's Encrypt
// lists only these (letsencrypt.org/docs/revoking) and rejects requests
// with any other: cACompromise 2, certificateHold 6, removeFromCRL 8,
// privilegeWithdrawn 9 and aACompromise 10.
var revocationReasons = []revocationReason{
	{"unspecified", 0},
	{"keyCompromise", 1},
	{"affiliationChanged", 3},
	{"superseded", 4},
	{"cessationOfOperation", 5},
}

// parseRevocationReason accepts a reason name, in any letter case, or its
// number.
func parseRevocationReason(value string) (revocationReason, error) {
	value = strings.TrimSpace(value)
	for _, r := range revocationReasons {
		if strings.EqualFold(value, r.name) || value == strconv.Itoa(r.code) {
			return r, nil
		}
	}
	var valid []string
	for _, r := range revocationReasons {
		valid = append(valid, fmt.Sprintf("%s (%d)", r.name, r.code))
	}
	return revocationReason{}, fmt.Errorf("invalid --reason %q: use one of %s", value, strings.Join(valid, ", "))
}

// revocationReasonName returns the RFC 5280 name of a reason code, or the
// number for a code outside revocationReasons.
func revocationReasonName(code int) string {
	for _, r := range revocationReasons {
		if r.code == code {
			return r.name
		}
	}
	return strconv.Itoa(code)
}

func revokeCommand(streams Streams) *cli.Command {
	// The flags that pick the certificate and the key have no environment
	// variables, so a variable left over for issue or renew never chooses
	// what gets revoked.
	flags := []cli.Flag{
		&cli.StringFlag{
			Name:  flagCertName,
			Usage: "stored certificate to revoke (see dnscert list)",
		},
		&cli.StringFlag{
			Name:  flagCertFile,
			Usage: "PEM certificate file to revoke; the first certificate in the file is revoked, so a full chain works",
		},
		&cli.StringFlag{
			Name:  flagReason,
			Usage: "RFC 5280 reason, as name or number: unspecified (0), keyCompromise (1), affiliationChanged (3), superseded (4), cessationOfOperation (5)",
			Value: "unspecified",
		},
		&cli.StringFlag{
			Name:  flagKeyFile,
			Usage: "sign the request with this PEM private key of the certificate instead of the account key",
		},
		&cli.BoolFlag{
			Name:  flagWithCertKey,
			Usage: "sign the request with the stored certificate's own private key (privkey.pem) instead of the account key",
		},
		&cli.BoolFlag{
			Name:    flagJSON,
			Usage:   "print the result as one JSON object on stdout",
			EnvVars: envName(flagJSON),
		},
		&cli.BoolFlag{
			Name:    flagWait,
			Usage:   "wait for another run on the same certificate to finish instead of stopping",
			EnvVars: envName(flagWait),
		},
	}
	flags = append(flags, caFlags()...)
	return &cli.Command{
		Name:      "revoke",
		Usage:     "revoke a certificate at the CA that issued it",
		UsageText: "dnscert revoke --cert-name example.com --reason keyCompromise",
		Description: "Sends a revocation request (RFC 8555 section 7.6) signed by the account key or by the\n" +
			"certificate's own key. The account is the one of --server and --email; for a stored\n" +
			"certificate, the CA and e-mail in its metadata unless --server is given. The stored copy\n" +
			"is marked revoked, and the next renew run replaces it. When the CA answers that the\n" +
			"certificate was already revoked, revoke marks the stored copy and exits 0.\n" +
			"Let's Encrypt records every revocation signed by the certificate key as keyCompromise,\n" +
			"whatever --reason says, and blocks the key for new certificates.",
		Flags: withCommonFlags(flags),
		Action: func(cctx *cli.Context) error {
			return runRevoke(cctx, streams)
		},
	}
}

// revokeOptions is a validated revoke command line.
type revokeOptions struct {
	ca          *caOptions
	certName    string
	certFile    string
	reason      revocationReason
	keyFile     string
	withCertKey bool
	json        bool
	wait        bool
	// leaf and certKey are read from --cert-file and --key-file.
	leaf    *x509.Certificate
	certKey crypto.Signer
}

// parseRevokeOptions checks every flag and reads the files they name,
// without any network request, and reports every problem at once.
func parseRevokeOptions(cctx *cli.Context) (*revokeOptions, error) {
	ca, errs := parseCAOptions(cctx)
	o := &revokeOptions{
		ca:          ca,
		certName:    cctx.String(flagCertName),
		certFile:    cctx.String(flagCertFile),
		keyFile:     cctx.String(flagKeyFile),
		withCertKey: cctx.Bool(flagWithCertKey),
		json:        cctx.Bool(flagJSON),
		wait:        cctx.Bool(flagWait),
	}
	var err error
	if o.reason, err = parseRevocationReason(cctx.String(flagReason)); err != nil {
		errs = append(errs, err)
	}

	switch {
	case o.certName == "" && o.certFile == "":
		errs = append(errs, errors.New("no certificate given; add --cert-name NAME for a stored certificate (see dnscert list) or --cert-file FILE"))
	case o.certName != "" && o.certFile != "":
		errs = append(errs, errors.New("both --cert-name and --cert-file given; give one of them"))
	case o.certName != "":
		if err := storage.ValidateName(o.certName); err != nil {
			errs = append(errs, fmt.Errorf("invalid --cert-name: %w", err))
		}
	}

	if o.withCertKey && o.keyFile != "" {
		errs = append(errs, errors.New("both --with-cert-key and --key-file given; give one of them"))
	}
	if o.withCertKey && o.certName == "" {
		errs = append(errs, errors.New("--with-cert-key uses the key of a stored certificate; add --cert-name, or give the key with --key-file"))
	}

	if o.certFile != "" {
		if o.leaf, err = readLeafFile(o.certFile); err != nil {
			errs = append(errs, err)
		}
	}
	if o.keyFile != "" {
		if o.certKey, err = readKeyFile(o.keyFile); err != nil {
			errs = append(errs, err)
		}
	}
	if o.leaf != nil && o.certKey != nil && !publicKeysEqual(o.leaf.PublicKey, o.certKey.Public()) {
		errs = append(errs, fmt.Errorf("--key-file %s is not the key of the certificate in %s; give the certificate's private key, or leave --key-file out to sign with the account key", o.keyFile, o.certFile))
	}

	if len(errs) > 0 {
		return nil, joinUsageErrors(errs)
	}
	return o, nil
}

// readLeafFile returns the first certificate of a PEM file.
func readLeafFile(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("invalid --cert-file: %w", err)
	}
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("invalid --cert-file %s: %w", path, err)
		}
		return cert, nil
	}
	return nil, fmt.Errorf("invalid --cert-file %s: no PEM CERTIFICATE block found; give a PEM file such as cert.pem or fullchain.pem", path)
}

// readKeyFile reads a PEM private key. Its content never appears in an
// error message.
func readKeyFile(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("invalid --key-file: %w", err)
	}
	key, err := storage.DecodeKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("invalid --key-file %s: %w", path, err)
	}
	return key, nil
}

// revokeResult is the outcome of revoke, as printed by --json.
type revokeResult struct {
	OK bool `json:"ok"`
	// Status is revoked, already_revoked or failed.
	Status string `json:"status"`
	// Certificate is the stored certificate's name, empty for a file that
	// matches no stored certificate.
	Certificate string   `json:"certificate,omitempty"`
	CertFile    string   `json:"cert_file,omitempty"`
	Serial      string   `json:"serial,omitempty"`
	Names       []string `json:"names,omitempty"`
	Reason      string   `json:"reason"`
	ReasonCode  int      `json:"reason_code"`
	// SignedWith is "account" or "certificate key".
	SignedWith   string `json:"signed_with,omitempty"`
	Account      string `json:"account,omitempty"`
	DirectoryURL string `json:"directory_url,omitempty"`
	// StoredCopyMarked is true when the stored certificate's metadata now
	// records the revocation.
	StoredCopyMarked bool   `json:"stored_copy_marked"`
	Error            string `json:"error,omitempty"`
	ExitCode         int    `json:"exit_code"`
}

// revokeTarget is the certificate to revoke and, when it is stored, its
// stored copy.
type revokeTarget struct {
	leaf *x509.Certificate
	// stored is the stored copy; its Meta.Name is empty when there is none.
	stored storage.Certificate
	unlock func() error
}

func (t revokeTarget) label(o *revokeOptions) string {
	if t.stored.Meta.Name != "" {
		return t.stored.Meta.Name
	}
	return "in " + o.certFile
}

func runRevoke(cctx *cli.Context, streams Streams) error {
	ctx := cctx.Context
	// failEarly reports an error found before the options are known.
	failEarly := func(err error) error {
		return finishRevoke(streams, &revokeOptions{json: wantsJSON(cctx)}, &revokeResult{}, err)
	}
	if err := checkNoArguments(cctx, "dnscert revoke takes no arguments; name the certificate with --cert-name NAME or --cert-file FILE"); err != nil {
		return failEarly(err)
	}
	logger, err := newLogger(cctx, streams.Stderr)
	if err != nil {
		return failEarly(err)
	}
	o, err := parseRevokeOptions(cctx)
	if err != nil {
		return failEarly(err)
	}
	res := &revokeResult{Status: "failed", CertFile: o.certFile, Reason: o.reason.name, ReasonCode: o.reason.code}
	store, err := openStore(commonString(cctx, flagPath), logger)
	if err != nil {
		return finishRevoke(streams, o, res, err)
	}

	target, err := findRevokeTarget(ctx, store, o, logger)
	if err != nil {
		return finishRevoke(streams, o, res, err)
	}
	defer target.unlock()
	res.Certificate = target.stored.Meta.Name
	res.Serial = target.leaf.SerialNumber.Text(16)
	res.Names = target.leaf.DNSNames

	certKey, account, directory, err := revokeSigner(store, o, target)
	if err != nil {
		return finishRevoke(streams, o, res, err)
	}
	res.DirectoryURL = directory
	if certKey != nil {
		res.SignedWith = "certificate key"
		// Boulder, the CA software of Let's Encrypt, cannot tell who sent a
		// request signed by the certificate key, so it treats the request
		// as proof that the key is compromised.
		if isLetsEncrypt(directory) && o.reason.name != "keyCompromise" {
			logger.Warn("Let's Encrypt records a revocation signed by the certificate key as keyCompromise, whatever --reason says",
				slog.String("reason", o.reason.name))
		}
	} else {
		res.SignedWith = "account"
		res.Account = account.URL
	}

	client, retry := newACMEClient(directory, o.ca.roots, logger)
	logger.Info("revoking certificate", slog.String("certificate", target.label(o)),
		slog.String("serial", res.Serial), slog.String("reason", o.reason.name),
		slog.String("signed_with", res.SignedWith), slog.String("server", directory))
	err = issuer.Revoke(ctx, client, account, target.leaf, certKey, o.reason.code)
	already := errors.Is(err, issuer.ErrAlreadyRevoked)
	if err != nil && !already {
		return finishRevoke(streams, o, res, withRetryAfter(err, retry))
	}

	res.OK = true
	res.Status = "revoked"
	if already {
		res.Status = "already_revoked"
	}
	var markErr error
	if name := target.stored.Meta.Name; name != "" {
		markErr = store.UpdateMetadata(name, func(m *storage.Metadata) {
			// The alreadyRevoked problem does not carry the reason of
			// the earlier revocation, so the stored reason then stays.
			if !already {
				m.RevocationReason = o.reason.code
			}
			m.Revoked = true
		})
		res.StoredCopyMarked = markErr == nil
		if markErr != nil {
			// The revocation remains in force, so ok stays true, but a script must
			// learn that renew does not know about it.
			markErr = fmt.Errorf("certificate %s is revoked, but marking the stored copy failed: %w; replace it with: dnscert renew --cert-name %s --force", name, markErr, name)
			res.Error = markErr.Error()
			res.ExitCode = ExitCode(markErr)
		}
	}

	if o.json {
		writeJSON(streams.Stdout, res)
		return markErr
	}
	if already {
		fmt.Fprintf(streams.Stdout, "certificate %s was already revoked\n", target.label(o))
		return markErr
	}
	fmt.Fprintf(streams.Stdout, "certificate %s (serial %s) revoked, reason %s\n", target.label(o), res.Serial, o.reason.name)
	if res.StoredCopyMarked {
		fmt.Fprintf(streams.Stdout, "  the stored copy is marked revoked; the next dnscert renew replaces it\n")
	}
	return markErr
}

// finishRevoke prints a failed result with --json and returns err.
func finishRevoke(streams Streams, o *revokeOptions, res *revokeResult, err error) error {
	res.OK = false
	res.Status = "failed"
	res.Error = err.Error()
	res.ExitCode = ExitCode(err)
	if o.json {
		writeJSON(streams.Stdout, res)
	}
	return err
}

// findRevokeTarget loads the certificate to revoke. A stored certificate,
// whether named by --cert-name or found by the content of --cert-file, is
// locked until the returned unlock is called, so that no renewal replaces
// it between the request and the mark.
func findRevokeTarget(ctx context.Context, store *storage.Store, o *revokeOptions, logger *slog.Logger) (revokeTarget, error) {
	name := o.certName
	if name == "" {
		var err error
		if name, err = storedNameOf(store, o.leaf); err != nil {
			return revokeTarget{}, err
		}
	}
	if name == "" {
		return revokeTarget{leaf: o.leaf, unlock: func() error { return nil }}, nil
	}

	unlock, _, err := lockCertificate(ctx, store, name, o.wait, logger.With(slog.String("certificate", name)))
	if err != nil {
		return revokeTarget{}, err
	}
	stored, err := store.LoadCertificate(name)
	if errors.Is(err, storage.ErrNotFound) && o.certName != "" {
		_ = unlock()
		return revokeTarget{}, usageErrorf("certificate %s not found in %s; see dnscert list, or give the PEM file with --cert-file", name, store.Root())
	}
	if err != nil {
		_ = unlock()
		return revokeTarget{}, err
	}
	leaf, err := parseLeafPEM(stored.LeafPEM)
	if err != nil {
		_ = unlock()
		return revokeTarget{}, fmt.Errorf("certificate %s: %w", name, err)
	}
	if o.leaf != nil && !bytes.Equal(o.leaf.Raw, leaf.Raw) {
		// A renewal replaced the stored copy after storedNameOf matched
		// it, so the file is no longer the stored certificate.
		_ = unlock()
		return revokeTarget{leaf: o.leaf, unlock: func() error { return nil }}, nil
	}
	return revokeTarget{leaf: leaf, stored: stored, unlock: unlock}, nil
}

// storedNameOf returns the name of the stored certificate whose leaf is
// cert, or "" when none is. Damaged directories are skipped, because the
// file alone is enough to revoke.
func storedNameOf(store *storage.Store, cert *x509.Certificate) (string, error) {
	metas, _, err := store.ScanCertificates()
	if err != nil {
		return "", err
	}
	serial := cert.SerialNumber.Text(16)
	for _, meta := range metas {
		if meta.Serial != serial {
			continue
		}
		stored, err := store.LoadCertificate(meta.Name)
		if err != nil {
			continue
		}
		if leaf, err := parseLeafPEM(stored.LeafPEM); err == nil && bytes.Equal(leaf.Raw, cert.Raw) {
			return meta.Name, nil
		}
	}
	return "", nil
}

// revokeSigner picks the key that signs the request and the CA it goes
// to. With a certificate key, the account is empty. Otherwise the account
// is loaded but never registered, because a new account has no authority
// over certificates it did not order.
func revokeSigner(store *storage.Store, o *revokeOptions, t revokeTarget) (crypto.Signer, storage.Account, string, error) {
	directory, email := o.ca.directory, o.ca.email
	meta := t.stored.Meta
	if meta.Name != "" && meta.DirectoryURL != "" && !o.ca.explicit {
		directory = meta.DirectoryURL
		if email == "" {
			email = meta.AccountEmail
		}
	}

	switch {
	case o.certKey != nil:
		if !publicKeysEqual(t.leaf.PublicKey, o.certKey.Public()) {
			return nil, storage.Account{}, "", usageErrorf("--key-file %s is not the key of certificate %s; give the certificate's private key, or leave --key-file out to sign with the account key", o.keyFile, meta.Name)
		}
		return o.certKey, storage.Account{}, directory, nil
	case o.withCertKey:
		if meta.ExternalKey {
			return nil, storage.Account{}, "", usageErrorf("certificate %s was ordered with your own CSR, so its private key is not stored; give it with --key-file, or leave --with-cert-key out to sign with the account key", meta.Name)
		}
		key, err := storage.DecodeKeyPEM(t.stored.KeyPEM)
		if err != nil {
			return nil, storage.Account{}, "", fmt.Errorf("private key of certificate %s: %w", meta.Name, err)
		}
		return key, storage.Account{}, directory, nil
	}

	account, err := store.LoadAccount(directory, email)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, storage.Account{}, "", usageErrorf("no account stored for %s with e-mail %q to sign the revocation; give the --server and --email the certificate was ordered with, or sign with the certificate key: --key-file FILE, or --with-cert-key for a stored certificate", directory, email)
	}
	if err != nil {
		return nil, storage.Account{}, "", err
	}
	if err := issuer.CheckAccountUsable(account); err != nil {
		return nil, storage.Account{}, "", usageErrorf("%v; or sign the revocation with the certificate key: --key-file FILE, or --with-cert-key for a stored certificate", err)
	}
	return nil, account, directory, nil
}

// isLetsEncrypt reports whether directory is one of Let's Encrypt's.
func isLetsEncrypt(directory string) bool {
	return directory == caShortcuts["letsencrypt"].url || directory == caShortcuts["letsencrypt-staging"].url
}
