package engine_test

import (
	"testing"

	"github.com/flowd/flowd/internal/testdb"
)

// TestMain drops the package's test database (used by the end-to-end run
// tests; the pure tests never create it).
func TestMain(m *testing.M) { testdb.Main(m) }
