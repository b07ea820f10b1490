package api

// RouteForTest is a documented /v1 route, for the external test package.
type RouteForTest struct {
	Method, Path string
	// Public routes take no Bearer token.
	Public bool
}

// RoutesForTest lists the documented /v1 routes (the garbage and isolation
// tests walk them all).
func RoutesForTest() []RouteForTest {
	var out []RouteForTest
	for _, rt := range (&Server{}).v1Routes() {
		out = append(out, RouteForTest{Method: rt.method, Path: rt.path, Public: rt.public})
	}
	return out
}
