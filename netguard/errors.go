package netguard

import (
	"errors"
	"fmt"
	"net/netip"
)

// BlockedError reports a destination the Guard refused to connect to.
type BlockedError struct {
	// Host is the host name that was asked for, or empty when the address
	// was given directly.
	Host string
	// IP is the refused address.
	IP netip.Addr
	// Reason says why the address is refused, such as "loopback address".
	Reason string
}

// Error returns a message that names the destination, the reason and how an
// operator can open the network.
func (e *BlockedError) Error() string {
	dest := e.IP.String()
	if e.Host != "" && e.Host != dest {
		dest += " (" + e.Host + ")"
	}
	return fmt.Sprintf("destination %s is blocked: %s; allow it with FLOWD_ALLOW_NETWORKS", dest, e.Reason)
}

// IsBlocked reports whether err, or any error it wraps (such as a *url.Error
// returned by an http.Client), is a *BlockedError.
func IsBlocked(err error) bool {
	var blocked *BlockedError
	return errors.As(err, &blocked)
}
