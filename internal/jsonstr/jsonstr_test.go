package jsonstr

import (
	"bytes"
	"encoding/json"
	"testing"
)

// encoded is what an encoding/json Encoder without HTML escaping writes.
func encoded(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return string(bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}))
}

func TestAppendAsEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "plain", "<a & b>", "quote \" here", `back\slash`, "tab\tnew\nline", "\x00\x1f", "\b\f\r\x7f",
		"é ü 日本", "\u2028\u2029", "bad \xff byte", "\ufffd literal", "emoji 😀", "\xed\xa0\x80 surrogate", "cut \xe6\x97"} {
		if got, want := string(Append([]byte("x"), s)), "x"+encoded(s); got != want {
			t.Errorf("Append(%q) = %s; want %s (as encoding/json writes it)", s, got, want)
		}
	}
}

func FuzzAppend(f *testing.F) {
	f.Add("a\"b\\c\n\u2028\xff")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(Append(nil, s)), encoded(s); got != want {
			t.Fatalf("Append(%q) = %s; want %s", s, got, want)
		}
	})
}
