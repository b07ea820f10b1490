package netguard

import (
	"fmt"
	"net/netip"
)

// blockedRange is a special-purpose network refused unless allowed.
type blockedRange struct {
	prefix netip.Prefix
	reason string
}

// blockedRanges lists the refused networks. More specific entries come
// before the networks that contain them, so that the reason is the most
// precise one. IPv4-mapped IPv6 addresses never reach this table (Check
// unmaps them first); NAT64 and 6to4 addresses are checked by the IPv4
// address they embed (see embeddedIPv4).
var blockedRanges = []blockedRange{
	// IPv4.
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified address"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private address (RFC 1918)"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared address space (carrier-grade NAT)"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback address"},
	{netip.MustParsePrefix("169.254.169.254/32"), "cloud metadata address"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local address"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private address (RFC 1918)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignment"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation address"},
	{netip.MustParsePrefix("192.88.99.0/24"), "6to4 relay anycast address"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private address (RFC 1918)"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking address"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation address"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation address"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast address"},
	{netip.MustParsePrefix("255.255.255.255/32"), "broadcast address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved address"},

	// IPv6.
	{netip.MustParsePrefix("::/128"), "unspecified address"},
	{netip.MustParsePrefix("::1/128"), "loopback address"},
	{netip.MustParsePrefix("::/96"), "IPv4-compatible address (deprecated)"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64 address"},
	{netip.MustParsePrefix("100::/64"), "discard-only address"},
	{netip.MustParsePrefix("2001::/32"), "Teredo tunnel address"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation address"},
	{netip.MustParsePrefix("3fff::/20"), "documentation address"},
	{netip.MustParsePrefix("fd00:ec2::254/128"), "cloud metadata address"},
	{netip.MustParsePrefix("fc00::/7"), "unique local address"},
	{netip.MustParsePrefix("fe80::/10"), "link-local address"},
	{netip.MustParsePrefix("fec0::/10"), "site-local address (deprecated)"},
	{netip.MustParsePrefix("ff00::/8"), "multicast address"},
}

var (
	nat64Prefix      = netip.MustParsePrefix("64:ff9b::/96")
	sixToFourPrefix  = netip.MustParsePrefix("2002::/16")
	globalUnicastIP6 = netip.MustParsePrefix("2000::/3")
)

// Check reports whether the Guard may connect to ip. It returns nil for an
// allowed address and a *BlockedError (with an empty Host) for a refused one.
//
// An IPv4-mapped IPv6 address is checked as the IPv4 address it maps; a
// NAT64 (64:ff9b::/96) or 6to4 (2002::/16) address is refused when the IPv4
// address it embeds is refused; an IPv6 address outside the global unicast
// space 2000::/3 is refused. An address inside one of Config.Allow is
// allowed whatever range it falls in. An IPv6 zone is ignored.
func (g *Guard) Check(ip netip.Addr) error {
	if !ip.IsValid() {
		return &BlockedError{IP: ip, Reason: "not a valid IP address"}
	}
	ip = ip.WithZone("")
	if g.allowed(ip) {
		return nil
	}
	ip = ip.Unmap()
	if v4, kind, ok := embeddedIPv4(ip); ok {
		if err := g.Check(v4); err != nil {
			return &BlockedError{IP: ip, Reason: fmt.Sprintf("%s embedding %s: %s", kind, v4, err.(*BlockedError).Reason)}
		}
		return nil
	}
	for _, r := range blockedRanges {
		if r.prefix.Contains(ip) {
			return &BlockedError{IP: ip, Reason: r.reason}
		}
	}
	if ip.Is6() && !globalUnicastIP6.Contains(ip) {
		return &BlockedError{IP: ip, Reason: "reserved IPv6 address"}
	}
	return nil
}

// allowed reports whether ip, or the IPv4 address it maps, is inside one of
// the operator's networks.
func (g *Guard) allowed(ip netip.Addr) bool {
	unmapped := ip.Unmap()
	for _, p := range g.allow {
		if p.Contains(ip) || p.Contains(unmapped) {
			return true
		}
	}
	return false
}

// embeddedIPv4 returns the IPv4 address carried inside a NAT64 or 6to4
// address, and the name of that kind of address.
func embeddedIPv4(ip netip.Addr) (netip.Addr, string, bool) {
	b := ip.As16()
	switch {
	case nat64Prefix.Contains(ip):
		return netip.AddrFrom4([4]byte(b[12:16])), "NAT64 address", true
	case sixToFourPrefix.Contains(ip):
		return netip.AddrFrom4([4]byte(b[2:6])), "6to4 address", true
	}
	return netip.Addr{}, "", false
}
