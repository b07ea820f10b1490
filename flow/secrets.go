package flow

import (
	"encoding/json"
	"slices"
)

// MinSecretLen is the shortest value a secret variable may have: secrets
// are masked by value wherever they would appear, and a shorter value
// would mask ordinary text that happens to contain it.
const MinSecretLen = 4

// KeepSecrets fills in, for each secret variable of a replacement sent
// without a value (null), the value stored under the same name: a secret
// is write-only, so a definition read back and sent again keeps it. A new
// value replaces the stored one; a name with no stored value stays null
// ("must be given at trigger time").
func KeepSecrets(in, stored []PredefinedVariable) {
	for i := range in {
		if !in[i].Secret || !isNull(in[i].Value) {
			continue
		}
		j := slices.IndexFunc(stored, func(pv PredefinedVariable) bool { return pv.Name == in[i].Name })
		if j >= 0 {
			in[i].Value = stored[j].Value
		}
	}
}

// SecretValues returns the values of the definition's secret variables and
// of the trigger variables that override them (triggerVars is the
// execution's variables object), as text to mask wherever it would
// appear. Values that are not strings, and shorter than MinSecretLen, are
// left out.
func (d *Definition) SecretValues(triggerVars json.RawMessage) []string {
	var out []string
	var overrides map[string]json.RawMessage
	for _, pv := range d.PredefinedVariables {
		if !pv.Secret {
			continue
		}
		out = appendSecret(out, pv.Value)
		if overrides == nil {
			overrides = map[string]json.RawMessage{}
			_ = json.Unmarshal(triggerVars, &overrides) // not an object: no overrides
		}
		out = appendSecret(out, overrides[pv.Name])
	}
	return out
}

// appendSecret appends raw's string value when it is long enough to mask.
func appendSecret(out []string, raw json.RawMessage) []string {
	var s string
	if json.Unmarshal(raw, &s) == nil && len(s) >= MinSecretLen {
		out = append(out, s)
	}
	return out
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}
