package testdb

import (
	"sync"

	"github.com/flowd/flowd/keyring"
)

// keySpec is the test process's encryption key: random, made once, so that
// every Store of a test package and every flowd process a test starts
// (KeySpec in FLOWD_ENCRYPTION_KEYS) seal and open the same way.
var keySpec = sync.OnceValue(keyring.Generate)

// KeySpec returns the test process's key entry ("id:base64"), for
// FLOWD_ENCRYPTION_KEYS of the flowd processes a test starts.
func KeySpec() string { return keySpec() }

// Keys returns the key ring of KeySpec, for store.New.
func Keys() *keyring.Ring {
	r, err := keyring.Parse(KeySpec())
	if err != nil {
		panic("parse a generated key: " + err.Error()) // Generate's output always parses
	}
	return r
}
