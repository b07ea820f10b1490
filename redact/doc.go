// Package redact keeps secrets out of what flowd stores and logs: the
// request recorded for each step attempt, execution variables shown by the
// API, and slog output.
//
// Two kinds of masking are offered. By name: a header, query parameter, JSON
// key, variable or log attribute whose name looks sensitive (SensitiveName)
// has its value replaced by Mask. By value: every occurrence of a known
// secret (SecretValues collects them from a flow's variables), and of its
// escaped forms, is replaced by Mask wherever it appears (String, URL,
// JSON).
//
// Every function returns a copy and leaves its input unchanged. The package
// must not be used to decide what is sent: requests go out unredacted, and
// only the copies kept for records and logs pass through here. It must not
// log, must not do I/O, and must not fail: input it cannot parse is masked as
// plain text.
package redact
