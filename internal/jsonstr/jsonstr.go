// Package jsonstr writes JSON strings as encoding/json writes them without
// HTML escaping, without an Encoder for the strings that need no escape
// (nearly all of them).
package jsonstr

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// Append appends s to dst as a JSON string, escaped as an encoding/json
// Encoder with SetEscapeHTML(false) escapes it: control characters,
// quotes, backslashes, U+2028 and U+2029 escaped, invalid UTF-8 as
// \ufffd, everything else as it is.
func Append(dst []byte, s string) []byte {
	if plain(s) {
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	}
	buf := bytes.NewBuffer(dst)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // a string always encodes; Encode ends it with a newline
	out := buf.Bytes()
	return out[:len(out)-1]
}

// plain reports whether s is valid UTF-8 that needs no escape in a JSON
// string: no control character, quote or backslash, and no U+2028 or
// U+2029 (which encoding/json escapes).
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' {
			return false
		} else if c >= utf8.RuneSelf {
			return plainUnicode(s[i:])
		}
	}
	return true
}

// plainUnicode is plain for the rest of a string from its first byte
// outside ASCII.
func plainUnicode(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == '"' || r == '\\' || r == utf8.RuneError || r == '\u2028' || r == '\u2029' {
			return false
		}
	}
	return true
}
