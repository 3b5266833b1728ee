// Package issuer runs the ACME order flow of RFC 8555 for the dns-01
// challenge: it creates the order, fetches every authorization in parallel,
// has the dns01 package publish all challenge records at once, waits for the
// authoritative nameservers, answers every challenge in parallel, finalizes
// with a CSR and downloads the chain. It also keeps the ACME account.
package issuer
