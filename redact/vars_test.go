package redact

import (
	"testing"

	"github.com/flowd/flowd/internal/tabletest"
)

func TestVars(t *testing.T) {
	t.Parallel()

	tabletest.Func(t, "Vars", Vars, []tabletest.Case[map[string]any, map[string]any]{
		{Name: "Nil", In: nil, Want: nil},
		{
			Name: "Nested",
			In: map[string]any{
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
			Want: map[string]any{
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
	})
}
