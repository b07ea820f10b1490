// Package auth is flowd's one token check. It makes API tokens (NewToken,
// CreateToken), hashes them (HashToken: only the hash is
// stored), and turns the token a request presents into the Principal it
// acts for (Authenticator.Authenticate), remembering recent answers for
// CacheTTL. The HTTP API (package api) and the operator pages (package
// web) both authenticate through it, so a rule added here (scopes, expiry,
// revocation) holds for both.
//
// It must not read HTTP requests (each caller takes the token from its own
// header: Bearer for the API, Basic or Bearer for the pages), hold SQL
// (package store), or log a token.
package auth
