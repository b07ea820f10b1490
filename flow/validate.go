package flow

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The rules a flow definition must follow. Lengths are in characters
// (Unicode code points) unless said otherwise. Enum values are accepted in
// any case and stored in the case shown. null counts as absent for every
// optional field; "" counts as absent for workspace_id, retry_delay_unit,
// flow_direction, schedule and signing_secret.
//
// Flow:
//
//	workspace_id          string, at most 100, default "default"
//	name                  required string, 1..200 after trimming
//	logo                  string, at most 2048
//	retry_delay           integer 0..10000, default 5
//	retry_delay_unit      seconds|minutes|hours|days, default seconds;
//	                      retry_delay x unit at most 30 days
//	max_retries           integer 0..20, default 0
//	is_template           boolean, default false
//	flow_direction        inbound|outbound, default outbound
//	flow_mapping          object, default {}: each key a variable name whose
//	                      value is a gjson path (string, 1..1024 bytes) in the
//	                      trigger payload; the reserved key "records" is an
//	                      object {"step": <an existing step_number>,
//	                      "path": "<gjson path to an array in its response>",
//	                      "fields": {"out_name": "<gjson path in one record>"}}
//	                      (step and path required, fields optional)
//	tag_name              string, at most 200
//	category_name         string, at most 200
//	schedule              cron expression (ParseSchedule) or null
//	events                at most 50 distinct event patterns (events.go):
//	                      "call.ended", "call.*" or "*"; default []
//	event_filter          expr expression over `event` returning a boolean
//	                      (eventfilter.go), at most 4096 bytes, or null
//	signing_secret        "whsec_" + canonical base64 of 24..64 bytes
//	                      (CheckSigningSecret), or null; write-only
//	generate_signing_secret  boolean, default false: flowd makes the
//	                      signing secret (NewSigningSecret); not with
//	                      signing_secret; write-only
//	propagate_trace       boolean, default true: outbound requests carry
//	                      the W3C traceparent and tracestate headers
//	predefinedVariables   at most 100 of {"name", "value", "secret"}: name
//	                      required, a variable name, unique; value any JSON;
//	                      secret a boolean: when true the value is a string
//	                      of at least MinSecretLen characters or null (keep
//	                      the stored one on replace; see KeepSecrets)
//	variables             at most 100 of {"name", "location", "stepId",
//	                      "type", "dataType", "customValue"}
//	steps                 required, 1..50 steps
//
// Read-only fields ignored on input: id, created_by, company_id, status,
// created_at, updated_at, executions, deleted_at, version,
// has_signing_secret; in steps: id, created_at, updated_at, deleted_at.
//
// Step:
//
//	step_number           required integer 1..10000, unique in the flow
//	webhook_method        required, GET|POST|PUT|DELETE|PATCH|OPTIONS|HEAD
//	webhook_url           required, at most 2048 bytes, an absolute http or
//	                      https URL with a host once each {{...}} is replaced
//	                      by a letter; a URL starting with a placeholder
//	                      ("{{base_url}}/x") is checked when the step runs
//	webhook_timeout       integer 1..300 seconds, default 30
//	timeout               integer 1..86400 seconds, default 300, and at
//	                      least webhook_timeout
//	retry_limit           integer 0..10, default 0
//	webhook_url_params    object of string, number or boolean values (each
//	                      string at most 2048 bytes), at most 100, default {}
//	webhook_headers       object of string values, at most 50, names HTTP
//	                      tokens, values at most 8 KiB without CR, LF or NUL,
//	                      default {}
//	webhook_body          any JSON, at most 256 KiB compacted, default null
//	depends_on_step       null or the step_number of another step
//	success_condition     null, {} or a condition (see condition.go);
//	                      default {}
//
// Variable:
//
//	name                  required, ^[A-Za-z_][A-Za-z0-9_.-]*$, at most 100,
//	                      unique among variables (it may shadow a predefined
//	                      variable or a flow_mapping key: extraction wins)
//	type                  required, body|header|status|custom
//	location              required for body (gjson path) and header (a
//	                      header name); at most 1024 bytes
//	stepId                required integer, the step_number of a step
//	dataType              string|number|integer|boolean|object|array,
//	                      default string
//	customValue           string, at most 8 KiB: the value of a custom
//	                      variable, the default of a body or header one; it
//	                      must convert to dataType when it is used
//
// Templates: every {{name}} in a step's webhook_url, webhook_url_params,
// webhook_headers and webhook_body must be a predefined variable, a
// variable, a flow_mapping key (not "records") or a built-in ($execution_id,
// $flow_id, $attempt, $now).
//
// Dependencies: a step waits for its depends_on_step and for every step
// whose variables it uses; these must not form a cycle.
//
// No string anywhere in the document may contain a NUL character.

// Limits and defaults of a flow definition.
const (
	// MaxSteps is the most steps a flow may have.
	MaxSteps = 50
	// MaxStepNumber is the largest step_number.
	MaxStepNumber = 10000
	// MaxVariables is the most extracted variables a flow may have.
	MaxVariables = 100
	// MaxPredefinedVariables is the most predefined variables a flow may
	// have.
	MaxPredefinedVariables = 100
	// MaxNameLen is the longest flow name, in characters.
	MaxNameLen = 200
	// MaxWorkspaceIDLen is the longest workspace_id, in characters (a
	// flow's, and the one GET /v1/webhooks lists).
	MaxWorkspaceIDLen = 100
	// MaxVariableNameLen is the longest variable name, in bytes.
	MaxVariableNameLen = 100
	// MaxURLLen is the longest webhook_url, in bytes.
	MaxURLLen = 2048
	// MaxHeaders is the most webhook_headers a step may have.
	MaxHeaders = 50
	// MaxHeaderValueBytes is the longest header value.
	MaxHeaderValueBytes = 8 << 10
	// MaxParams is the most webhook_url_params a step may have.
	MaxParams = 100
	// MaxBodyBytes is the largest webhook_body, compacted.
	MaxBodyBytes = 256 << 10
	// MaxRetryDelay is the largest retry_delay.
	MaxRetryDelay = 10000
	// MaxRetryDelayDuration is the longest retry_delay x retry_delay_unit.
	MaxRetryDelayDuration = 30 * 24 * time.Hour
	// MaxFlowRetries is the largest max_retries.
	MaxFlowRetries = 20
	// MaxStepRetries is the largest retry_limit.
	MaxStepRetries = 10
	// MaxWebhookTimeout is the largest webhook_timeout, in seconds.
	MaxWebhookTimeout = 300
	// MaxStepTimeout is the largest step timeout, in seconds.
	MaxStepTimeout = 86400
	// DefaultRetryDelay is the retry_delay of a flow that gives none.
	DefaultRetryDelay = 5
	// DefaultWebhookTimeout is the webhook_timeout of a step that gives
	// none, in seconds.
	DefaultWebhookTimeout = 30
	// DefaultStepTimeout is the timeout of a step that gives none, in
	// seconds.
	DefaultStepTimeout = 300
	// DefaultWorkspaceID is the workspace of a flow that gives none.
	DefaultWorkspaceID = "default"
)

// Limits and messages used only here.
const (
	maxShortStringLen       = 200
	maxLogoLen              = 2048
	maxPathLen              = 1024
	maxCustomValueBytes     = 8 << 10
	maxParamValueBytes      = 2048
	maxReportedCycleMembers = 20
	recordsMappingKey       = "records"
	requiredMsg             = "is required"
	placeholderReplacement  = "x"
	retryDelayUnitsList     = "seconds, minutes, hours or days"
	webhookMethodsList      = "GET, POST, PUT, DELETE, PATCH, OPTIONS or HEAD"
	variableTypesList       = "body, header, status or custom"
	dataTypesList           = "string, number, integer, boolean, object or array"
	flowDirectionsList      = "inbound or outbound"
)

// Retry delay units (retry_delay_unit).
const (
	UnitSeconds = "seconds"
	UnitMinutes = "minutes"
	UnitHours   = "hours"
	UnitDays    = "days"
)

// unitDurations maps each retry delay unit to its length.
var unitDurations = map[string]time.Duration{
	UnitSeconds: time.Second,
	UnitMinutes: time.Minute,
	UnitHours:   time.Hour,
	UnitDays:    24 * time.Hour,
}

var (
	webhookMethods = []string{"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"}
	variableTypes  = []string{VarTypeBody, VarTypeHeader, VarTypeStatus, VarTypeCustom}
	dataTypes      = []string{DataTypeString, DataTypeNumber, DataTypeInteger, DataTypeBoolean, DataTypeObject, DataTypeArray}
	directions     = []string{DirectionInbound, DirectionOutbound}

	flowKeys = []string{"workspace_id", "name", "logo", "retry_delay", "retry_delay_unit", "max_retries",
		"is_template", "flow_direction", "flow_mapping", "tag_name", "category_name", "schedule",
		"events", "event_filter", "signing_secret", "generate_signing_secret", "propagate_trace", "predefinedVariables", "variables", "steps"}
	flowReadOnlyKeys = []string{"id", "created_by", "company_id", "status", "created_at", "updated_at",
		"executions", "deleted_at", "version", "has_signing_secret"}
	stepKeys = []string{"step_number", "webhook_url", "webhook_method", "webhook_timeout", "retry_limit",
		"timeout", "webhook_url_params", "webhook_headers", "webhook_body", "depends_on_step", "success_condition"}
	stepReadOnlyKeys   = []string{"id", "created_at", "updated_at", "deleted_at"}
	predefinedKeys     = []string{"name", "value", "secret"}
	variableKeys       = []string{"name", "location", "stepId", "type", "dataType", "customValue"}
	recordsMappingKeys = []string{"step", "path", "fields"}
)

// variableName matches the names of variables and flow_mapping keys.
var variableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)

// flow reads and checks the whole flow document.
func (d *decoder) flow(top *object) *FlowInput {
	in := &FlowInput{
		WorkspaceID:         DefaultWorkspaceID,
		RetryDelay:          DefaultRetryDelay,
		RetryDelayUnit:      UnitSeconds,
		FlowDirection:       DirectionOutbound,
		FlowMapping:         json.RawMessage(`{}`),
		PropagateTrace:      true,
		PredefinedVariables: []PredefinedVariable{},
		Variables:           []Variable{},
		Steps:               []Step{},
		Events:              []string{},
	}
	top.checkKeys(flowKeys, flowReadOnlyKeys)

	if s, ok := top.str("workspace_id"); ok && strings.TrimSpace(s) != "" {
		in.WorkspaceID = strings.TrimSpace(s)
		d.maxLen("workspace_id", in.WorkspaceID, MaxWorkspaceIDLen)
	}
	if s, ok := top.str("name"); ok {
		in.Name = strings.TrimSpace(s)
		if in.Name == "" {
			d.add("name", "must not be empty")
		}
		d.maxLen("name", in.Name, MaxNameLen)
	} else if _, present := top.fields["name"]; !present || jsonKind(top.fields["name"]) == 'n' {
		d.add("name", requiredMsg)
	}
	if s, ok := top.str("logo"); ok {
		in.Logo = s
		d.maxLen("logo", s, maxLogoLen)
	}
	if s, ok := top.str("tag_name"); ok {
		in.TagName = s
		d.maxLen("tag_name", s, maxShortStringLen)
	}
	if s, ok := top.str("category_name"); ok {
		in.CategoryName = s
		d.maxLen("category_name", s, maxShortStringLen)
	}
	delayOK := false
	if n, ok := top.integer("retry_delay"); ok {
		in.RetryDelay = n
		delayOK = d.between("retry_delay", n, 0, MaxRetryDelay)
	} else {
		_, present := top.get("retry_delay")
		delayOK = !present // absent: the default is valid
	}
	unitOK := true
	if s, ok := top.str("retry_delay_unit"); ok && s != "" {
		in.RetryDelayUnit, unitOK = d.enum("retry_delay_unit", strings.ToLower(s), retryDelayUnits(), retryDelayUnitsList)
	} else if _, present := top.get("retry_delay_unit"); present && !ok {
		unitOK = false
	}
	if delayOK && unitOK && time.Duration(in.RetryDelay)*unitDurations[in.RetryDelayUnit] > MaxRetryDelayDuration {
		d.add("retry_delay", "retry_delay x retry_delay_unit must be at most 30 days")
	}
	if n, ok := top.integer("max_retries"); ok {
		in.MaxRetries = n
		d.between("max_retries", n, 0, MaxFlowRetries)
	}
	if b, ok := top.boolean("is_template"); ok {
		in.IsTemplate = b
	}
	if b, ok := top.boolean("propagate_trace"); ok {
		in.PropagateTrace = b
	}
	if s, ok := top.str("flow_direction"); ok && s != "" {
		in.FlowDirection, _ = d.enum("flow_direction", strings.ToLower(s), directions, flowDirectionsList)
	}
	if s, ok := top.str("schedule"); ok && strings.TrimSpace(s) != "" {
		s = strings.TrimSpace(s)
		if _, err := ParseSchedule(s); err != nil {
			d.add("schedule", err.Error())
		}
		in.Schedule = &s
	}
	in.Events = d.events(top)
	in.EventFilter = d.eventFilter(top)
	if s, ok := top.str("signing_secret"); ok && s != "" {
		if err := CheckSigningSecret(s); err != nil {
			d.add("signing_secret", err.Error())
		}
		in.SigningSecret = &s
	}
	if b, ok := top.boolean("generate_signing_secret"); ok && b {
		if in.SigningSecret != nil {
			d.add("generate_signing_secret", "not with signing_secret: either flowd makes the secret or you give one")
		}
		in.GenerateSigningSecret = true
	}

	in.PredefinedVariables = d.predefinedVariables(top)
	if elems, ok := top.array("steps"); ok {
		in.Steps = d.steps(elems)
	} else if _, present := top.get("steps"); !present {
		d.add("steps", requiredMsg)
	}
	in.Variables = d.variables(top)

	// References to steps are checked only when every step number is
	// known: otherwise the step referred to may be the one whose number is
	// missing, and the error about that number is enough.
	numbers := map[int]bool{}
	allNumbers := len(in.Steps) > 0
	for _, st := range in.Steps {
		if st.StepNumber > 0 {
			numbers[st.StepNumber] = true
		} else {
			allNumbers = false
		}
	}
	if !allNumbers {
		numbers = nil
	}
	var mappingKeys []string
	if raw, ok := top.get("flow_mapping"); ok {
		in.FlowMapping, mappingKeys = d.flowMapping(raw, numbers)
	}

	if numbers != nil {
		d.stepReferences(in, numbers)
		d.cycles(in, numbers)
	}
	d.templates(in, mappingKeys)
	return in
}

// retryDelayUnits lists the retry delay units in order of length.
func retryDelayUnits() []string {
	return []string{UnitSeconds, UnitMinutes, UnitHours, UnitDays}
}

// maxLen records an error when s is longer than n characters.
func (d *decoder) maxLen(field, s string, n int) bool {
	if utf8.RuneCountInString(s) > n {
		d.addf(field, "must be at most %d characters", n)
		return false
	}
	return true
}

// between records an error when n is outside [lo, hi].
func (d *decoder) between(field string, n, lo, hi int) bool {
	if n < lo || n > hi {
		d.addf(field, "must be between %d and %d", lo, hi)
		return false
	}
	return true
}

// enum records an error when s is not one of values.
func (d *decoder) enum(field, s string, values []string, list string) (string, bool) {
	if !slices.Contains(values, s) {
		d.addf(field, "must be one of %s", list)
		return s, false
	}
	return s, true
}

// objects reads the array key of top, of at most max elements (named
// noun in the error), element by element as objects: nil for one that is
// not an object (an error too).
func (d *decoder) objects(top *object, key string, max int, noun string) []*object {
	elems, ok := top.array(key)
	if !ok {
		return nil
	}
	if len(elems) > max {
		d.addf(key, "must have at most %d %s", max, noun)
	}
	objs := make([]*object, len(elems))
	for i, raw := range elems {
		if o, ok := d.object(fmt.Sprintf("%s[%d]", key, i), raw); ok {
			objs[i] = o
		}
	}
	return objs
}

// predefinedVariables reads predefinedVariables.
func (d *decoder) predefinedVariables(top *object) []PredefinedVariable {
	out := []PredefinedVariable{}
	seen := map[string]bool{}
	for _, o := range d.objects(top, "predefinedVariables", MaxPredefinedVariables, "variables") {
		if o == nil {
			continue
		}
		o.checkKeys(predefinedKeys, nil)
		pv := PredefinedVariable{Value: json.RawMessage("null")}
		if name, ok := d.requiredName(o, seen); ok {
			pv.Name = name
		}
		if v, ok := o.fields["value"]; ok {
			if c, err := canonicalJSON(v); err == nil {
				pv.Value = c
			}
		}
		if secret, ok := o.boolean("secret"); ok && secret {
			pv.Secret = true
			if s, ok := o.str("value"); ok && utf8.RuneCountInString(s) < MinSecretLen {
				d.addf(o.field("value"), "a secret must be at least %d characters: a shorter one cannot be masked in records", MinSecretLen)
			}
		}
		out = append(out, pv)
	}
	return out
}

// requiredName reads the "name" of a variable: required, a valid variable
// name, unique among seen.
func (d *decoder) requiredName(o *object, seen map[string]bool) (string, bool) {
	name, ok := o.str("name")
	field := o.field("name")
	switch {
	case !ok:
		if _, present := o.get("name"); !present {
			d.add(field, requiredMsg)
		}
		return "", false
	case name == "":
		d.add(field, requiredMsg)
		return "", false
	case len(name) > MaxVariableNameLen:
		d.addf(field, "must be at most %d characters", MaxVariableNameLen)
		return name, false
	case !variableName.MatchString(name):
		d.add(field, "must start with a letter or _ and contain only letters, digits, _, . and -")
		return name, false
	case seen[name]:
		d.addf(field, "duplicate name %q", name)
		return name, false
	}
	seen[name] = true
	return name, true
}

// variables reads variables (stepId references are checked later).
func (d *decoder) variables(top *object) []Variable {
	out := []Variable{}
	seen := map[string]bool{}
	d.badStepID = map[int]bool{}
	for i, o := range d.objects(top, "variables", MaxVariables, "variables") {
		if o == nil {
			d.badStepID[len(out)] = true
			out = append(out, Variable{})
			continue
		}
		o.checkKeys(variableKeys, nil)
		v := Variable{DataType: DataTypeString}
		v.Name, _ = d.requiredName(o, seen)

		typeOK := false
		if s, ok := o.str("type"); ok && s != "" {
			v.Type, typeOK = d.enum(o.field("type"), strings.ToLower(s), variableTypes, variableTypesList)
		} else if _, present := o.get("type"); !present || ok {
			d.add(o.field("type"), requiredMsg)
		}
		if s, ok := o.str("dataType"); ok && s != "" {
			v.DataType, _ = d.enum(o.field("dataType"), strings.ToLower(s), dataTypes, dataTypesList)
		}
		locRaw, locPresent := o.get("location")
		if s, ok := o.str("location"); ok {
			v.Location = s
			if len(s) > maxPathLen {
				d.addf(o.field("location"), "must be at most %d bytes", maxPathLen)
			}
		}
		if typeOK && (v.Type == VarTypeBody || v.Type == VarTypeHeader) {
			switch {
			case strings.TrimSpace(v.Location) == "":
				if !locPresent || jsonKind(locRaw) == '"' {
					d.addf(o.field("location"), "is required for a %s variable", v.Type)
				}
			case v.Type == VarTypeHeader && !isToken(v.Location):
				d.add(o.field("location"), "must be a valid HTTP header name")
			}
		}
		if n, ok := o.integer("stepId"); ok {
			v.StepID = n
		} else {
			d.badStepID[i] = true
			if _, present := o.get("stepId"); !present {
				d.add(o.field("stepId"), requiredMsg)
			}
		}
		if s, ok := o.str("customValue"); ok {
			v.CustomValue = s
			if len(s) > maxCustomValueBytes {
				d.addf(o.field("customValue"), "must be at most %d bytes", maxCustomValueBytes)
			}
		}
		if typeOK && slices.Contains(dataTypes, v.DataType) && (v.Type == VarTypeCustom || v.CustomValue != "") {
			if _, err := Convert(v.CustomValue, v.DataType); err != nil {
				d.add(o.field("customValue"), err.Error())
			}
		}
		out = append(out, v)
	}
	return out
}

// steps reads the steps (references between steps are checked later).
func (d *decoder) steps(elems []json.RawMessage) []Step {
	out := []Step{}
	switch {
	case len(elems) == 0:
		d.add("steps", "at least one step is required")
		return out
	case len(elems) > MaxSteps:
		d.addf("steps", "must have at most %d steps", MaxSteps)
	}
	seen := map[int]int{} // step_number -> index
	for i, raw := range elems {
		path := fmt.Sprintf("steps[%d]", i)
		o, ok := d.object(path, raw)
		if !ok {
			out = append(out, Step{})
			continue
		}
		out = append(out, d.step(o, seen, i))
	}
	return out
}

// step reads one step.
func (d *decoder) step(o *object, seen map[int]int, index int) Step {
	o.checkKeys(stepKeys, stepReadOnlyKeys)
	st := Step{
		WebhookTimeout:   DefaultWebhookTimeout,
		Timeout:          DefaultStepTimeout,
		WebhookURLParams: json.RawMessage(`{}`),
		WebhookHeaders:   json.RawMessage(`{}`),
		WebhookBody:      json.RawMessage(`null`),
		SuccessCondition: json.RawMessage(`{}`),
	}
	if n, ok := o.integer("step_number"); ok {
		if d.between(o.field("step_number"), n, 1, MaxStepNumber) {
			if first, dup := seen[n]; dup {
				d.addf(o.field("step_number"), "duplicate step_number %d (also steps[%d])", n, first)
			} else {
				seen[n] = index
				st.StepNumber = n
			}
		}
	} else if _, present := o.get("step_number"); !present {
		d.add(o.field("step_number"), requiredMsg)
	}

	if s, ok := o.str("webhook_method"); ok && s != "" {
		st.WebhookMethod, _ = d.enum(o.field("webhook_method"), strings.ToUpper(s), webhookMethods, webhookMethodsList)
	} else if _, present := o.get("webhook_method"); !present || ok {
		d.add(o.field("webhook_method"), requiredMsg)
	}

	if s, ok := o.str("webhook_url"); ok && strings.TrimSpace(s) != "" {
		st.WebhookURL = strings.TrimSpace(s)
		d.checkStepURL(o.field("webhook_url"), st.WebhookURL)
	} else if _, present := o.get("webhook_url"); !present || ok {
		d.add(o.field("webhook_url"), requiredMsg)
	}

	wtOK := true
	if n, ok := o.integer("webhook_timeout"); ok {
		st.WebhookTimeout = n
		wtOK = d.between(o.field("webhook_timeout"), n, 1, MaxWebhookTimeout)
	} else if _, present := o.get("webhook_timeout"); present {
		wtOK = false
	}
	if n, ok := o.integer("timeout"); ok {
		st.Timeout = n
		if d.between(o.field("timeout"), n, 1, MaxStepTimeout) && wtOK && n < st.WebhookTimeout {
			d.addf(o.field("timeout"), "must be at least webhook_timeout (%d)", st.WebhookTimeout)
		}
	}
	if n, ok := o.integer("retry_limit"); ok {
		st.RetryLimit = n
		d.between(o.field("retry_limit"), n, 0, MaxStepRetries)
	}

	if po, ok := o.obj("webhook_url_params"); ok {
		d.checkParams(po)
		st.WebhookURLParams = d.canonical(po.path, o.fields["webhook_url_params"])
	}
	if ho, ok := o.obj("webhook_headers"); ok {
		d.checkHeaders(ho)
		st.WebhookHeaders = d.canonical(ho.path, o.fields["webhook_headers"])
	}
	if raw, ok := o.get("webhook_body"); ok {
		st.WebhookBody = d.canonical(o.field("webhook_body"), raw)
		if len(st.WebhookBody) > MaxBodyBytes {
			d.addf(o.field("webhook_body"), "must be at most %d KiB", MaxBodyBytes>>10)
		}
	}
	if n, ok := o.integer("depends_on_step"); ok {
		st.DependsOnStep = &n
	}
	if raw, ok := o.get("success_condition"); ok {
		field := o.field("success_condition")
		if _, errs := CompileCondition(raw); errs != nil {
			for _, fe := range errs {
				if fe.Field == "" {
					d.add(field, fe.Message)
				} else {
					d.add(field+"."+fe.Field, fe.Message)
				}
			}
		}
		st.SuccessCondition = d.canonical(field, raw)
	}
	return st
}

// canonical returns raw in canonical compact form.
func (d *decoder) canonical(field string, raw json.RawMessage) json.RawMessage {
	c, err := canonicalJSON(raw)
	if err != nil {
		d.add(field, "must be valid JSON")
		return nil
	}
	return c
}

// checkStepURL checks a step URL with its placeholders replaced.
func (d *decoder) checkStepURL(field, s string) {
	if len(s) > MaxURLLen {
		d.addf(field, "must be at most %d bytes", MaxURLLen)
		return
	}
	if loc := placeholder.FindStringIndex(s); loc != nil && loc[0] == 0 {
		return // the base comes from a variable: checked when the step runs
	}
	if err := checkHTTPURL(placeholder.ReplaceAllLiteralString(s, placeholderReplacement)); err != nil {
		d.add(field, "must be an absolute http or https URL with a host")
	}
}

// checkParams checks webhook_url_params values.
func (d *decoder) checkParams(o *object) {
	if len(o.fields) > MaxParams {
		d.addf(o.path, "must have at most %d parameters", MaxParams)
		return
	}
	for _, k := range o.keys() {
		raw := o.fields[k]
		switch jsonKind(raw) {
		case '"':
			var s string
			if json.Unmarshal(raw, &s) == nil && len(s) > maxParamValueBytes {
				d.addf(o.field(k), "must be at most %d bytes", maxParamValueBytes)
			}
		case '0', 't', 'f':
		default:
			d.add(o.field(k), "must be a string, number or boolean")
		}
		if k == "" {
			d.add(o.path, "parameter names must not be empty")
		}
	}
}

// checkHeaders checks webhook_headers names and values.
func (d *decoder) checkHeaders(o *object) {
	if len(o.fields) > MaxHeaders {
		d.addf(o.path, "must have at most %d headers", MaxHeaders)
		return
	}
	for _, k := range o.keys() {
		field := o.field(k)
		if !isToken(k) {
			d.add(field, "invalid header name")
			continue
		}
		s, ok := o.str(k)
		if !ok {
			if _, present := o.get(k); !present {
				d.add(field, "must be a string")
			}
			continue
		}
		switch {
		case len(s) > MaxHeaderValueBytes:
			d.addf(field, "must be at most %d KiB", MaxHeaderValueBytes>>10)
		case strings.ContainsAny(s, "\r\n\x00"):
			d.add(field, "must not contain line breaks or NUL characters")
		}
	}
}

// isToken reports whether s is a valid HTTP header name (an RFC 9110
// token).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// flowMapping reads flow_mapping; it returns the canonical mapping and its
// variable names (all keys but "records"). numbers are the step numbers, or
// nil when they are not all known.
func (d *decoder) flowMapping(raw json.RawMessage, numbers map[int]bool) (json.RawMessage, []string) {
	o, ok := d.object("flow_mapping", raw)
	if !ok {
		return json.RawMessage(`{}`), nil
	}
	var names []string
	for _, k := range o.keys() {
		field := o.field(k)
		if k == recordsMappingKey {
			d.recordsMapping(o, numbers)
			continue
		}
		names = append(names, k)
		if !variableName.MatchString(k) || len(k) > MaxVariableNameLen {
			d.add(field, "invalid variable name: must start with a letter or _ and contain only letters, digits, _, . and -")
		}
		d.gjsonPath(o, k)
	}
	return d.canonical("flow_mapping", raw), names
}

// gjsonPath reads a required gjson path.
func (d *decoder) gjsonPath(o *object, key string) {
	field := o.field(key)
	s, ok := o.str(key)
	switch {
	case !ok:
		if _, present := o.get(key); !present {
			d.add(field, "must be a gjson path (a string)")
		}
	case strings.TrimSpace(s) == "":
		d.add(field, "must not be empty")
	case len(s) > maxPathLen:
		d.addf(field, "must be at most %d bytes", maxPathLen)
	}
}

// recordsMapping checks flow_mapping.records.
func (d *decoder) recordsMapping(parent *object, numbers map[int]bool) {
	o, ok := parent.obj(recordsMappingKey)
	if !ok {
		if _, present := parent.get(recordsMappingKey); !present {
			d.add(parent.field(recordsMappingKey), "must be an object")
		}
		return
	}
	o.checkKeys(recordsMappingKeys, nil)
	if n, ok := o.integer("step"); ok {
		if numbers != nil && !numbers[n] {
			d.addf(o.field("step"), "step %d does not exist", n)
		}
	} else if _, present := o.get("step"); !present {
		d.add(o.field("step"), requiredMsg)
	}
	if _, present := o.get("path"); present {
		d.gjsonPath(o, "path")
	} else {
		d.add(o.field("path"), requiredMsg)
	}
	if fo, ok := o.obj("fields"); ok {
		for _, k := range fo.keys() {
			if k == "" {
				d.add(fo.path, "field names must not be empty")
			}
			d.gjsonPath(fo, k)
		}
	}
}

// stepReferences checks depends_on_step and variables[].stepId.
func (d *decoder) stepReferences(in *FlowInput, numbers map[int]bool) {
	for i, st := range in.Steps {
		if st.DependsOnStep == nil {
			continue
		}
		field := fmt.Sprintf("steps[%d].depends_on_step", i)
		switch dep := *st.DependsOnStep; {
		case st.StepNumber != 0 && dep == st.StepNumber:
			d.add(field, "a step cannot depend on itself")
		case !numbers[dep]:
			d.addf(field, "step %d does not exist", dep)
		}
	}
	for i, v := range in.Variables {
		if !d.badStepID[i] && !numbers[v.StepID] {
			d.addf(fmt.Sprintf("variables[%d].stepId", i), "step %d does not exist", v.StepID)
		}
	}
}

// templates checks that every placeholder of every step is declared.
func (d *decoder) templates(in *FlowInput, mappingKeys []string) {
	declared := map[string]bool{}
	for _, pv := range in.PredefinedVariables {
		declared[pv.Name] = true
	}
	for _, v := range in.Variables {
		declared[v.Name] = true
	}
	for _, k := range mappingKeys {
		declared[k] = true
	}
	check := func(field, s string) {
		for _, name := range TemplateNames(s) {
			if !declared[name] && !IsBuiltinVariable(name) {
				d.addf(field, "unknown variable %q", name)
			}
		}
	}
	for i, st := range in.Steps {
		base := fmt.Sprintf("steps[%d]", i)
		check(base+".webhook_url", st.WebhookURL)
		for _, part := range []struct {
			key string
			raw json.RawMessage
		}{
			{"webhook_url_params", st.WebhookURLParams},
			{"webhook_headers", st.WebhookHeaders},
			{"webhook_body", st.WebhookBody},
		} {
			prefix := base + "." + part.key
			_ = walkJSONStrings(part.raw, func(path, s string) error {
				check(prefix+path, s)
				return nil
			})
		}
	}
}

// cycles refuses dependency cycles between steps.
func (d *decoder) cycles(in *FlowInput, numbers map[int]bool) {
	deps := stepDependencies(in.Steps, in.Variables)
	for _, cycle := range dependencyCycles(deps, numbers) {
		if len(cycle) == 1 {
			d.addf("steps", "dependency cycle: step %d uses a variable it extracts itself", cycle[0])
			continue
		}
		d.addf("steps", "dependency cycle between steps %s", joinInts(cycle))
	}
}

// joinInts writes numbers as "1, 2 and 3".
func joinInts(ns []int) string {
	if len(ns) > maxReportedCycleMembers {
		ns = ns[:maxReportedCycleMembers]
	}
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = strconv.Itoa(n)
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// events reads the event patterns a flow subscribes to.
func (d *decoder) events(top *object) []string {
	elems, ok := top.array("events")
	if !ok {
		return []string{}
	}
	if len(elems) > MaxEventPatterns {
		d.addf("events", "must hold at most %d patterns", MaxEventPatterns)
		return []string{}
	}
	out := make([]string, 0, len(elems))
	seen := map[string]int{}
	for i, raw := range elems {
		field := fmt.Sprintf("events[%d]", i)
		var p string
		if jsonKind(raw) != '"' || json.Unmarshal(raw, &p) != nil {
			d.add(field, "must be a string")
			continue
		}
		if err := CheckEventPattern(p); err != nil {
			d.add(field, err.Error())
			continue
		}
		if j, dup := seen[p]; dup {
			d.addf(field, "repeats events[%d]", j)
			continue
		}
		seen[p] = i
		out = append(out, p)
	}
	return out
}

// eventFilter reads and compiles a flow's event_filter; blank counts as
// absent.
func (d *decoder) eventFilter(top *object) *string {
	s, ok := top.str("event_filter")
	if !ok || strings.TrimSpace(s) == "" {
		return nil
	}
	if _, err := CompileEventFilter(s); err != nil {
		d.add("event_filter", err.Error())
	}
	return &s
}
