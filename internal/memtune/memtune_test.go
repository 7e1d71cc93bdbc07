package memtune

import (
	"runtime/debug"
	"testing"
	"time"
)

func TestTuneAndTrim(t *testing.T) {
	if !Tune(DefaultArenas, DefaultMmapThreshold) {
		t.Fatal("glibc refused the malloc settings")
	}
	held, free := Stats()
	if held == 0 || free > held {
		t.Fatalf("Stats() = %d held, %d free", held, free)
	}
	Trim() // reports whether anything was released; either is fine
}

func TestTrimEveryRateLimits(t *testing.T) {
	TrimEvery(0)
	if TrimEvery(time.Hour) {
		t.Fatal("a second trim within the interval ran")
	}
}

func TestSetGoLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	t.Setenv("GOMEMLIMIT", "")
	if limit, from := SetGoLimit(); limit != DefaultGoLimit || from != "default" || debug.SetMemoryLimit(-1) != DefaultGoLimit {
		t.Fatalf("no GOMEMLIMIT: got %d from %s", limit, from)
	}
	t.Setenv("GOMEMLIMIT", "300MiB")
	debug.SetMemoryLimit(300 << 20) // what the runtime does at start with that variable
	if limit, from := SetGoLimit(); limit != 300<<20 || from != "GOMEMLIMIT" {
		t.Fatalf("GOMEMLIMIT=300MiB: got %d from %s", limit, from)
	}
}
