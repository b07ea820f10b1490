package api

// RoutesForTest lists the documented /v1 routes as "METHOD PATH" pairs, for
// the external test package (garbage and isolation tests walk them).
func RoutesForTest() [][2]string {
	var out [][2]string
	for _, rt := range (&Server{}).v1Routes() {
		out = append(out, [2]string{rt.method, rt.path})
	}
	return out
}
