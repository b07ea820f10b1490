package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
)

// DialContext connects to addr ("host:port") on network ("tcp", "tcp4",
// "tcp6", "udp", "udp4" or "udp6") if the destination is allowed. It has the
// signature of net.Dialer.DialContext, for use in an http.Transport.
//
// A host name is resolved with Config.Resolver, every resolved address is
// checked, and only allowed addresses are dialled, each one as the IP
// literal that was checked, so a second resolution (DNS rebinding) cannot
// change the destination. The dialer's Control hook checks the address of
// the socket once more before it connects. When no resolved address is
// allowed the error is a *BlockedError naming the host.
func (g *Guard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var ipNetwork string
	switch network {
	case "tcp", "udp":
		ipNetwork = "ip"
	case "tcp4", "udp4":
		ipNetwork = "ip4"
	case "tcp6", "udp6":
		ipNetwork = "ip6"
	default:
		return nil, fmt.Errorf("dial %s %s: network not supported by netguard", network, addr)
	}
	host, portString, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s %s: %w", network, addr, err)
	}
	if host == "" {
		return nil, fmt.Errorf("dial %s %s: missing host", network, addr)
	}

	ctx, cancel := context.WithTimeout(ctx, g.dialTimeout)
	defer cancel()

	port, err := g.lookupPort(ctx, network, portString)
	if err != nil {
		return nil, fmt.Errorf("dial %s %s: %w", network, addr, err)
	}
	ips, err := g.lookupHost(ctx, ipNetwork, host)
	if err != nil {
		return nil, fmt.Errorf("dial %s %s: %w", network, addr, err)
	}

	var firstBlocked error
	var allowed []netip.Addr
	for _, ip := range ips {
		if err := g.Check(ip); err != nil {
			if firstBlocked == nil {
				err.(*BlockedError).Host = hostName(host, ip)
				firstBlocked = err
			}
			continue
		}
		allowed = append(allowed, ip)
	}
	if len(allowed) == 0 {
		if firstBlocked == nil {
			return nil, fmt.Errorf("dial %s %s: no addresses for host", network, addr)
		}
		return nil, firstBlocked
	}

	dialer := &net.Dialer{Control: g.control(host)}
	var firstErr error
	for _, ip := range allowed {
		conn, err := dialer.DialContext(ctx, network, netip.AddrPortFrom(ip, port).String())
		if err == nil {
			return conn, nil
		}
		if firstErr == nil || IsBlocked(err) && !IsBlocked(firstErr) {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, firstErr
}

// lookupHost returns the addresses of host, which may be an IP literal.
func (g *Guard) lookupHost(ctx context.Context, ipNetwork, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip.Unmap()}, nil
	}
	ips, err := g.resolver.LookupNetIP(ctx, ipNetwork, host)
	if err != nil {
		return nil, err
	}
	for i, ip := range ips {
		ips[i] = ip.Unmap()
	}
	return ips, nil
}

// lookupPort returns the port number of a numeric port or service name.
func (g *Guard) lookupPort(ctx context.Context, network, port string) (uint16, error) {
	if n, err := strconv.ParseUint(port, 10, 16); err == nil {
		return uint16(n), nil
	}
	n, err := g.resolver.LookupPort(ctx, network, port)
	if err != nil {
		return 0, err
	}
	return uint16(n), nil
}

// control returns a net.Dialer Control hook that checks the address the
// socket is about to connect to.
func (g *Guard) control(host string) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		addrPort, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("check connected address %q: %w", address, err)
		}
		if err := g.Check(addrPort.Addr()); err != nil {
			var blocked *BlockedError
			if errors.As(err, &blocked) {
				blocked.Host = hostName(host, blocked.IP)
			}
			return err
		}
		return nil
	}
}

// hostName returns the host name to report for ip, or "" when host is just
// ip written out.
func hostName(host string, ip netip.Addr) string {
	if parsed, err := netip.ParseAddr(host); err == nil && parsed.Unmap() == ip.Unmap() {
		return ""
	}
	return host
}
