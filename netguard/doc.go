// Package netguard keeps flowd's outbound HTTP requests away from the
// machine it runs on and the networks around it (SSRF protection).
//
// A Guard refuses to connect to loopback, private, link-local, cloud metadata,
// multicast and other special-purpose addresses unless the operator has
// opened those networks (FLOWD_ALLOW_NETWORKS, parsed by ParseAllowList). The
// check is made on the address actually dialled: the Guard resolves host
// names itself, checks every address, dials only an address it has checked,
// and checks the connected address once more in the dialer's Control hook,
// so DNS rebinding and redirects cannot slip past it.
//
// Every outbound request flowd sends on behalf of a flow must go through
// Guard.Client or Guard.Transport.
//
// The package must not read flags or environment variables (cmd/ does, and
// passes a Config), must not use an HTTP proxy (a proxy would dial on its
// own and bypass the check), must not cache DNS answers across dials, and
// must not send any traffic itself: it only decides and dials.
package netguard
