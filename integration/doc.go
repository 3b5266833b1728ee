// Package integration contains end-to-end tests of dnscert against DNS server
// software that runs in production, such as BIND 9. The tests need root and
// the server binaries. Without them they skip, and with CI=true they fail, so
// a CI run never passes without running them.
package integration
