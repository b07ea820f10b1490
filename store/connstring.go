package store

import (
	"regexp"
	"strings"
)

var dbnameParam = regexp.MustCompile(`dbname=\S+`)

// ConnStringWithDatabase returns a PostgreSQL connection string (a URL or
// key=value pairs) naming database db instead of its own.
func ConnStringWithDatabase(connString, db string) string {
	if strings.HasPrefix(connString, "postgres://") || strings.HasPrefix(connString, "postgresql://") {
		base, query, _ := strings.Cut(connString, "?")
		scheme, rest, _ := strings.Cut(base, "://")
		host, _, _ := strings.Cut(rest, "/")
		out := scheme + "://" + host + "/" + db
		if query != "" {
			out += "?" + query
		}
		return out
	}
	if dbnameParam.MatchString(connString) {
		return dbnameParam.ReplaceAllString(connString, "dbname="+db)
	}
	return connString + " dbname=" + db
}
