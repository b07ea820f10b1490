package netguard

import (
	"fmt"
	"net/netip"
	"strings"
)

// ParseAllowList parses a comma-separated list of networks in CIDR notation
// ("10.0.0.0/8") or single addresses ("192.168.1.10", "::1"), as given in
// FLOWD_ALLOW_NETWORKS. Spaces around entries and empty entries are ignored;
// an empty list gives nil. Host bits in a prefix are cleared. The error names
// the first entry that is not valid.
func ParseAllowList(s string) ([]netip.Prefix, error) {
	var prefixes []netip.Prefix
	for entry := range strings.SplitSeq(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		prefix, err := parseAllowEntry(entry)
		if err != nil {
			return nil, fmt.Errorf("parse allow list entry %q: %w", entry, err)
		}
		prefixes = append(prefixes, prefix)
	}
	return prefixes, nil
}

func parseAllowEntry(entry string) (netip.Prefix, error) {
	if strings.Contains(entry, "/") {
		prefix, err := netip.ParsePrefix(entry)
		if err != nil {
			return netip.Prefix{}, err
		}
		return prefix.Masked(), nil
	}
	addr, err := netip.ParseAddr(entry)
	if err != nil {
		return netip.Prefix{}, err
	}
	if addr.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("an address with a zone is not a network")
	}
	return netip.PrefixFrom(addr, addr.BitLen()), nil
}
