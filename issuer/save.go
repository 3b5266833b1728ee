package issuer

import (
	"bytes"
	"crypto"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/dnscert/dnscert/storage"
)

// SaveOptions are the settings stored with a certificate, so that renewals
// can repeat the order.
type SaveOptions struct {
	Directory         string
	AccountURL        string
	AccountEmail      string
	Provider          string
	ProviderOverrides map[string]string
	Zone              string
	PreferredChain    string
	Combined          bool
	// CSR is the user's certificate request, kept for renewals when the
	// key is not stored.
	CSR []byte
}

// Save stores an issued certificate with its key and metadata under name.
// The previous certificate of that name is replaced only when every file
// of the new one has been written. A nil key marks a certificate ordered
// with the user's own CSR, whose key is not stored.
func Save(store *storage.Store, name string, res *Result, key crypto.Signer, opts SaveOptions) (storage.Metadata, error) {
	leaf, chain, err := splitChain(res.ChainPEM)
	if err != nil {
		return storage.Metadata{}, err
	}
	var keyPEM []byte
	if key != nil {
		if keyPEM, err = storage.EncodeKeyPEM(key); err != nil {
			return storage.Metadata{}, err
		}
	}
	meta := storage.Metadata{
		Names:             res.Names,
		CertificateURL:    res.CertURL,
		DirectoryURL:      opts.Directory,
		AccountURL:        opts.AccountURL,
		AccountEmail:      opts.AccountEmail,
		Profile:           res.Profile,
		Provider:          opts.Provider,
		ProviderOverrides: opts.ProviderOverrides,
		Zone:              opts.Zone,
		PreferredChain:    opts.PreferredChain,
		Combined:          opts.Combined && key != nil,
		ExternalKey:       key == nil,
	}
	if key == nil {
		meta.CSR = opts.CSR
	}
	if ri := res.RenewalInfo; ri != nil && ri.HasWindow() {
		meta.RenewalWindow = chooseInstant(nil, *ri)
	}
	err = store.SaveCertificate(name, storage.Certificate{LeafPEM: leaf, ChainPEM: chain, KeyPEM: keyPEM, Meta: meta})
	if err != nil {
		return storage.Metadata{}, fmt.Errorf("storing certificate %s: %w", name, err)
	}
	stored, err := store.LoadCertificate(name)
	if err != nil {
		return storage.Metadata{}, err
	}
	return stored.Meta, nil
}

// splitChain separates the leaf (the first PEM block) from its issuers.
func splitChain(chainPEM []byte) (leaf, issuers []byte, err error) {
	block, rest := pem.Decode(chainPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, nil, errors.New("the CA returned a chain without a leading certificate")
	}
	return pem.EncodeToMemory(block), bytes.TrimLeft(rest, "\r\n"), nil
}
