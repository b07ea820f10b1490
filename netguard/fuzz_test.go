package netguard

import (
	"slices"
	"strings"
	"testing"
)

// FuzzParseAllowList checks that every parsed prefix is valid and masked,
// and that writing the list out and parsing it again gives the same list.
func FuzzParseAllowList(f *testing.F) {
	f.Add("127.0.0.0/8, 10.1.2.3 ,::1,fd00::/8")
	f.Add("10.1.2.3/8,,")
	f.Add("::ffff:10.0.0.0/104")
	f.Fuzz(func(t *testing.T, s string) {
		prefixes, err := ParseAllowList(s)
		if err != nil {
			return
		}
		var written []string
		for _, p := range prefixes {
			if !p.IsValid() || p != p.Masked() {
				t.Fatalf("ParseAllowList(%q) gave %v, not a valid masked prefix", s, p)
			}
			written = append(written, p.String())
		}
		again, err := ParseAllowList(strings.Join(written, ","))
		if err != nil || !slices.Equal(prefixes, again) {
			t.Fatalf("ParseAllowList(%q) = %v, reparsed as %v (err %v)", s, prefixes, again, err)
		}
	})
}
