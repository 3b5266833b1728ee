// Package dnstest runs DNS servers in-process on loopback addresses for
// tests and for the sandbox binary.
//
// A [Server] is an authoritative server for one or more zones loaded from
// zone-file text. It answers over UDP and TCP on one address, accepts RFC 2136
// dynamic updates (optionally TSIG-signed), replicates changes to secondary
// servers after a configurable delay, records every query it receives and can
// be configured to misbehave through [Faults].
//
// A [Resolver] is a non-caching iterative resolver that starts at a set of
// root servers and follows referrals and CNAME chains, as the resolver of an
// ACME CA does when it validates a DNS-01 challenge.
//
// Every listener binds to a loopback address only (127.0.0.0/8 or ::1), and
// the Resolver sends queries to loopback addresses only. Because NS records
// carry no port, all servers of one test network share a port: [FreePort]
// finds one that is free on several loopback addresses.
//
// The servers do not implement wildcards (RFC 4592), DNSSEC or zone
// transfers over the network.
package dnstest
