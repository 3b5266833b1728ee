// Package propagation finds the zone and authoritative nameservers of a DNS
// name and waits until every one of those servers serves a set of TXT
// values.
//
// Bootstrap lookups (an SOA walk from the parent of a name, NS sets and
// nameserver addresses) go to recursive resolvers. Everything about the
// challenge names themselves is asked of the authoritative servers directly,
// with recursion not desired, EDNS0, and a retry over TCP when an answer is
// truncated. A record counts as propagated only when every address of every
// nameserver answers authoritatively with all of its values, because a CA's
// resolver may ask any of them.
package propagation
