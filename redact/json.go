package redact

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// JSON returns a copy of the JSON document raw in which the value of every
// object key with a sensitive name (see SensitiveName), at any depth, is
// replaced by the string Mask (a null stays null), and secrets inside the
// remaining strings and keys are masked as by String. Keys keep their order
// and numbers their digits; the output is compact. Input that is not a
// single valid JSON value is masked as plain text by String.
func JSON(raw []byte, secrets []string) []byte { return NewMasker(secrets).JSON(raw) }

// JSON is JSON with the Masker's secrets.
//
// It walks the document with gjson, which hands out each key and string
// decoded and each other value as written, without allocating per token
// (encoding/json's Decoder.Token made and discarded an error value for
// every string and number: the most frequent allocation of a step's
// attempt in the benchmark).
func (m *Masker) JSON(raw []byte) []byte {
	if len(raw) == 0 {
		return raw
	}
	if !json.Valid(raw) {
		return []byte(m.String(string(raw)))
	}
	w := &jsonWriter{replacer: m.replacer}
	w.out.Grow(len(raw))
	w.value(gjson.ParseBytes(raw))
	return w.out.Bytes()
}

// jsonWriter writes a masked copy of a document to out.
type jsonWriter struct {
	out      bytes.Buffer
	replacer *strings.Replacer
}

// value writes one JSON value.
func (w *jsonWriter) value(v gjson.Result) {
	switch {
	case v.IsObject():
		w.object(v)
	case v.IsArray():
		w.array(v)
	case v.Type == gjson.String:
		w.writeString(v.Str)
	default: // a number (its digits as written), true, false or null
		w.out.WriteString(v.Raw)
	}
}

// object writes an object, masking the values of its sensitive keys.
func (w *jsonWriter) object(v gjson.Result) {
	w.out.WriteByte('{')
	first := true
	v.ForEach(func(key, val gjson.Result) bool {
		if !first {
			w.out.WriteByte(',')
		}
		first = false
		w.writeString(key.Str)
		w.out.WriteByte(':')
		switch {
		case !SensitiveName(key.Str):
			w.value(val)
		case val.Type == gjson.Null:
			w.out.WriteString("null")
		default:
			w.writeString(Mask)
		}
		return true
	})
	w.out.WriteByte('}')
}

// array writes an array.
func (w *jsonWriter) array(v gjson.Result) {
	w.out.WriteByte('[')
	first := true
	v.ForEach(func(_, val gjson.Result) bool {
		if !first {
			w.out.WriteByte(',')
		}
		first = false
		w.value(val)
		return true
	})
	w.out.WriteByte(']')
}

// writeString writes s, with secrets masked, as a JSON string without HTML
// escaping, escaped as encoding/json escapes it.
func (w *jsonWriter) writeString(s string) {
	if w.replacer != nil {
		s = w.replacer.Replace(s)
	}
	if plainString(s) {
		w.out.WriteByte('"')
		w.out.WriteString(s)
		w.out.WriteByte('"')
		return
	}
	enc := json.NewEncoder(&w.out)
	enc.SetEscapeHTML(false)
	// Encoding a string cannot fail; Encode ends it with a newline.
	enc.Encode(s)
	w.out.Truncate(w.out.Len() - 1)
}

// plainString reports whether s is valid UTF-8 needing no escape in JSON
// (no control character, quote or backslash, and no U+2028 or U+2029,
// which encoding/json escapes).
func plainString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			return plainUnicode(s[i:])
		}
	}
	return true
}

// plainUnicode is plainString for the rest of a string that has reached
// a byte plainString's ASCII loop does not decide.
func plainUnicode(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == '"' || r == '\\' || r == utf8.RuneError || r == '\u2028' || r == '\u2029' {
			return false
		}
	}
	return true
}
