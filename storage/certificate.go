package storage

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/dnscert/dnscert/internal/atomicfile"
)

const (
	certFile      = "cert.pem"
	chainFile     = "chain.pem"
	fullChainFile = "fullchain.pem"
	keyFile       = "privkey.pem"
	metadataFile  = "metadata.json"
	combinedFile  = "combined.pem"
)

// Metadata describes a stored certificate. SaveCertificate sets Name,
// NotBefore, NotAfter, Serial and IssuerCN from the leaf certificate.
type Metadata struct {
	// Name is the certificate name, which is also its directory name.
	Name string `json:"name"`
	// Names are the requested identifiers (DNS names, possibly wildcards).
	// SaveCertificate fills them from the leaf's subject alternative names
	// if they are empty.
	Names     []string  `json:"names"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	// Serial is the serial number in lowercase hexadecimal.
	Serial   string `json:"serial"`
	IssuerCN string `json:"issuer_cn"`

	// CertificateURL is the URL the certificate was downloaded from.
	CertificateURL string `json:"certificate_url,omitempty"`
	DirectoryURL   string `json:"directory_url,omitempty"`
	AccountURL     string `json:"account_url,omitempty"`
	// KeyType is the type of the certificate key as returned by
	// [KeyTypeOf], such as "ec256". SaveCertificate fills it from the key if
	// it is empty.
	KeyType string `json:"key_type"`
	// Profile is the ACME certificate profile the order requested, if any.
	Profile string `json:"profile,omitempty"`

	// Settings that renewals reuse unless told otherwise: the DNS provider,
	// the --zone override, the preferred chain and the account e-mail.
	Provider string `json:"provider,omitempty"`
	// ProviderOverrides maps certificate names to the provider that
	// publishes their records instead of Provider.
	ProviderOverrides map[string]string `json:"provider_overrides,omitempty"`
	Zone              string            `json:"zone,omitempty"`
	PreferredChain    string            `json:"preferred_chain,omitempty"`
	AccountEmail      string            `json:"account_email,omitempty"`

	// ARICertID is the certificate identifier for ACME Renewal Information
	// (RFC 9773, section 4.1). SaveCertificate computes it from the leaf
	// if it is empty and the leaf has an authority key identifier.
	ARICertID string `json:"ari_cert_id,omitempty"`
	// RenewalWindow is the suggested renewal window from the CA's renewal
	// information, nil if unknown.
	RenewalWindow *RenewalWindow `json:"renewal_window,omitempty"`

	// IssuedAt is the time the certificate was stored. SaveCertificate sets
	// it to the current time if it is zero.
	IssuedAt time.Time `json:"issued_at"`

	// Replaced marks a certificate that a newer certificate has replaced.
	Replaced bool `json:"replaced,omitempty"`
	// Revoked marks a certificate that has been revoked.
	Revoked bool `json:"revoked,omitempty"`
	// RevocationReason is the RFC 5280 reason code sent with the revocation.
	RevocationReason int `json:"revocation_reason,omitempty"`

	// Combined asks for combined.pem too: the private key followed by the
	// full chain in one file, as HAProxy reads it.
	Combined bool `json:"combined,omitempty"`

	// ExternalKey marks a certificate ordered with a CSR whose private key
	// the user keeps: its directory holds no privkey.pem.
	ExternalKey bool `json:"external_key,omitempty"`
	// CSR is the DER certificate request of such a certificate, which
	// renewals send again.
	CSR []byte `json:"csr,omitempty"`
}

// RenewalWindow is the suggestedWindow of an ACME Renewal Information
// response (RFC 9773, section 4.2).
type RenewalWindow struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// ExplanationURL is the CA's page explaining the window, if it sent one.
	ExplanationURL string `json:"explanation_url,omitempty"`
	// SelectedTime is the random instant inside the window chosen for the
	// renewal (RFC 9773 section 4.2); it is kept while the window stays the
	// same, so daily checks do not draw a new instant each time.
	SelectedTime time.Time `json:"selected_time,omitzero"`
}

// Certificate is a certificate with its private key, as PEM.
type Certificate struct {
	// LeafPEM contains exactly one CERTIFICATE block, the leaf.
	LeafPEM []byte
	// ChainPEM contains the issuer certificates, the leaf's issuer first.
	// It is empty for a self-signed leaf.
	ChainPEM []byte
	// KeyPEM is the leaf's private key in one of the formats that
	// [DecodeKeyPEM] accepts.
	KeyPEM []byte
	Meta   Metadata
}

// Paths are the absolute paths of a certificate's files.
type Paths struct {
	Dir       string `json:"dir"`
	Cert      string `json:"cert"`
	Chain     string `json:"chain"`
	FullChain string `json:"fullchain"`
	// PrivateKey is left empty by callers for certificates whose key the
	// user keeps (Meta.ExternalKey), and then omitted from JSON.
	PrivateKey string `json:"privkey,omitempty"`
	Metadata   string `json:"metadata"`
	// Combined is written only for certificates saved with Meta.Combined.
	// Callers leave it empty for the others, and then it is omitted from
	// JSON.
	Combined string `json:"combined,omitempty"`
}

// CertificatePaths returns the paths of the files of the certificate name.
// The name must be valid according to [ValidateName]. The paths are returned
// whether or not the files exist.
func (s *Store) CertificatePaths(name string) Paths {
	dir := filepath.Join(s.root, certificatesDir, name)
	return Paths{
		Dir:        dir,
		Cert:       filepath.Join(dir, certFile),
		Chain:      filepath.Join(dir, chainFile),
		FullChain:  filepath.Join(dir, fullChainFile),
		PrivateKey: filepath.Join(dir, keyFile),
		Metadata:   filepath.Join(dir, metadataFile),
		Combined:   filepath.Join(dir, combinedFile),
	}
}

// SaveCertificate stores c under name, replacing the previous certificate of
// that name, if any, as a whole.
//
// Before writing, it checks that LeafPEM contains one certificate and ChainPEM
// contains only certificates, the first of which signed the leaf. It also
// checks that KeyPEM is the leaf's private key and returns an error wrapping
// [ErrKeyMismatch] if not. The files are then written and fsynced in a new
// temporary directory, which replaces the old directory by renames. If any
// step fails, the previous certificate stays in place unchanged.
//
// The caller holds the lock of name (see [Store.Lock]), because
// SaveCertificate removes the temporary directories that other saves of name
// left behind.
func (s *Store) SaveCertificate(name string, c Certificate) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	files, err := renderCertificate(name, c)
	if err != nil {
		return err
	}
	certsDir, err := s.ensureDirs(certificatesDir)
	if err != nil {
		return err
	}

	newDir, err := createTempDir(certsDir, name, "new")
	if err != nil {
		return err
	}
	if err := writeCertificateDir(newDir, files); err != nil {
		_ = os.RemoveAll(newDir)
		return fmt.Errorf("save certificate %q: %w", name, err)
	}

	oldDir := filepath.Join(certsDir, tempDirName(name, "old", randomSuffix()))
	if err := swapDir(newDir, filepath.Join(certsDir, name), oldDir); err != nil {
		_ = os.RemoveAll(newDir)
		return fmt.Errorf("save certificate %q: %w", name, err)
	}

	// The new certificate is in place at this point. A leftover directory
	// does no harm, and the next save of name retries its removal.
	removeLeftovers(certsDir, name)
	return nil
}

// certificateFile is one file of a certificate directory.
type certificateFile struct {
	name string
	data []byte
	perm os.FileMode
}

// renderCertificate validates c and returns the files of its directory, with
// the metadata completed from the leaf and key.
func renderCertificate(name string, c Certificate) ([]certificateFile, error) {
	leaf, err := parseLeaf(c.LeafPEM)
	if err != nil {
		return nil, fmt.Errorf("save certificate %q: invalid leaf certificate: %w", name, err)
	}
	chain, err := parseChain(c.ChainPEM)
	if err != nil {
		return nil, fmt.Errorf("save certificate %q: invalid chain: %w", name, err)
	}
	if len(chain) > 0 {
		if err := leaf.CheckSignatureFrom(chain[0]); err != nil {
			return nil, fmt.Errorf("save certificate %q: the first chain certificate (%s) did not sign the leaf: %w; pass the issuer certificates in order", name, chain[0].Subject, err)
		}
	}
	var key crypto.Signer
	if !c.Meta.ExternalKey {
		key, err = DecodeKeyPEM(c.KeyPEM)
		if err != nil {
			return nil, fmt.Errorf("save certificate %q: invalid private key: %w", name, err)
		}
		if !publicKeysEqual(leaf.PublicKey, key.Public()) {
			return nil, fmt.Errorf("save certificate %q: %w the leaf certificate; pass the key the certificate was requested with", name, ErrKeyMismatch)
		}
	}

	meta, err := completeMetadata(name, c.Meta, leaf)
	if err != nil {
		return nil, fmt.Errorf("save certificate %q: %w", name, err)
	}
	metaJSON, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("save certificate %q: encode metadata: %w", name, err)
	}
	metaJSON = append(metaJSON, '\n')

	// The PEM files are encoded again from the parsed DER, so that text
	// around or between the blocks in the input does not end up in them.
	leafPEM := encodeCertificates(leaf)
	chainPEM := encodeCertificates(chain...)
	fullChainPEM := append(bytes.Clone(leafPEM), chainPEM...)

	files := []certificateFile{
		{certFile, leafPEM, publicPerm},
		{chainFile, chainPEM, publicPerm},
		{fullChainFile, fullChainPEM, publicPerm},
		{metadataFile, metaJSON, publicPerm},
	}
	if key != nil {
		keyPEM, err := EncodeKeyPEM(key)
		if err != nil {
			return nil, fmt.Errorf("save certificate %q: %w", name, err)
		}
		files = append(files, certificateFile{keyFile, keyPEM, privatePerm})
		if meta.Combined {
			combined := append(bytes.Clone(keyPEM), fullChainPEM...)
			files = append(files, certificateFile{combinedFile, combined, privatePerm})
		}
	}
	return files, nil
}

func completeMetadata(name string, meta Metadata, leaf *x509.Certificate) (Metadata, error) {
	meta.Name = name
	meta.NotBefore = leaf.NotBefore.UTC()
	meta.NotAfter = leaf.NotAfter.UTC()
	meta.Serial = leaf.SerialNumber.Text(16)
	meta.IssuerCN = leaf.Issuer.CommonName
	if len(meta.Names) == 0 {
		meta.Names = leafNames(leaf)
	}
	if meta.ARICertID == "" && len(leaf.AuthorityKeyId) > 0 {
		id, err := ariCertID(leaf)
		if err != nil {
			return Metadata{}, err
		}
		meta.ARICertID = id
	}

	keyType, err := KeyTypeOf(leaf.PublicKey)
	switch {
	case err != nil:
		// Keys such as Ed25519 have no key type name, so the caller's
		// value, possibly empty, stays.
	case meta.KeyType == "":
		meta.KeyType = keyType
	case !strings.EqualFold(meta.KeyType, keyType):
		return Metadata{}, fmt.Errorf("metadata key type %q does not match the private key, which is %s; leave the key type empty or correct it", meta.KeyType, keyType)
	default:
		meta.KeyType = keyType
	}

	if meta.IssuedAt.IsZero() {
		meta.IssuedAt = time.Now().UTC()
	}
	return meta, nil
}

// leafNames returns the DNS names and IP addresses in the leaf's subject
// alternative name extension.
func leafNames(leaf *x509.Certificate) []string {
	names := append([]string(nil), leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		names = append(names, ip.String())
	}
	return names
}

// ariCertID computes the ACME Renewal Information certificate identifier
// (RFC 9773, section 4.1): the base64url authority key identifier, ".", and
// the base64url bytes of the DER serial number without tag and length, both
// without padding.
func ariCertID(leaf *x509.Certificate) (string, error) {
	der, err := asn1.Marshal(leaf.SerialNumber)
	if err != nil {
		return "", fmt.Errorf("encode serial number %x: %w", leaf.SerialNumber, err)
	}
	var serial asn1.RawValue
	if _, err := asn1.Unmarshal(der, &serial); err != nil {
		return "", fmt.Errorf("decode serial number %x: %w", leaf.SerialNumber, err)
	}
	return base64.RawURLEncoding.EncodeToString(leaf.AuthorityKeyId) + "." +
		base64.RawURLEncoding.EncodeToString(serial.Bytes), nil
}

// parseLeaf parses data, which must contain exactly one PEM CERTIFICATE block.
func parseLeaf(data []byte) (*x509.Certificate, error) {
	certs, err := parseCertificates(data)
	if err != nil {
		return nil, err
	}
	switch len(certs) {
	case 0:
		return nil, errors.New("no PEM CERTIFICATE block found")
	case 1:
		return certs[0], nil
	}
	return nil, fmt.Errorf("found %d certificates, want only the leaf; pass the issuer certificates as the chain", len(certs))
}

// parseChain parses data, which may be empty or contain PEM CERTIFICATE
// blocks only.
func parseChain(data []byte) ([]*x509.Certificate, error) {
	return parseCertificates(data)
}

func parseCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("unexpected PEM block type %q; want CERTIFICATE", block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, cert)
	}
	if len(bytes.TrimSpace(rest)) > 0 && len(certs) == 0 {
		return nil, errors.New("no PEM block found")
	}
	return certs, nil
}

func encodeCertificates(certs ...*x509.Certificate) []byte {
	var buf bytes.Buffer
	for _, cert := range certs {
		// pem.Encode fails only for invalid headers or a failing writer,
		// and neither applies to a header-less block and a bytes.Buffer.
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	}
	return buf.Bytes()
}

func writeCertificateDir(dir string, files []certificateFile) error {
	for _, f := range files {
		if err := writeNewFile(filepath.Join(dir, f.name), f.data, f.perm); err != nil {
			return err
		}
	}
	return atomicfile.SyncDir(dir)
}

// tempDirName returns the name ".<name>.<kind>-<suffix>" of a temporary
// certificate directory, where kind is "new" or "old".
func tempDirName(name, kind, suffix string) string {
	return "." + name + "." + kind + "-" + suffix
}

// createTempDir creates a fresh temporary directory for name in certsDir.
func createTempDir(certsDir, name, kind string) (string, error) {
	const attempts = 10
	var err error
	for range attempts {
		dir := filepath.Join(certsDir, tempDirName(name, kind, randomSuffix()))
		err = ensureNewDir(dir)
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	return "", fmt.Errorf("create temporary directory for certificate %q: %w", name, err)
}

// ensureNewDir creates dir with mode 0700 and fails if it exists.
func ensureNewDir(dir string) error {
	if err := os.Mkdir(dir, dirPerm); err != nil {
		return err
	}
	return os.Chmod(dir, dirPerm)
}

// swapDir moves newDir to dir. An existing dir is first renamed to oldDir,
// put back if the second rename fails, and removed after success. Between
// the two renames dir does not exist, which [Store.LoadCertificate] treats
// as a save in progress.
func swapDir(newDir, dir, oldDir string) error {
	parent := filepath.Dir(dir)
	movedOld := false
	err := os.Rename(dir, oldDir)
	switch {
	case err == nil:
		movedOld = true
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("move previous version out of the way: %w", err)
	}

	if err := os.Rename(newDir, dir); err != nil {
		if !movedOld {
			return fmt.Errorf("move new version into place: %w", err)
		}
		if restoreErr := os.Rename(oldDir, dir); restoreErr != nil {
			return fmt.Errorf("move new version into place: %w; restoring the previous version also failed (%v), so rename %s to %s by hand", err, restoreErr, oldDir, dir)
		}
		return fmt.Errorf("move new version into place: %w; the previous version was restored", err)
	}

	if err := atomicfile.SyncDir(parent); err != nil {
		return fmt.Errorf("the new version is in place, but %w", err)
	}
	if movedOld {
		// The new version is complete, so failing to remove the old one is
		// not an error of the swap. removeLeftovers retries on the next save.
		_ = os.RemoveAll(oldDir)
	}
	return nil
}

var leftoverSuffix = regexp.MustCompile(`^\.(new|old)-[0-9a-f]{8}$`)

// leftovers returns the paths of the temporary directories of name in
// certsDir, from saves that are in progress or were interrupted.
func leftovers(certsDir, name string) (newDirs, oldDirs []string) {
	entries, err := os.ReadDir(certsDir)
	if err != nil {
		return nil, nil
	}
	prefix := "." + name
	for _, entry := range entries {
		rest, ok := strings.CutPrefix(entry.Name(), prefix)
		if !ok || !entry.IsDir() {
			continue
		}
		// Matching the whole suffix keeps the temporary directories of
		// a name such as "a.new-x" apart from those of "a".
		match := leftoverSuffix.FindStringSubmatch(rest)
		if match == nil {
			continue
		}
		path := filepath.Join(certsDir, entry.Name())
		if match[1] == "new" {
			newDirs = append(newDirs, path)
		} else {
			oldDirs = append(oldDirs, path)
		}
	}
	return newDirs, oldDirs
}

func removeLeftovers(certsDir, name string) {
	newDirs, oldDirs := leftovers(certsDir, name)
	for _, dir := range append(newDirs, oldDirs...) {
		// A directory that cannot be removed now is tried again on the
		// next save. Loads never read it in place of the certificate.
		_ = os.RemoveAll(dir)
	}
}
