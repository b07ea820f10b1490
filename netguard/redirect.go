package netguard

import (
	"fmt"
	"net/http"
	"net/netip"
)

// CheckRedirect decides whether an http.Client follows a redirect to req,
// after the requests in via. It has the signature of
// http.Client.CheckRedirect.
//
// It refuses schemes other than http and https, refuses an IP-literal host
// that Check refuses (a host name is checked when it is dialled, like every
// other connection), and stops after Config.MaxRedirects redirects with an
// error. With a negative MaxRedirects it returns http.ErrUseLastResponse, so
// the client returns the redirect response itself.
func (g *Guard) CheckRedirect(req *http.Request, via []*http.Request) error {
	if g.maxRedirects < 0 {
		return http.ErrUseLastResponse
	}
	if len(via) > g.maxRedirects {
		return fmt.Errorf("stopped after %d redirects", g.maxRedirects)
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return fmt.Errorf("refuse redirect to %q: scheme %q is not http or https", req.URL.Redacted(), req.URL.Scheme)
	}
	if ip, err := netip.ParseAddr(req.URL.Hostname()); err == nil {
		if err := g.Check(ip); err != nil {
			return err
		}
	}
	return nil
}
