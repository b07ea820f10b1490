package auth_test

import (
	"testing"

	"github.com/flowd/flowd/internal/testdb"
)

// TestMain drops the package's test database after the tests.
func TestMain(m *testing.M) { testdb.Main(m) }
