// Package dns01 plans, publishes and removes the TXT records of the ACME
// dns-01 challenge (RFC 8555 section 8.4).
//
// It normalizes the requested names, computes record values, follows CNAMEs
// from each _acme-challenge name, finds the zone that must hold each record,
// groups the records by provider and zone so that each zone costs one
// provider call, writes a journal before publishing, and deletes exactly the
// values it added afterwards, even when the run is interrupted.
package dns01
