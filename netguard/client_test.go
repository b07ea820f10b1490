package netguard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type testBundle struct {
	server   *httptest.Server
	port     string
	requests *atomic.Int64
}

// setup starts an HTTP server on 127.0.0.1. "/" answers "ok";
// "/redirect?to=URL" redirects to URL; "/hops/N" redirects to "/hops/N-1"
// until N is 0, then answers "ok".
func setup(t *testing.T) *testBundle {
	t.Helper()

	var requests atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	})
	mux.HandleFunc("/hops/{n}", func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		n, _ := strconv.Atoi(r.PathValue("n"))
		if n <= 0 {
			io.WriteString(w, "ok")
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/hops/%d", n-1), http.StatusFound)
	})
	server := httptest.NewServer(mux)
	t.Cleanup(server.Close)

	_, port, err := net.SplitHostPort(server.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return &testBundle{server: server, port: port, requests: &requests}
}

// newGuard returns a Guard for cfg with Allow parsed from allow, and closes
// its idle connections when the test ends.
func newGuard(t *testing.T, allow string, cfg Config) *Guard {
	t.Helper()

	prefixes, err := ParseAllowList(allow)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Allow = prefixes
	g := New(cfg)
	t.Cleanup(g.Transport().CloseIdleConnections)
	return g
}

// get fetches url with g's client and describes the outcome: the status and
// body, the blocked error, or "error: " and any other error.
func get(t *testing.T, g *Guard, url string) string {
	t.Helper()

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := g.Client().Do(req)
	if err != nil {
		var blocked *BlockedError
		if errors.As(err, &blocked) {
			return "blocked: " + blocked.Error()
		}
		return "error: " + err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d %s", resp.StatusCode, body)
}

// blocked is the outcome get reports for a refused destination.
func blocked(ip, host, reason string) string {
	err := &BlockedError{Host: host, IP: netip.MustParseAddr(ip), Reason: reason}
	return "blocked: " + err.Error()
}

// clientCase is a GET through a Guard to the server of setup.
type clientCase struct {
	name string
	// host is the URL's host; "" means 127.0.0.1.
	host string
	// answers, if any, are what every name resolves to.
	answers      []string
	allow        string
	maxRedirects int
	// path follows the port in the URL ("" means "/"); %s in it is
	// replaced by the server's port.
	path string
	// want is get's outcome, the server's port written as PORT.
	want         string
	wantRequests int64
}

// testClient runs each case in a parallel subtest with its own server.
func testClient(t *testing.T, tests []clientCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			bundle := setup(t)
			cfg := Config{MaxRedirects: tt.maxRedirects}
			if tt.answers != nil {
				var answers []netip.Addr
				for _, a := range tt.answers {
					answers = append(answers, netip.MustParseAddr(a))
				}
				cfg.Resolver = startDNS(t, answers...)
			}
			g := newGuard(t, tt.allow, cfg)
			host, path := tt.host, strings.ReplaceAll(tt.path, "%s", bundle.port)
			if host == "" {
				host = "127.0.0.1"
			}
			if path == "" {
				path = "/"
			}
			got := get(t, g, "http://"+host+":"+bundle.port+path)
			got = strings.ReplaceAll(got, bundle.port, "PORT")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("GET %s%s resolving to %v mismatch (-want +got):\n%s", host, path, tt.answers, diff)
			}
			if diff := cmp.Diff(tt.wantRequests, bundle.requests.Load()); diff != "" {
				t.Errorf("requests served mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestClientLoopbackServer(t *testing.T) {
	t.Parallel()

	testClient(t, []clientCase{
		{name: "RefusedByDefault", host: "127.0.0.1", want: blocked("127.0.0.1", "", "loopback address")},
		{name: "Allowed", host: "127.0.0.1", allow: "127.0.0.0/8", want: "200 ok", wantRequests: 1},
		{name: "AllowedSingleAddress", host: "127.0.0.1", allow: "127.0.0.1", want: "200 ok", wantRequests: 1},
		{name: "OtherNetworkAllowed", host: "127.0.0.1", allow: "10.0.0.0/8", want: blocked("127.0.0.1", "", "loopback address")},
		{name: "LocalhostRefused", host: "localhost", want: blocked("127.0.0.1", "localhost", "loopback address")},
		{name: "LocalhostAllowed", host: "localhost", allow: "127.0.0.0/8", want: "200 ok", wantRequests: 1},
		{name: "MappedRefused", host: "[::ffff:127.0.0.1]", want: blocked("127.0.0.1", "", "loopback address")},
		{name: "MappedAllowed", host: "[::ffff:127.0.0.1]", allow: "127.0.0.0/8", want: "200 ok", wantRequests: 1},
		{name: "IPv6LoopbackRefused", host: "[::1]", allow: "127.0.0.0/8", want: blocked("::1", "", "loopback address")},
	})
}

func TestClientResolver(t *testing.T) {
	t.Parallel()

	const host = "app.flowd.test"
	testClient(t, []clientCase{
		{name: "Private", host: host, answers: []string{"10.0.0.5"}, want: blocked("10.0.0.5", host, "private address (RFC 1918)")},
		{name: "Metadata", host: host, answers: []string{"169.254.169.254"}, allow: "10.0.0.0/8", want: blocked("169.254.169.254", host, "cloud metadata address")},
		{name: "LoopbackRefused", host: host, answers: []string{"127.0.0.1"}, want: blocked("127.0.0.1", host, "loopback address")},
		{name: "LoopbackAllowed", host: host, answers: []string{"127.0.0.1"}, allow: "127.0.0.0/8", want: "200 ok", wantRequests: 1},
		// Only the allowed address is dialled; 10.0.0.5 never sees a packet.
		{name: "MixedDialsOnlyAllowed", host: host, answers: []string{"10.0.0.5", "127.0.0.1"}, allow: "127.0.0.0/8", want: "200 ok", wantRequests: 1},
		{name: "AllBlocked", host: host, answers: []string{"10.0.0.5", "192.168.0.5"}, want: blocked("10.0.0.5", host, "private address (RFC 1918)")},
	})
}

// TestClientRedirects follows redirects from 127.0.0.1, where any other
// name resolves to 10.0.0.5.
func TestClientRedirects(t *testing.T) {
	t.Parallel()

	private := []string{"10.0.0.5"}
	testClient(t, []clientCase{
		{
			name:         "ToAllowedHost",
			answers:      private,
			allow:        "127.0.0.1/32",
			path:         "/redirect?to=http://127.0.0.1:%s/",
			want:         "200 ok",
			wantRequests: 2,
		},
		{
			name:         "ToOtherLoopbackAddress",
			answers:      private,
			allow:        "127.0.0.1/32",
			path:         "/redirect?to=http://127.0.0.2:%s/",
			want:         blocked("127.0.0.2", "", "loopback address"),
			wantRequests: 1,
		},
		{
			name:         "ToIPv6Loopback",
			answers:      private,
			allow:        "127.0.0.1/32",
			path:         "/redirect?to=http://[::1]:%s/",
			want:         blocked("::1", "", "loopback address"),
			wantRequests: 1,
		},
		{
			// Checked when dialled: the name resolves to 10.0.0.5.
			name:         "ToHostResolvingPrivate",
			answers:      private,
			allow:        "127.0.0.1/32",
			path:         "/redirect?to=http://internal.flowd.test:%s/",
			want:         blocked("10.0.0.5", "internal.flowd.test", "private address (RFC 1918)"),
			wantRequests: 1,
		},
		{
			name:         "ToMetadata",
			answers:      private,
			allow:        "127.0.0.1/32",
			path:         "/redirect?to=http://169.254.169.254/latest/meta-data/",
			want:         blocked("169.254.169.254", "", "cloud metadata address"),
			wantRequests: 1,
		},
		{
			name:         "ToOtherScheme",
			answers:      private,
			allow:        "127.0.0.1/32",
			path:         "/redirect?to=ftp://127.0.0.1:%s/",
			want:         `error: Get "ftp://127.0.0.1:PORT/": refuse redirect to "ftp://127.0.0.1:PORT/": scheme "ftp" is not http or https`,
			wantRequests: 1,
		},
		{
			name:         "DefaultLimitReached",
			answers:      private,
			allow:        "127.0.0.1/32",
			path:         "/hops/5",
			want:         "200 ok",
			wantRequests: 6,
		},
		{
			name:         "DefaultLimitExceeded",
			answers:      private,
			allow:        "127.0.0.1/32",
			path:         "/hops/6",
			want:         `error: Get "/hops/0": stopped after 5 redirects`,
			wantRequests: 6,
		},
		{
			name:         "CustomLimitExceeded",
			answers:      private,
			allow:        "127.0.0.1/32",
			maxRedirects: 2,
			path:         "/hops/100",
			want:         `error: Get "/hops/97": stopped after 2 redirects`,
			wantRequests: 3,
		},
		{
			name:         "FollowNone",
			answers:      private,
			allow:        "127.0.0.1/32",
			maxRedirects: -1,
			path:         "/hops/3",
			want:         "302 <a href=\"/hops/2\">Found</a>.\n\n",
			wantRequests: 1,
		},
	})
}

func TestDialContextErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		network string
		addr    string
		want    string
	}{
		{name: "UnixSocket", network: "unix", addr: "/run/flowd.sock", want: "dial unix /run/flowd.sock: network not supported by netguard"},
		{name: "MissingHost", network: "tcp", addr: ":80", want: "dial tcp :80: missing host"},
		{name: "MissingPort", network: "tcp", addr: "127.0.0.1", want: "dial tcp 127.0.0.1: address 127.0.0.1: missing port in address"},
		{name: "Loopback", network: "tcp", addr: "127.0.0.1:80", want: "destination 127.0.0.1 is blocked: loopback address; allow it with FLOWD_ALLOW_NETWORKS"},
		{name: "UDPPrivate", network: "udp", addr: "10.0.0.1:53", want: "destination 10.0.0.1 is blocked: private address (RFC 1918); allow it with FLOWD_ALLOW_NETWORKS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			g := New(Config{})
			conn, err := g.DialContext(t.Context(), tt.network, tt.addr)
			if err == nil {
				conn.Close()
				t.Fatalf("DialContext(%s, %s) succeeded, want an error", tt.network, tt.addr)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("DialContext(%s, %s) error mismatch (-want +got):\n%s", tt.network, tt.addr, diff)
			}
		})
	}
}

// TestControl checks the last line of defence directly: the Control hook
// refuses a socket about to connect to a blocked address.
func TestControl(t *testing.T) {
	t.Parallel()

	tests := []struct {
		address string
		want    string
	}{
		{address: "127.0.0.1:80", want: "destination 127.0.0.1 (app.flowd.test) is blocked: loopback address; allow it with FLOWD_ALLOW_NETWORKS"},
		{address: "[fe80::1%eth0]:80", want: "destination fe80::1 (app.flowd.test) is blocked: link-local address; allow it with FLOWD_ALLOW_NETWORKS"},
		{address: "10.9.0.1:443", want: ""},
		{address: "8.8.8.8:443", want: ""},
		{address: "nonsense", want: `check connected address "nonsense": not an ip:port`},
	}
	for _, tt := range tests {
		t.Run(tt.address, func(t *testing.T) {
			t.Parallel()

			g := New(Config{Allow: []netip.Prefix{netip.MustParsePrefix("10.9.0.0/16")}})
			var got string
			if err := g.control("app.flowd.test")("tcp", tt.address, nil); err != nil {
				got = err.Error()
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("control(%s) mismatch (-want +got):\n%s", tt.address, diff)
			}
		})
	}
}

func TestTransportAndClient(t *testing.T) {
	t.Parallel()

	g := New(Config{})
	tr := g.Transport()
	type settings struct {
		Proxy                                   bool
		MaxIdleConns, MaxIdleConnsPerHost       int
		IdleConnTimeout, TLSHandshakeTimeout    time.Duration
		ForceAttemptHTTP2, Shared, ClientShared bool
		ClientTimeout                           time.Duration
	}
	got := settings{
		Proxy:               tr.Proxy != nil,
		MaxIdleConns:        tr.MaxIdleConns,
		MaxIdleConnsPerHost: tr.MaxIdleConnsPerHost,
		IdleConnTimeout:     tr.IdleConnTimeout,
		TLSHandshakeTimeout: tr.TLSHandshakeTimeout,
		ForceAttemptHTTP2:   tr.ForceAttemptHTTP2,
		Shared:              g.Transport() == tr,
		ClientShared:        g.Client().Transport == tr && g.Client() == g.Client(),
		ClientTimeout:       g.Client().Timeout,
	}
	want := settings{
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
		ForceAttemptHTTP2:   true,
		Shared:              true,
		ClientShared:        true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("transport settings mismatch (-want +got):\n%s", diff)
	}
}
