package redact

// TEMPORARY stub of helper-2's contract; deleted on merge.

import (
	"log/slog"
	"net/http"
)

const Mask = "[redacted]"

func SensitiveName(name string) bool                      { return false }
func Headers(h map[string]string) map[string]string       { return h }
func HTTPHeader(h http.Header) map[string]string          { return nil }
func SecretValues(vars map[string]any) []string           { return nil }
func String(s string, secrets []string) string            { return s }
func URL(raw string, secrets []string) string             { return raw }
func JSON(raw []byte, secrets []string) []byte            { return raw }
func Vars(vars map[string]any) map[string]any             { return vars }

func ReplaceAttr(groups []string, a slog.Attr) slog.Attr { return a }
