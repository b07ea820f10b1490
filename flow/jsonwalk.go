package flow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
)

// This file walks JSON documents token by token, in document order, so that
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
func walkJSON(raw []byte, out *bytes.Buffer, visit stringVisitor, visitKey func(path, key string) error,
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

// plainKey matches object keys that can be written after a dot in a path.
var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// keyPath is the path element of an object key: ".key", or `["key"]` when
// the key holds characters that would make the path ambiguous.
func keyPath(key string) string {
	if plainKey.MatchString(key) {
		return "." + key
	}
	return "[" + strconv.Quote(key) + "]"
}

// marshalString encodes s as a JSON string without HTML escaping.
func marshalString(s string) []byte {
	b, _ := marshalNoEscape(s) // a string always encodes
	return b
}

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
