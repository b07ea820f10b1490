package flow

import (
	"bytes"
	"testing"
)

// TestNewIDIsOrdered: ids made one after another are version 7 and sort in
// the order they were made, which is what keeps the inserts of a busy
// table at the right end of its primary key index.
func TestNewIDIsOrdered(t *testing.T) {
	prev := NewID()
	for i := range 10000 {
		id := NewID()
		if v := id.Version(); v != 7 {
			t.Fatalf("NewID() = %s, version %d; want 7", id, v)
		}
		if bytes.Compare(prev[:], id[:]) >= 0 {
			t.Fatalf("id %d %s does not sort after the one before it, %s", i, id, prev)
		}
		prev = id
	}
}
