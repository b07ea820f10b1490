package auth

import "time"

// SetClock makes a use now as its clock (for the cache's expiry).
func (a *Authenticator) SetClock(now func() time.Time) { a.now = now }
