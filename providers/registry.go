package providers

// registry lists every provider that New can build, one entry each. A new
// provider gets an adapter file in this package that returns its Info, and
// a line here.
var registry = []Info{
	cloudflareInfo(),
	execInfo(),
	manualInfo(),
	rfc2136Info(),
	route53Info(),
}
