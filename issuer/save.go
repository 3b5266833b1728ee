package issuer

import (
	"bytes"
	"crypto"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/dnscert/dnscert/storage"
)

// Save stores an issued certificate with its key and metadata under name.
// The previous certificate of that name is replaced only when every file
// of the new one has been written.
func Save(store *storage.Store, name string, res *Result, key crypto.Signer, directory, accountURL, keyType string) (storage.Metadata, error) {
	leaf, chain, err := splitChain(res.ChainPEM)
	if err != nil {
		return storage.Metadata{}, err
	}
	keyPEM, err := storage.EncodeKeyPEM(key)
	if err != nil {
		return storage.Metadata{}, err
	}
	meta := storage.Metadata{
		Names:          res.Names,
		CertificateURL: res.CertURL,
		DirectoryURL:   directory,
		AccountURL:     accountURL,
		KeyType:        keyType,
		Profile:        res.Profile,
	}
	if ri := res.RenewalInfo; ri != nil && ri.HasWindow() {
		meta.RenewalWindow = &storage.RenewalWindow{
			Start:          ri.SuggestedWindow.Start,
			End:            ri.SuggestedWindow.End,
			ExplanationURL: ri.ExplanationURL,
		}
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
