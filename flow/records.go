package flow

import (
	"encoding/json"

	"github.com/tidwall/gjson"
)

// MaxRecords bounds the records an inbound flow keeps per execution.
const MaxRecords = 1000

// CollectRecords applies flow_mapping.records to the response body of step:
// {"step": N, "path": "<gjson path to an array>", "fields": {"out": "<gjson
// path inside one record>"}}. Without fields each record is kept whole; at
// most MaxRecords are kept. It returns false when the mapping does not
// name step or the path is not an array.
func CollectRecords(mapping json.RawMessage, step int, body []byte) (json.RawMessage, bool) {
	m := gjson.GetBytes(mapping, "records")
	if !m.IsObject() || int(m.Get("step").Int()) != step {
		return nil, false
	}
	arr := gjson.GetBytes(body, m.Get("path").String())
	if !arr.IsArray() {
		return nil, false
	}
	fields := m.Get("fields")
	out := []any{}
	arr.ForEach(func(_, item gjson.Result) bool {
		if len(out) >= MaxRecords {
			return false
		}
		if !fields.IsObject() {
			out = append(out, item.Value())
			return true
		}
		rec := map[string]any{}
		fields.ForEach(func(k, p gjson.Result) bool {
			if v := item.Get(p.String()); v.Exists() {
				rec[k.String()] = v.Value()
			} else {
				rec[k.String()] = nil
			}
			return true
		})
		out = append(out, rec)
		return true
	})
	b, err := json.Marshal(out)
	if err != nil {
		return nil, false
	}
	return b, true
}
