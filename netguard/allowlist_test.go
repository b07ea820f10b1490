package netguard

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseAllowList(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		in      string
		want    []netip.Prefix
		wantErr string // substring of the error, or "" for none
	}{
		{name: "Empty", in: "", want: nil},
		{name: "Blank", in: "  ,  ", want: nil},
		{
			name: "CIDRsAndAddresses",
			in:   "127.0.0.0/8, 10.1.2.3 ,::1,fd00::/8",
			want: []netip.Prefix{
				netip.MustParsePrefix("127.0.0.0/8"),
				netip.MustParsePrefix("10.1.2.3/32"),
				netip.MustParsePrefix("::1/128"),
				netip.MustParsePrefix("fd00::/8"),
			},
		},
		{
			name: "HostBitsCleared",
			in:   "10.1.2.3/8,",
			want: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		},
		{name: "BadAddress", in: "10.0.0.0/8, example.com", wantErr: `"example.com"`},
		{name: "BadPrefixLength", in: "10.0.0.0/33", wantErr: `"10.0.0.0/33"`},
		{name: "Zone", in: "fe80::1%eth0", wantErr: `"fe80::1%eth0"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := ParseAllowList(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseAllowList(%q) error = %v, want one naming %s", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseAllowList(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
				t.Errorf("ParseAllowList(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}
