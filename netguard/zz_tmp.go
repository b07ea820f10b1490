package netguard

// TEMPORARY stub of helper-2's contract; deleted on merge.

import (
	"net/http"
	"net/netip"
)

func IsBlocked(err error) bool { return false }

type Config struct {
	Allow        []netip.Prefix
	MaxRedirects int
}
type Guard struct{}

func New(cfg Config) *Guard                                { return &Guard{} }
func ParseAllowList(s string) ([]netip.Prefix, error)      { return nil, nil }
func (g *Guard) Client() *http.Client                      { return http.DefaultClient }
