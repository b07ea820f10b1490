package redact

import "log/slog"

// ReplaceAttr masks the value of a log attribute whose key is sensitive (see
// SensitiveName) and returns other attributes unchanged. It has the
// signature of slog.HandlerOptions.ReplaceAttr; groups is not consulted.
func ReplaceAttr(groups []string, a slog.Attr) slog.Attr {
	if SensitiveName(a.Key) {
		return slog.String(a.Key, Mask)
	}
	return a
}
