package redact

import (
	"encoding/json"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/flowd/flowd/internal/jsonstr"
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
	w := &jsonWriter{out: make([]byte, 0, len(raw)), replacer: m.replacer}
	w.value(gjson.ParseBytes(raw))
	return w.out
}

// jsonWriter writes a masked copy of a document to out.
type jsonWriter struct {
	out      []byte
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
		w.out = append(w.out, v.Raw...)
	}
}

// object writes an object, masking the values of its sensitive keys.
func (w *jsonWriter) object(v gjson.Result) {
	w.out = append(w.out, '{')
	first := true
	v.ForEach(func(key, val gjson.Result) bool {
		if !first {
			w.out = append(w.out, ',')
		}
		first = false
		w.writeString(key.Str)
		w.out = append(w.out, ':')
		switch {
		case !SensitiveName(key.Str):
			w.value(val)
		case val.Type == gjson.Null:
			w.out = append(w.out, "null"...)
		default:
			w.writeString(Mask)
		}
		return true
	})
	w.out = append(w.out, '}')
}

// array writes an array.
func (w *jsonWriter) array(v gjson.Result) {
	w.out = append(w.out, '[')
	first := true
	v.ForEach(func(_, val gjson.Result) bool {
		if !first {
			w.out = append(w.out, ',')
		}
		first = false
		w.value(val)
		return true
	})
	w.out = append(w.out, ']')
}

// writeString writes s, with secrets masked, as a JSON string without HTML
// escaping.
func (w *jsonWriter) writeString(s string) {
	if w.replacer != nil {
		s = w.replacer.Replace(s)
	}
	w.out = jsonstr.Append(w.out, s)
}
