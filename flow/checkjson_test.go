package flow

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCheckJSONValue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, raw, want string
		errs            []FieldError
	}{
		{name: "empty", raw: "", want: ""},
		{name: "compacted", raw: `{ "a" : [1, 2.5e3, "x"] }`, want: `{"a":[1,2.5e3,"x"]}`},
		{name: "lone surrogate replaced", raw: `{"a": "x\ud800y"}`, want: `{"a":"x` + "\ufffd" + `y"}`},
		{name: "surrogate pair kept", raw: `"\ud83d\ude00"`, want: `"😀"`},
		{name: "largest float", raw: `[1.7976931348623157e308, -1e-400]`, want: `[1.7976931348623157e308,-1e-400]`},
		{name: "NUL in a string", raw: `{"a": {"b": "x\u0000"}}`, errs: []FieldError{{"payload.a.b", nulMsg}}},
		{name: "NUL in a key", raw: `{"a\u0000": 1}`, errs: []FieldError{{`payload["a\x00"]`, nulMsg}}},
		{name: "number too large", raw: `{"n": [1e400]}`, errs: []FieldError{{"payload.n[0]", "number 1e400 is out of range: JSON numbers must fit a 64-bit float (about ±1.8e308)"}}},
		{name: "huge exponent at the top", raw: `-1e200000`, errs: []FieldError{{"payload", "number -1e200000 is out of range: JSON numbers must fit a 64-bit float (about ±1.8e308)"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, errs := CheckJSONValue("payload", json.RawMessage(tc.raw))
			if d := cmp.Diff(tc.errs, errs); d != "" {
				t.Errorf("errors (-want +got):\n%s", d)
			}
			if errs == nil && string(got) != tc.want {
				t.Errorf("value %s, want %s", got, tc.want)
			}
		})
	}
}

func TestDecodeFlowRefusesNumbersOutOfRange(t *testing.T) {
	t.Parallel()
	_, err := DecodeFlow([]byte(`{"name": "n", "predefinedVariables": [{"name": "v", "value": 1e999}],
		"steps": [{"step_number": 1, "webhook_url": "https://a.io", "webhook_method": "POST", "webhook_body": {"k": [2e308]}}]}`))
	verr, ok := err.(*ValidationError)
	if !ok {
		t.Fatalf("want a validation error, got %v", err)
	}
	var fields []string
	for _, fe := range verr.Errors {
		fields = append(fields, fe.Field)
	}
	if d := cmp.Diff([]string{"predefinedVariables[0].value", "steps[0].webhook_body.k[0]"}, fields); d != "" {
		t.Errorf("error fields (-want +got):\n%s\n%v", d, verr.Errors)
	}
}
