// Package keyring seals flowd's secrets at rest: AES-256-GCM from the
// standard library, a random nonce per value, and the id of the key that
// sealed a value written beside its ciphertext, so that several keys can
// be configured at once (the first seals, every one opens) and a key can be
// rotated without downtime.
//
// A sealed value is text: "fdenc:1:<key id>:<base64url(nonce|ciphertext)>".
// It fits a text column or a JSON string, and IsSealed tells it apart from
// a value written in clear by an older flowd.
//
// The package must not do I/O beyond reading a key file it is pointed at,
// must not log, and must never put a plaintext or a key in an error.
package keyring
