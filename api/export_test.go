package api

// Route is a registered /v1 route, for the OpenAPI test.
type Route struct {
	Method, Path string
	Public       bool
}

// RouteList returns the /v1 routes s registers.
func RouteList(s *Server) []Route {
	var out []Route
	for _, rt := range s.v1Routes() {
		out = append(out, Route{rt.method, rt.path, rt.public})
	}
	return out
}
