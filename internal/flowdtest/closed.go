package flowdtest

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/pb33f/libopenapi-validator/config"
	"github.com/pb33f/libopenapi-validator/paths"
	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
)

// The document leaves answers open (no additionalProperties: false), so
// that clients tolerate fields added later. The contract test reads them
// closed: in an answer, an object whose schema lists properties may hold no
// other field. Objects whose schema lists none (any JSON: payloads, step
// bodies) or maps every key to a schema (additionalProperties: {...}) are
// left as the schema says. Requests need no such reading: their schemas are
// closed in the document (additionalProperties: false), as the server is.

// undeclaredFields returns the fields of an answer's JSON body that its
// schema does not list.
func undeclaredFields(model *v3.Document, r *http.Request, code int, body []byte) []string {
	item, errs, _ := paths.FindPath(r, model, config.NewValidationOptions())
	if item == nil || len(errs) > 0 {
		return nil // the validator has said so
	}
	op := item.GetOperations().GetOrZero(strings.ToLower(r.Method))
	if op == nil || op.Responses == nil {
		return nil
	}
	resp := op.Responses.Codes.GetOrZero(strconv.Itoa(code))
	if resp == nil {
		resp = op.Responses.Default
	}
	if resp == nil || resp.Content == nil {
		return nil
	}
	media := resp.Content.GetOrZero("application/json")
	if media == nil || media.Schema == nil {
		return nil
	}
	var data any
	if json.Unmarshal(body, &data) != nil {
		return nil // the validator has said so
	}
	var out []string
	walkClosed(media.Schema.Schema(), data, "$", &out, 0)
	return out
}

// walkClosed reports, under path, the fields of data that schema does not
// list where it lists some.
func walkClosed(schema *base.Schema, data any, path string, out *[]string, depth int) {
	if schema == nil || depth > 64 {
		return
	}
	switch v := data.(type) {
	case map[string]any:
		props, additional, listed := objectShape(schema)
		for _, k := range sortedKeys(v) {
			p := path + "." + k
			switch {
			case props[k] != nil:
				walkClosed(props[k], v[k], p, out, depth+1)
			case additional != nil:
				walkClosed(additional, v[k], p, out, depth+1)
			case listed:
				*out = append(*out, fmt.Sprintf("%s: field not declared in the answer's schema (declared: %s)", p, strings.Join(sortedKeys(props), ", ")))
			}
		}
	case []any:
		items := arrayItems(schema)
		for i, e := range v {
			walkClosed(items, e, fmt.Sprintf("%s[%d]", path, i), out, depth+1)
		}
	}
}

// objectShape merges what schema (with its allOf, and the object branches
// of its anyOf and oneOf) says about an object: the listed properties,
// the schema of other keys if any, and whether it lists properties at all.
func objectShape(schema *base.Schema) (props map[string]*base.Schema, additional *base.Schema, listed bool) {
	props = map[string]*base.Schema{}
	var visit func(s *base.Schema, depth int)
	visit = func(s *base.Schema, depth int) {
		if s == nil || depth > 16 {
			return
		}
		if s.Properties != nil {
			listed = true
			for name, proxy := range s.Properties.FromOldest() {
				if _, seen := props[name]; !seen {
					props[name] = proxy.Schema()
				}
			}
		}
		if s.AdditionalProperties != nil && s.AdditionalProperties.IsA() && additional == nil {
			additional = s.AdditionalProperties.A.Schema()
		}
		for _, proxy := range s.AllOf {
			visit(proxy.Schema(), depth+1)
		}
		for _, proxy := range slices.Concat(s.AnyOf, s.OneOf) {
			if branch := proxy.Schema(); branch != nil && !slices.Equal(branch.Type, []string{"null"}) {
				visit(branch, depth+1)
			}
		}
	}
	visit(schema, 0)
	return props, additional, listed
}

// arrayItems is the schema of an array's elements (through anyOf/oneOf
// branches that are arrays).
func arrayItems(schema *base.Schema) *base.Schema {
	if schema.Items != nil && schema.Items.IsA() {
		return schema.Items.A.Schema()
	}
	for _, proxy := range slices.Concat(schema.AllOf, schema.AnyOf, schema.OneOf) {
		if s := proxy.Schema(); s != nil && s.Items != nil && s.Items.IsA() {
			return s.Items.A.Schema()
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
