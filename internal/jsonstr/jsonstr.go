// Package jsonstr writes JSON strings as encoding/json writes them without
// HTML escaping, without an Encoder: the strings that need no escape
// (nearly all of them) are copied as they are, the others escaped here.
package jsonstr

import (
	"unicode/utf8"
)

// Append appends s to dst as a JSON string, escaped as an encoding/json
// Encoder with SetEscapeHTML(false) escapes it: control characters,
// quotes, backslashes, U+2028 and U+2029 escaped, invalid UTF-8 as
// \ufffd, everything else as it is (FuzzAppend holds it to that, byte
// for byte).
func Append(dst []byte, s string) []byte {
	dst = append(dst, '"')
	if plain(s) {
		dst = append(dst, s...)
		return append(dst, '"')
	}
	return append(escape(dst, s), '"')
}

const hexDigits = "0123456789abcdef"

// escape appends s escaped, without its quotes.
func escape(dst []byte, s string) []byte {
	start := 0 // s[start:i] is still to copy as it is
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
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
