package flow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/flowd/flowd/internal/jsonstr"
)

// This file walks JSON documents value by value, in document order, so that
// templating and validation see string values in the order they were
// written and rewriting keeps the order of object keys.

// stringVisitor is called for each string value (never an object key) with
// its path relative to the document root ("" for the root itself, then
// ".key", `["odd key"]` and "[2]" elements). When rewriting, the returned
// JSON replaces the string; when only walking, it is ignored.
type stringVisitor func(path, s string) (json.RawMessage, error)

// walkJSONStrings calls visit for every string value in raw, in order.
func walkJSONStrings(raw []byte, visit func(path, s string) error) error {
	return walkJSON(raw, nil, func(path, s string) (json.RawMessage, error) {
		return nil, visit(path, s)
	}, nil, nil)
}

// rewriteJSONStrings returns raw, compacted, with every string value
// replaced by what visit returns. Keys and other values are kept as written.
func rewriteJSONStrings(raw []byte, visit stringVisitor) (json.RawMessage, error) {
	var out bytes.Buffer
	if err := walkJSON(raw, &out, visit, nil, nil); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// jsonFrame is an open object or array during a walk.
type jsonFrame struct {
	object  bool
	n       int    // values seen so far
	needKey bool   // objects: the next token is a key or '}'
	path    string // path of the object or array itself
	key     string // objects: the key of the value being read
}

// canonicalJSON returns raw compacted, with its strings and keys re-encoded
// by encoding/json (so escapes are uniform and invalid UTF-8 or lone
// surrogates become U+FFFD), keeping the order of keys and numbers as
// written.
func canonicalJSON(raw []byte) (json.RawMessage, error) {
	return rewriteJSONStrings(raw, func(string, string) (json.RawMessage, error) { return nil, nil })
}

// walkJSON is the walker behind walkJSONStrings and rewriteJSONStrings; out
// is nil when only walking. visitKey, when not nil, is called for every
// object key with the path of its value; visitNumber, when not nil, for
// every number.
//
// A valid document is walked with gjson (walkValid), which does not
// allocate per token as encoding/json's Decoder.Token does (an error value
// made and discarded for every string and number: this walk renders every
// step's body and checks every trigger's payload). Invalid input is walked
// token by token (walkTokens) for the error it ends with, after the
// values before it have been visited.
func walkJSON(raw []byte, out *bytes.Buffer, visit stringVisitor, visitKey func(path, key string) error,
	visitNumber func(path string, n json.Number) error) error {
	if json.Valid(raw) {
		w := validWalker{out: out, visit: visit, visitKey: visitKey, visitNumber: visitNumber}
		return w.value(gjson.ParseBytes(raw), "")
	}
	return walkTokens(raw, out, visit, visitKey, visitNumber)
}

// validWalker walks a valid document for walkJSON.
type validWalker struct {
	out         *bytes.Buffer
	visit       stringVisitor
	visitKey    func(path, key string) error
	visitNumber func(path string, n json.Number) error
}

func (w *validWalker) write(s string) {
	if w.out != nil {
		w.out.WriteString(s)
	}
}

// value walks the value v at path.
func (w *validWalker) value(v gjson.Result, path string) error {
	switch {
	case v.IsObject():
		return w.object(v, path)
	case v.IsArray():
		return w.array(v, path)
	case v.Type == gjson.String:
		s := decodedString(v)
		repl, err := w.visit(path, s)
		if err != nil {
			return err
		}
		if w.out != nil {
			if repl == nil {
				w.out.Write(marshalString(s))
			} else {
				w.out.Write(repl)
			}
		}
	case v.Type == gjson.Number:
		if w.visitNumber != nil {
			if err := w.visitNumber(path, json.Number(v.Raw)); err != nil {
				return err
			}
		}
		w.write(v.Raw)
	default: // true, false, null
		w.write(v.Raw)
	}
	return nil
}

func (w *validWalker) object(v gjson.Result, path string) error {
	w.write("{")
	var err error
	n := 0
	v.ForEach(func(k, val gjson.Result) bool {
		if n > 0 {
			w.write(",")
		}
		n++
		key := decodedString(k)
		if w.out != nil {
			w.out.Write(marshalString(key))
			w.out.WriteByte(':')
		}
		p := path + keyPath(key)
		if w.visitKey != nil {
			if err = w.visitKey(p, key); err != nil {
				return false
			}
		}
		err = w.value(val, p)
		return err == nil
	})
	if err != nil {
		return err
	}
	w.write("}")
	return nil
}

func (w *validWalker) array(v gjson.Result, path string) error {
	w.write("[")
	var err error
	n := 0
	v.ForEach(func(_, val gjson.Result) bool {
		if n > 0 {
			w.write(",")
		}
		err = w.value(val, path+"["+strconv.Itoa(n)+"]")
		n++
		return err == nil
	})
	if err != nil {
		return err
	}
	w.write("]")
	return nil
}

// decodedString is the string (or key) v as encoding/json decodes it:
// gjson's own for plain text, encoding/json's where an escape or invalid
// UTF-8 could make the two differ (lone surrogates and invalid bytes
// become U+FFFD there).
func decodedString(v gjson.Result) string {
	if strings.IndexByte(v.Raw, '\\') < 0 && utf8.ValidString(v.Str) {
		return v.Str
	}
	var s string
	if json.Unmarshal([]byte(v.Raw), &s) != nil {
		return v.Str // not reached: the document is valid
	}
	return s
}

// walkTokens is walkJSON token by token, for input that is not valid JSON.
func walkTokens(raw []byte, out *bytes.Buffer, visit stringVisitor, visitKey func(path, key string) error,
	visitNumber func(path string, n json.Number) error) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var stack []*jsonFrame
	write := func(b []byte) {
		if out != nil {
			out.Write(b)
		}
	}
	// valuePath returns the path of the value about to be read and writes
	// the separator that precedes it.
	valuePath := func() string {
		if len(stack) == 0 {
			return ""
		}
		top := stack[len(stack)-1]
		if top.object {
			return top.path + keyPath(top.key)
		}
		if top.n > 0 {
			write([]byte{','})
		}
		return top.path + "[" + strconv.Itoa(top.n) + "]"
	}
	// done records that a value of the top frame is complete.
	done := func() {
		if len(stack) == 0 {
			return
		}
		top := stack[len(stack)-1]
		top.n++
		if top.object {
			top.needKey = true
		}
	}
	rootDone := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if !rootDone {
				return errors.New("unexpected end of JSON input")
			}
			return nil
		}
		if err != nil {
			return err
		}
		if rootDone {
			return errors.New("invalid JSON: data after the top-level value")
		}
		if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].needKey {
			top := stack[n-1]
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:n-1]
				write([]byte{'}'})
				done()
				rootDone = len(stack) == 0
				continue
			}
			key, ok := tok.(string)
			if !ok {
				return fmt.Errorf("invalid JSON: unexpected %v in place of an object key", tok)
			}
			if top.n > 0 {
				write([]byte{','})
			}
			if out != nil {
				out.Write(marshalString(key))
				out.WriteByte(':')
			}
			top.key = key
			if visitKey != nil {
				if err := visitKey(top.path+keyPath(key), key); err != nil {
					return err
				}
			}
			top.needKey = false
			continue
		}
		if d, ok := tok.(json.Delim); ok && d == ']' {
			stack = stack[:len(stack)-1]
			write([]byte{']'})
			done()
			rootDone = len(stack) == 0
			continue
		}
		path := valuePath()
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				write([]byte{'{'})
				stack = append(stack, &jsonFrame{object: true, needKey: true, path: path})
			case '[':
				write([]byte{'['})
				stack = append(stack, &jsonFrame{path: path})
			default:
				return fmt.Errorf("invalid JSON: unexpected %q", rune(v))
			}
			continue
		case string:
			repl, err := visit(path, v)
			if err != nil {
				return err
			}
			if out != nil {
				if repl == nil {
					out.Write(marshalString(v))
				} else {
					out.Write(repl)
				}
			}
		case json.Number:
			if visitNumber != nil {
				if err := visitNumber(path, v); err != nil {
					return err
				}
			}
			write([]byte(v))
		case bool:
			write([]byte(strconv.FormatBool(v)))
		case nil:
			write([]byte("null"))
		default:
			return fmt.Errorf("invalid JSON: unexpected token %v", tok)
		}
		done()
		rootDone = len(stack) == 0
	}
}

// isPlainKey reports whether an object key can be written after a dot in
// a path: letters, digits, '_' and '-' only, at least one.
func isPlainKey(key string) bool {
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return key != ""
}

// keyPath is the path element of an object key: ".key", or `["key"]` when
// the key holds characters that would make the path ambiguous.
func keyPath(key string) string {
	if isPlainKey(key) {
		return "." + key
	}
	return "[" + strconv.Quote(key) + "]"
}

// marshalString encodes s as a JSON string without HTML escaping.
func marshalString(s string) []byte { return jsonstr.Append(nil, s) }

// marshalNoEscape is json.Marshal without HTML escaping (so "<" stays "<").
func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}
