package rfc2136

import (
	"fmt"

	"github.com/miekg/dns"
)

// ResponseError reports a response whose RCODE is not NOERROR.
type ResponseError struct {
	Operation string // "update" or "zone transfer"
	Zone      string // lower-case FQDN
	Server    string // host:port
	Rcode     int    // the RCODE, such as dns.RcodeRefused
	TSIGError int    // the Error field of the response TSIG record, or 0

	hint string
}

func (e *ResponseError) Error() string {
	status := rcodeName(e.Rcode)
	if e.TSIGError != 0 {
		status += ", TSIG error " + rcodeName(e.TSIGError)
	}
	return fmt.Sprintf("rfc2136: %s rejected: %s (%s)", operation(e.Operation).describe(e.Zone, e.Server), status, e.hint)
}

func rcodeName(rcode int) string {
	if name, ok := dns.RcodeToString[rcode]; ok {
		return name
	}
	return fmt.Sprintf("RCODE %d", rcode)
}

// responseError builds a ResponseError with a hint at the likely cause.
func (s settings) responseError(op operation, zone string, resp *dns.Msg) *ResponseError {
	e := &ResponseError{Operation: string(op), Zone: zone, Server: s.server, Rcode: resp.Rcode}
	if t := resp.IsTsig(); t != nil {
		e.TSIGError = int(t.Error)
	}
	e.hint = s.hint(op, e.Rcode, e.TSIGError)
	return e
}

func (s settings) hint(op operation, rcode, tsigError int) string {
	key := quote(s.keyName)
	switch {
	case tsigError == dns.RcodeBadSig:
		return "the server could not verify the request signature; check that the TSIG secret equals the secret of key " + key + " on the server"
	case tsigError == dns.RcodeBadKey:
		return "the server does not know TSIG key " + key + " with algorithm " + s.algorithm + "; check the key name and algorithm"
	case tsigError == dns.RcodeBadTime:
		return fmt.Sprintf("the clocks of this host and the server differ by more than the TSIG fudge of %d seconds; synchronize them, for example with NTP", tsigFudge)
	case rcode == dns.RcodeNotAuth && s.keyName != "":
		return "the server is not authoritative for this zone or did not accept TSIG key " + key + "; check the nameserver, the zone and the key"
	case rcode == dns.RcodeNotAuth:
		return "the server is not authoritative for this zone or requires a TSIG key; check the nameserver and the zone, or set a key"
	case rcode == dns.RcodeRefused && op == opUpdate && s.keyName != "":
		return "the TSIG key may lack an update-policy grant for this zone"
	case rcode == dns.RcodeRefused && op == opUpdate:
		return "the server may accept only signed updates; set a TSIG key"
	case rcode == dns.RcodeRefused && s.keyName != "":
		return "the TSIG key may lack an allow-transfer grant for this zone"
	case rcode == dns.RcodeRefused:
		return "the server may allow only signed zone transfers; set a TSIG key"
	case rcode == dns.RcodeNotZone:
		return "a record name is outside the zone, or the server does not serve this zone; check the zone name"
	case rcode == dns.RcodeNameError:
		return "the zone does not exist on this server; check the zone name and the nameserver"
	case rcode == dns.RcodeNotImplemented && op == opUpdate:
		return "the server does not support dynamic updates"
	case rcode == dns.RcodeNotImplemented:
		return "the server does not support zone transfers"
	case rcode == dns.RcodeServerFailure:
		return "the server failed while processing the request; see its log"
	case rcode == dns.RcodeFormatError:
		return "the server could not parse the request"
	default:
		return "see the server's log"
	}
}

// CredentialsRejected reports whether the server turned the request down
// because of the TSIG key: an unknown key, a bad signature, or NOTAUTH for
// a signed request.
func (e *ResponseError) CredentialsRejected() bool {
	return e.TSIGError == dns.RcodeBadSig || e.TSIGError == dns.RcodeBadKey || e.Rcode == dns.RcodeNotAuth
}

// ZoneUnchanged reports whether the zone is known to be as it was before
// the request: a server that answers an update with an error RCODE has
// applied none of it (RFC 2136 section 3.4).
func (e *ResponseError) ZoneUnchanged() bool {
	return e.Operation == string(opUpdate)
}
