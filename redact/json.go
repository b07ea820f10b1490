package redact

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// JSON returns a copy of the JSON document raw in which the value of every
// object key with a sensitive name (see SensitiveName), at any depth, is
// replaced by the string Mask (a null stays null), and secrets inside the
// remaining strings and keys are masked as by String. Keys keep their order
// and numbers their digits; the output is compact. Input that is not a
// single valid JSON value is masked as plain text by String.
func JSON(raw []byte, secrets []string) []byte { return NewMasker(secrets).JSON(raw) }

// JSON is JSON with the Masker's secrets.
func (m *Masker) JSON(raw []byte) []byte {
	if len(raw) == 0 {
		return raw
	}
	if !json.Valid(raw) {
		return []byte(m.String(string(raw)))
	}
	w := &jsonWriter{dec: json.NewDecoder(bytes.NewReader(raw)), replacer: m.replacer}
	w.dec.UseNumber()
	if err := w.value(); err != nil {
		return []byte(m.String(string(raw)))
	}
	return w.out.Bytes()
}

// jsonWriter copies JSON tokens from dec to out, masking as it goes.
type jsonWriter struct {
	dec      *json.Decoder
	out      bytes.Buffer
	replacer *strings.Replacer
}

// value copies one JSON value.
func (w *jsonWriter) value() error {
	tok, err := w.dec.Token()
	if err != nil {
		return err
	}
	switch tok := tok.(type) {
	case json.Delim:
		switch tok {
		case '{':
			return w.object()
		case '[':
			return w.array()
		}
		return fmt.Errorf("unexpected %v", tok)
	case string:
		w.writeString(tok)
	case json.Number:
		w.out.WriteString(tok.String())
	case bool:
		fmt.Fprint(&w.out, tok)
	case nil:
		w.out.WriteString("null")
	}
	return nil
}

// object copies the members of an object whose '{' has been read.
func (w *jsonWriter) object() error {
	w.out.WriteByte('{')
	for i := 0; w.dec.More(); i++ {
		if i > 0 {
			w.out.WriteByte(',')
		}
		tok, err := w.dec.Token()
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("object key %v is not a string", tok)
		}
		w.writeString(key)
		w.out.WriteByte(':')
		if !SensitiveName(key) {
			if err := w.value(); err != nil {
				return err
			}
			continue
		}
		var skipped json.RawMessage
		if err := w.dec.Decode(&skipped); err != nil {
			return err
		}
		if string(skipped) == "null" {
			w.out.WriteString("null")
		} else {
			w.writeString(Mask)
		}
	}
	return w.closing('}')
}

// array copies the elements of an array whose '[' has been read.
func (w *jsonWriter) array() error {
	w.out.WriteByte('[')
	for i := 0; w.dec.More(); i++ {
		if i > 0 {
			w.out.WriteByte(',')
		}
		if err := w.value(); err != nil {
			return err
		}
	}
	return w.closing(']')
}

// closing reads and writes the delimiter that ends an object or array.
func (w *jsonWriter) closing(delim json.Delim) error {
	tok, err := w.dec.Token()
	if err == io.EOF || err == nil && tok != delim {
		return fmt.Errorf("want %v, got %v", delim, tok)
	}
	if err != nil {
		return err
	}
	w.out.WriteByte(byte(delim))
	return nil
}

// writeString writes s, with secrets masked, as a JSON string without HTML
// escaping.
func (w *jsonWriter) writeString(s string) {
	if w.replacer != nil {
		s = w.replacer.Replace(s)
	}
	enc := json.NewEncoder(&w.out)
	enc.SetEscapeHTML(false)
	// Encoding a string cannot fail; Encode ends it with a newline.
	enc.Encode(s)
	w.out.Truncate(w.out.Len() - 1)
}
