package netguard

import (
	"cmp"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// Defaults used when the corresponding Config field is zero.
const (
	// MaxRedirectsDefault is the number of redirects followed when
	// Config.MaxRedirects is zero.
	MaxRedirectsDefault = 5
	// DialTimeoutDefault bounds name resolution and connecting when
	// Config.DialTimeout is zero.
	DialTimeoutDefault = 10 * time.Second
	// MaxResponseHeaderBytes bounds the header block of a response (Go's
	// own default is 10 MiB): the headers are stored on the attempt's row,
	// which must stay small (README "Size limits"). Larger fails the
	// attempt.
	MaxResponseHeaderBytes = 64 << 10
)

// Config configures a Guard. The zero value blocks every special-purpose
// network and uses the defaults.
type Config struct {
	// Allow lists networks the operator has opened (FLOWD_ALLOW_NETWORKS,
	// see ParseAllowList). An address inside one of them is allowed even if
	// it is in a blocked range.
	Allow []netip.Prefix
	// MaxRedirects is the number of redirects a Client follows. Zero means
	// MaxRedirectsDefault; a negative value means follow none (the redirect
	// response itself is returned).
	MaxRedirects int
	// Resolver resolves host names before they are checked. Nil means
	// net.DefaultResolver.
	Resolver *net.Resolver
	// DialTimeout bounds resolving and connecting, for one dial. Zero means
	// DialTimeoutDefault.
	DialTimeout time.Duration
}

// Guard checks and dials outbound connections. It is safe for concurrent
// use; create one with New and share it.
type Guard struct {
	allow        []netip.Prefix
	maxRedirects int
	resolver     *net.Resolver
	dialTimeout  time.Duration
	transport    *http.Transport
	client       *http.Client
}

// New returns a Guard for cfg. Invalid prefixes in cfg.Allow are ignored and
// host bits are cleared.
func New(cfg Config) *Guard {
	g := &Guard{
		maxRedirects: cmp.Or(cfg.MaxRedirects, MaxRedirectsDefault),
		resolver:     cmp.Or(cfg.Resolver, net.DefaultResolver),
		dialTimeout:  cmp.Or(cfg.DialTimeout, DialTimeoutDefault),
	}
	for _, p := range cfg.Allow {
		if p.IsValid() {
			g.allow = append(g.allow, p.Masked())
		}
	}
	g.transport = &http.Transport{
		Proxy:                  nil, // a proxy would dial for us, past the check
		DialContext:            g.DialContext,
		MaxIdleConns:           1024,
		MaxIdleConnsPerHost:    256,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  1 * time.Second,
		ForceAttemptHTTP2:      true,
		MaxResponseHeaderBytes: MaxResponseHeaderBytes,
	}
	g.client = &http.Client{
		Transport:     g.transport,
		CheckRedirect: g.CheckRedirect,
	}
	return g
}

// Transport returns the Guard's shared keep-alive transport, which connects
// only through DialContext and never through a proxy. Every call returns the
// same transport, so connections are pooled across callers.
func (g *Guard) Transport() *http.Transport {
	return g.transport
}

// Client returns an http.Client that uses Transport and CheckRedirect. It
// has no overall Timeout: callers bound each request with its context.
// Every call returns the same client.
func (g *Guard) Client() *http.Client {
	return g.client
}
