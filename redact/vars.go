package redact

// Vars returns a copy of vars in which the value of every variable with a
// sensitive name (see SensitiveName) is replaced by Mask, whatever its type.
// Objects (map[string]any) and arrays ([]any) under other names are copied
// and masked the same way, at any depth. A nil map gives nil.
func Vars(vars map[string]any) map[string]any {
	if vars == nil {
		return nil
	}
	out := make(map[string]any, len(vars))
	for name, value := range vars {
		if SensitiveName(name) {
			out[name] = Mask
			continue
		}
		out[name] = varsValue(value)
	}
	return out
}

func varsValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return Vars(v)
	case map[string]string:
		return Headers(v)
	case []any:
		out := make([]any, len(v))
		for i, value := range v {
			out[i] = varsValue(value)
		}
		return out
	}
	return v
}
