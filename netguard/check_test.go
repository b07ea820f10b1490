package netguard

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowd/flowd/internal/tabletest"
)

// These tests only classify addresses; nothing is sent to them.
func TestCheck(t *testing.T) {
	t.Parallel()

	tests := []struct {
		ip    string
		allow string
		want  string // blocked reason, or "" when allowed
	}{
		// Public addresses.
		{ip: "8.8.8.8"},
		{ip: "1.1.1.1"},
		{ip: "2001:4860::8888"},
		{ip: "2606:4700:4700::1111"},
		{ip: "::ffff:8.8.8.8"},
		{ip: "64:ff9b::808:808"}, // NAT64 of 8.8.8.8
		{ip: "2002:808:808::1"},  // 6to4 of 8.8.8.8
		{ip: "172.32.0.1"},       // just past 172.16/12
		{ip: "100.128.0.1"},      // just past 100.64/10
		{ip: "198.20.0.1"},       // just past 198.18/15
		{ip: "223.255.255.255"},  // just before multicast

		// Loopback and unspecified.
		{ip: "127.0.0.1", want: "loopback address"},
		{ip: "127.255.255.254", want: "loopback address"},
		{ip: "::1", want: "loopback address"},
		{ip: "0.0.0.0", want: "unspecified address"},
		{ip: "0.1.2.3", want: "unspecified address"},
		{ip: "::", want: "unspecified address"},

		// RFC 1918, CGNAT, link-local and metadata.
		{ip: "10.0.0.1", want: "private address (RFC 1918)"},
		{ip: "10.255.255.255", want: "private address (RFC 1918)"},
		{ip: "172.16.0.1", want: "private address (RFC 1918)"},
		{ip: "172.31.255.255", want: "private address (RFC 1918)"},
		{ip: "192.168.1.1", want: "private address (RFC 1918)"},
		{ip: "100.64.0.1", want: "shared address space (carrier-grade NAT)"},
		{ip: "100.100.100.200", want: "shared address space (carrier-grade NAT)"},
		{ip: "169.254.169.254", want: "cloud metadata address"},
		{ip: "169.254.1.1", want: "link-local address"},
		{ip: "fe80::1", want: "link-local address"},
		{ip: "fe80::1%eth0", want: "link-local address"},
		{ip: "fc00::1", want: "unique local address"},
		{ip: "fd12:3456::1", want: "unique local address"},
		{ip: "fd00:ec2::254", want: "cloud metadata address"},

		// Multicast, broadcast, reserved and other special ranges.
		{ip: "224.0.0.1", want: "multicast address"},
		{ip: "239.255.255.250", want: "multicast address"},
		{ip: "ff02::1", want: "multicast address"},
		{ip: "255.255.255.255", want: "broadcast address"},
		{ip: "240.0.0.1", want: "reserved address"},
		{ip: "192.0.0.170", want: "IETF protocol assignment"},
		{ip: "198.18.0.1", want: "benchmarking address"},
		{ip: "198.19.255.255", want: "benchmarking address"},
		{ip: "192.0.2.1", want: "documentation address"},
		{ip: "198.51.100.1", want: "documentation address"},
		{ip: "203.0.113.1", want: "documentation address"},
		{ip: "2001:db8::1", want: "documentation address"},
		{ip: "2001::1", want: "Teredo tunnel address"},
		{ip: "100::1", want: "discard-only address"},
		{ip: "fec0::1", want: "site-local address (deprecated)"},
		{ip: "::7f00:1", want: "IPv4-compatible address (deprecated)"},
		{ip: "4000::1", want: "reserved IPv6 address"},

		// IPv6 forms of IPv4 addresses.
		{ip: "::ffff:127.0.0.1", want: "loopback address"},
		{ip: "::ffff:10.0.0.1", want: "private address (RFC 1918)"},
		{ip: "::ffff:169.254.169.254", want: "cloud metadata address"},
		{ip: "64:ff9b::7f00:1", want: "NAT64 address embedding 127.0.0.1: loopback address"},
		{ip: "64:ff9b::a9fe:a9fe", want: "NAT64 address embedding 169.254.169.254: cloud metadata address"},
		{ip: "64:ff9b:1::1", want: "local-use NAT64 address"},
		{ip: "2002:7f00:1::", want: "6to4 address embedding 127.0.0.1: loopback address"},
		{ip: "2002:c0a8:101::1", want: "6to4 address embedding 192.168.1.1: private address (RFC 1918)"},

		// Networks opened by the operator.
		{ip: "127.0.0.1", allow: "127.0.0.0/8"},
		{ip: "::ffff:127.0.0.1", allow: "127.0.0.0/8"},
		{ip: "::1", allow: "127.0.0.0/8", want: "loopback address"},
		{ip: "::1", allow: "::1"},
		{ip: "10.1.2.3", allow: "10.1.0.0/16, 192.168.0.0/16"},
		{ip: "10.2.0.1", allow: "10.1.0.0/16", want: "private address (RFC 1918)"},
		{ip: "169.254.169.254", allow: "10.0.0.0/8", want: "cloud metadata address"},
		{ip: "fd00::5", allow: "fd00::/8"},
		{ip: "64:ff9b::a00:1", allow: "10.0.0.0/8"},
		{ip: "2002:a00:1::1", allow: "10.0.0.0/8"},
	}
	for _, tt := range tests {
		t.Run(tt.ip+"_allow_"+tt.allow, func(t *testing.T) {
			t.Parallel()

			allow, err := ParseAllowList(tt.allow)
			if err != nil {
				t.Fatal(err)
			}
			g := New(Config{Allow: allow})
			var got string
			if err := g.Check(netip.MustParseAddr(tt.ip)); err != nil {
				if !IsBlocked(err) {
					t.Fatalf("Check(%s) = %v, not a *BlockedError", tt.ip, err)
				}
				got = err.(*BlockedError).Reason
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Check(%s) with allow %q reason mismatch (-want +got):\n%s", tt.ip, tt.allow, diff)
			}
		})
	}
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
