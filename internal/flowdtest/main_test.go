package flowdtest

import (
	"testing"

	"github.com/flowd/flowd/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }
