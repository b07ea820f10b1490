package netguard

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/flowd/flowd/internal/tabletest"
)

// These tests only classify addresses; nothing is sent to them.
func TestCheck(t *testing.T) {
	t.Parallel()

	type address struct{ ip, allow string }
	// The reason the guard blocks ip with allow as FLOWD_ALLOW_NETWORKS, or
	// "" when it lets it through.
	check := func(a address) (string, error) {
		allow, err := ParseAllowList(a.allow)
		if err != nil {
			return "", err
		}
		err = New(Config{Allow: allow}).Check(netip.MustParseAddr(a.ip))
		var blocked *BlockedError
		switch {
		case err == nil:
			return "", nil
		case errors.As(err, &blocked):
			return blocked.Reason, nil
		}
		return "", fmt.Errorf("not a *BlockedError: %w", err)
	}
	tabletest.FuncErr(t, "Check", check, []tabletest.Case[address, string]{
		// Public addresses.
		{In: address{ip: "8.8.8.8"}},
		{In: address{ip: "1.1.1.1"}},
		{In: address{ip: "2001:4860::8888"}},
		{In: address{ip: "2606:4700:4700::1111"}},
		{In: address{ip: "::ffff:8.8.8.8"}},
		{In: address{ip: "64:ff9b::808:808"}}, // NAT64 of 8.8.8.8
		{In: address{ip: "2002:808:808::1"}},  // 6to4 of 8.8.8.8
		{In: address{ip: "172.32.0.1"}},       // just past 172.16/12
		{In: address{ip: "100.128.0.1"}},      // just past 100.64/10
		{In: address{ip: "198.20.0.1"}},       // just past 198.18/15
		{In: address{ip: "223.255.255.255"}},  // just before multicast

		// Loopback and unspecified.
		{In: address{ip: "127.0.0.1"}, Want: "loopback address"},
		{In: address{ip: "127.255.255.254"}, Want: "loopback address"},
		{In: address{ip: "::1"}, Want: "loopback address"},
		{In: address{ip: "0.0.0.0"}, Want: "unspecified address"},
		{In: address{ip: "0.1.2.3"}, Want: "unspecified address"},
		{In: address{ip: "::"}, Want: "unspecified address"},

		// RFC 1918, CGNAT, link-local and metadata.
		{In: address{ip: "10.0.0.1"}, Want: "private address (RFC 1918)"},
		{In: address{ip: "10.255.255.255"}, Want: "private address (RFC 1918)"},
		{In: address{ip: "172.16.0.1"}, Want: "private address (RFC 1918)"},
		{In: address{ip: "172.31.255.255"}, Want: "private address (RFC 1918)"},
		{In: address{ip: "192.168.1.1"}, Want: "private address (RFC 1918)"},
		{In: address{ip: "100.64.0.1"}, Want: "shared address space (carrier-grade NAT)"},
		{In: address{ip: "100.100.100.200"}, Want: "shared address space (carrier-grade NAT)"},
		{In: address{ip: "169.254.169.254"}, Want: "cloud metadata address"},
		{In: address{ip: "169.254.1.1"}, Want: "link-local address"},
		{In: address{ip: "fe80::1"}, Want: "link-local address"},
		{In: address{ip: "fe80::1%eth0"}, Want: "link-local address"},
		{In: address{ip: "fc00::1"}, Want: "unique local address"},
		{In: address{ip: "fd12:3456::1"}, Want: "unique local address"},
		{In: address{ip: "fd00:ec2::254"}, Want: "cloud metadata address"},

		// Multicast, broadcast, reserved and other special ranges.
		{In: address{ip: "224.0.0.1"}, Want: "multicast address"},
		{In: address{ip: "239.255.255.250"}, Want: "multicast address"},
		{In: address{ip: "ff02::1"}, Want: "multicast address"},
		{In: address{ip: "255.255.255.255"}, Want: "broadcast address"},
		{In: address{ip: "240.0.0.1"}, Want: "reserved address"},
		{In: address{ip: "192.0.0.170"}, Want: "IETF protocol assignment"},
		{In: address{ip: "198.18.0.1"}, Want: "benchmarking address"},
		{In: address{ip: "198.19.255.255"}, Want: "benchmarking address"},
		{In: address{ip: "192.0.2.1"}, Want: "documentation address"},
		{In: address{ip: "198.51.100.1"}, Want: "documentation address"},
		{In: address{ip: "203.0.113.1"}, Want: "documentation address"},
		{In: address{ip: "2001:db8::1"}, Want: "documentation address"},
		{In: address{ip: "2001::1"}, Want: "Teredo tunnel address"},
		{In: address{ip: "100::1"}, Want: "discard-only address"},
		{In: address{ip: "fec0::1"}, Want: "site-local address (deprecated)"},
		{In: address{ip: "::7f00:1"}, Want: "IPv4-compatible address (deprecated)"},
		{In: address{ip: "4000::1"}, Want: "reserved IPv6 address"},

		// IPv6 forms of IPv4 addresses.
		{In: address{ip: "::ffff:127.0.0.1"}, Want: "loopback address"},
		{In: address{ip: "::ffff:10.0.0.1"}, Want: "private address (RFC 1918)"},
		{In: address{ip: "::ffff:169.254.169.254"}, Want: "cloud metadata address"},
		{In: address{ip: "64:ff9b::7f00:1"}, Want: "NAT64 address embedding 127.0.0.1: loopback address"},
		{In: address{ip: "64:ff9b::a9fe:a9fe"}, Want: "NAT64 address embedding 169.254.169.254: cloud metadata address"},
		{In: address{ip: "64:ff9b:1::1"}, Want: "local-use NAT64 address"},
		{In: address{ip: "2002:7f00:1::"}, Want: "6to4 address embedding 127.0.0.1: loopback address"},
		{In: address{ip: "2002:c0a8:101::1"}, Want: "6to4 address embedding 192.168.1.1: private address (RFC 1918)"},

		// Networks opened by the operator.
		{In: address{ip: "127.0.0.1", allow: "127.0.0.0/8"}},
		{In: address{ip: "::ffff:127.0.0.1", allow: "127.0.0.0/8"}},
		{In: address{ip: "::1", allow: "127.0.0.0/8"}, Want: "loopback address"},
		{In: address{ip: "::1", allow: "::1"}},
		{In: address{ip: "10.1.2.3", allow: "10.1.0.0/16, 192.168.0.0/16"}},
		{In: address{ip: "10.2.0.1", allow: "10.1.0.0/16"}, Want: "private address (RFC 1918)"},
		{In: address{ip: "169.254.169.254", allow: "10.0.0.0/8"}, Want: "cloud metadata address"},
		{In: address{ip: "fd00::5", allow: "fd00::/8"}},
		{In: address{ip: "64:ff9b::a00:1", allow: "10.0.0.0/8"}},
		{In: address{ip: "2002:a00:1::1", allow: "10.0.0.0/8"}},
	})
}

func TestCheckInvalidAddress(t *testing.T) {
	t.Parallel()

	g := New(Config{Allow: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}})
	if err := g.Check(netip.Addr{}); !IsBlocked(err) {
		t.Errorf("Check(zero Addr) = %v, want a *BlockedError", err)
	}
}

func TestBlockedErrorMessage(t *testing.T) {
	t.Parallel()

	tabletest.Func(t, "Error", (*BlockedError).Error, []tabletest.Case[*BlockedError, string]{
		{
			Name: "HostName",
			In:   &BlockedError{Host: "localhost", IP: netip.MustParseAddr("127.0.0.1"), Reason: "loopback address"},
			Want: "destination 127.0.0.1 (localhost) is blocked: loopback address; allow it with FLOWD_ALLOW_NETWORKS",
		},
		{
			Name: "IPOnly",
			In:   &BlockedError{IP: netip.MustParseAddr("10.0.0.1"), Reason: "private address (RFC 1918)"},
			Want: "destination 10.0.0.1 is blocked: private address (RFC 1918); allow it with FLOWD_ALLOW_NETWORKS",
		},
	})
}
