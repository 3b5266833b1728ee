package dnstest

import (
	"strings"

	"github.com/miekg/dns"
)

// ednsUDPSize is the UDP payload size advertised in response OPT records:
// 1232 bytes, the DNS Flag Day 2020 value that avoids IP fragmentation.
const ednsUDPSize = 1232

// checkEDNSVersion sets BADVERS on resp and returns false when the request
// carries an OPT record of a version other than 0 (RFC 6891).
func checkEDNSVersion(req, resp *dns.Msg) bool {
	opt := req.IsEdns0()
	if opt == nil || opt.Version() == 0 {
		return true
	}
	resp.Rcode = dns.RcodeBadVers
	resp.SetEdns0(ednsUDPSize, opt.Do())
	return false
}

// finishResponse adds an OPT record when the request had one and, over UDP,
// fits the response into the client's buffer: 512 bytes without EDNS0
// (RFC 1035 §4.2.1), else the requested UDP payload size (RFC 6891).
// dns.Msg.Truncate drops whole records and sets TC when it drops any. Over TCP
// the full response is sent.
func finishResponse(req, resp *dns.Msg, udp bool) {
	limit := dns.MinMsgSize
	if opt := req.IsEdns0(); opt != nil {
		if resp.IsEdns0() == nil {
			resp.SetEdns0(ednsUDPSize, opt.Do())
		}
		limit = max(int(opt.UDPSize()), dns.MinMsgSize)
	}
	resp.Compress = true
	if udp {
		// dns.Msg.Truncate does not count the TSIG record added later.
		// NOTE: Truncate never goes below 512 bytes, so a signed response
		// to a request without EDNS0 can still exceed 512 bytes.
		resp.Truncate(limit - tsigLen(req.IsTsig()))
	}
}

// tsigLen returns the maximum wire length of the response TSIG record for a
// request signed with t, or 0 when t is nil: the MAC of the longest
// algorithm (HMAC-SHA512, 64 bytes) and 6 bytes of Other Data.
func tsigLen(t *dns.TSIG) int {
	if t == nil {
		return 0
	}
	stub := &dns.TSIG{
		Hdr:       dns.RR_Header{Name: t.Hdr.Name, Rrtype: dns.TypeTSIG, Class: dns.ClassANY},
		Algorithm: t.Algorithm,
		MACSize:   64,
		MAC:       strings.Repeat("00", 64),
		OtherLen:  6,
		OtherData: strings.Repeat("00", 6),
	}
	return dns.Len(stub)
}

// stripToTC empties every section except the OPT record and sets TC, the
// response of a server that wants the client to retry over TCP.
func stripToTC(resp *dns.Msg) {
	opt := resp.IsEdns0()
	resp.Answer, resp.Ns, resp.Extra = nil, nil, nil
	if opt != nil {
		resp.Extra = []dns.RR{opt}
	}
	resp.Truncated = true
}
