package outages

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	RemoveBinaries()
	os.Exit(code)
}

// setup is what every test here starts from: the run's size, and a skip
// in -short mode (these tests start processes and take seconds).
func setup(t *testing.T) Size {
	t.Helper()
	if testing.Short() {
		t.Skip("fault tests start redis-server and runq processes; skipped in -short mode")
	}
	size, err := SizeFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	RedisBinary(t)
	return size
}
