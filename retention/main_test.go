package retention_test

import (
	"testing"

	"github.com/flowd/flowd/internal/testdb"
)

// TestMain drops the test databases. Every test that prunes has a database
// of its own (testdb.NewDatabase): a prune deletes every company's old
// rows, so tests sharing a database would delete each other's.
func TestMain(m *testing.M) { testdb.Main(m) }
