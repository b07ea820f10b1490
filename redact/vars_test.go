package redact

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestVars(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		in   map[string]any
		want map[string]any
	}{
		{name: "Nil", in: nil, want: nil},
		{
			name: "Nested",
			in: map[string]any{
				"order_id":     "o-1",
				"access_token": "tok",
				"session":      map[string]any{"id": "s"},
				"count":        3,
				"customer": map[string]any{
					"name":     "Ada",
					"password": "pw",
					"cards":    []any{map[string]any{"last4": "4242", "card_key": "ck"}, "plain"},
				},
				"headers": map[string]string{"Authorization": "Bearer x", "Accept": "*/*"},
			},
			want: map[string]any{
				"order_id":     "o-1",
				"access_token": Mask,
				"session":      Mask,
				"count":        3,
				"customer": map[string]any{
					"name":     "Ada",
					"password": Mask,
					"cards":    []any{map[string]any{"last4": "4242", "card_key": Mask}, "plain"},
				},
				"headers": map[string]string{"Authorization": Mask, "Accept": "*/*"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got := Vars(tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Vars mismatch (-want +got):\n%s", diff)
			}
			if tt.in != nil && tt.in["customer"].(map[string]any)["password"] != "pw" {
				t.Error("Vars changed its input")
			}
		})
	}
}
