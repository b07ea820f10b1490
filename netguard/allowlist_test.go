package netguard

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowd/flowd/internal/tabletest"
)

func TestParseAllowList(t *testing.T) {
	t.Parallel()

	samePrefix := cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })
	tabletest.FuncErr(t, "ParseAllowList", ParseAllowList, []tabletest.Case[string, []netip.Prefix]{
		{Name: "Empty", In: "", Want: nil},
		{Name: "Blank", In: "  ,  ", Want: nil},
		{
			Name: "CIDRsAndAddresses",
			In:   "127.0.0.0/8, 10.1.2.3 ,::1,fd00::/8",
			Want: []netip.Prefix{
				netip.MustParsePrefix("127.0.0.0/8"),
				netip.MustParsePrefix("10.1.2.3/32"),
				netip.MustParsePrefix("::1/128"),
				netip.MustParsePrefix("fd00::/8"),
			},
		},
		{
			Name: "HostBitsCleared",
			In:   "10.1.2.3/8,",
			Want: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		},
		{Name: "BadAddress", In: "10.0.0.0/8, example.com", Err: `"example.com"`},
		{Name: "BadPrefixLength", In: "10.0.0.0/33", Err: `"10.0.0.0/33"`},
		{Name: "Zone", In: "fe80::1%eth0", Err: `"fe80::1%eth0"`},
	}, samePrefix)
}
