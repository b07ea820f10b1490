package netguard

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
)

// startDNS starts a UDP DNS server on loopback that answers every A query
// with answers (and every other query with no records), and returns a
// resolver that asks only that server. It exists so tests can make any name
// resolve to any address without traffic leaving the machine.
func startDNS(t *testing.T, answers ...netip.Addr) *net.Resolver {
	t.Helper()

	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			if reply := dnsReply(buf[:n], answers); reply != nil {
				conn.WriteTo(reply, from)
			}
		}
	}()

	addr := conn.LocalAddr().String()
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", addr)
		},
	}
}

// dnsReply builds the response to one query: header, the question echoed,
// and an A record per answer when the question asks for A.
func dnsReply(query []byte, answers []netip.Addr) []byte {
	if len(query) < 12 {
		return nil
	}
	end := 12 // the question's name is a sequence of labels ending in 0
	for end < len(query) && query[end] != 0 {
		end += int(query[end]) + 1
	}
	end += 5 // the terminating 0, QTYPE and QCLASS
	if end > len(query) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(query[end-4:])

	reply := append([]byte(nil), query[:2]...)                // ID
	reply = append(reply, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0) // QR RD RA, 1 question
	reply = append(reply, query[12:end]...)
	if qtype != 1 {
		return reply
	}
	for _, ip := range answers {
		a := ip.As4()
		reply = append(reply, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4) // name pointer, A, IN, TTL 60, 4 bytes
		reply = append(reply, a[:]...)
	}
	binary.BigEndian.PutUint16(reply[6:], uint16(len(answers)))
	return reply
}
