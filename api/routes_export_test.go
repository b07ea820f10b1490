package api

// RouteForTest is a route of the route table (every operation of the
// OpenAPI document), for the external test package.
type RouteForTest struct {
	Method, Path string
	// Public routes take no Bearer token.
	Public bool
	// Scope is the token scope the route needs; "" when Public.
	Scope string
}

// RoutesForTest lists the route table (the OpenAPI, garbage and isolation
// tests walk it).
func RoutesForTest() []RouteForTest {
	var out []RouteForTest
	for _, rt := range (&Server{}).routeTable() {
		out = append(out, RouteForTest{Method: rt.method, Path: rt.path, Public: rt.scope == public, Scope: string(rt.scope)})
	}
	return out
}
