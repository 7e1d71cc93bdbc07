// Package memtune keeps the daemon's resident memory flat over months: the Go memory limit, and
// the C heap, which Go's runtime does not manage. OpenCV and ONNX Runtime
// allocate with glibc malloc, from whichever OS thread the Go scheduler runs the cgo call on.
// glibc gives threads their own arenas (up to 8 per core) and, after a large block is freed, raises
// its mmap threshold so that later frame-sized blocks come from those arenas instead of mmap. A
// freed block inside an arena is kept for reuse, not returned, so every new thread and every
// frame size seen adds resident memory that is never given back: the slow native growth of issue
// 16. Loading the package caps the arenas at DefaultArenas and pins the mmap threshold at
// DefaultMmapThreshold (a C constructor, before the Go runtime starts threads); Tune changes them;
// Trim returns the free pages of every arena.
//
// On a C library other than glibc both do nothing.
package memtune

/*
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
static int nm_tune(int arenas, int mmapThreshold) {
	int ok = 1;
	if (arenas > 0 && !mallopt(M_ARENA_MAX, arenas)) ok = 0;
	if (mmapThreshold > 0 && !mallopt(M_MMAP_THRESHOLD, mmapThreshold)) ok = 0;
	return ok;
}
static int nm_trim(void) { return malloc_trim(0); }
// Runs when the executable is loaded, before the Go runtime starts its threads: an arena a thread
// has taken before the cap is set stays with it (measured: five arenas with the cap set from main).
__attribute__((constructor)) static void nm_early(void) {
	mallopt(M_ARENA_MAX, 2);
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
}
static size_t nm_arena_bytes(void) {
	struct mallinfo2 mi = mallinfo2();
	return mi.arena + mi.hblkhd;
}
static size_t nm_free_bytes(void) {
	struct mallinfo2 mi = mallinfo2();
	return mi.fordblks;
}
static size_t nm_inuse_bytes(void) {
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}
#else
static int nm_tune(int arenas, int mmapThreshold) { return 0; }
static int nm_trim(void) { return 0; }
static size_t nm_arena_bytes(void) { return 0; }
static size_t nm_free_bytes(void) { return 0; }
static size_t nm_inuse_bytes(void) { return 0; }
#endif
*/
import "C"

import (
	"os"
	"runtime/debug"
	"sync"
	"time"
)

// Defaults (nm_early applies the same values at load; keep them in step): two arenas (the Go
// threads that call into C take turns; their allocations are a few large blocks per frame, so
// lock contention does not matter) and an mmap threshold of 1 MiB, so that frames and other large
// blocks are mapped and unmapped rather than kept in an arena, while small allocations stay in
// the heap.
const (
	DefaultArenas        = 2
	DefaultMmapThreshold = 1 << 20
)

// Tune sets glibc malloc's arena cap and mmap threshold (0 leaves one unchanged). Threads that
// already have an arena keep it. It reports whether glibc accepted the settings.
func Tune(arenas, mmapThreshold int) bool {
	return C.nm_tune(C.int(arenas), C.int(mmapThreshold)) == 1
}

// Trim gives the free pages of every malloc arena back to the operating system. It reports
// whether any memory was released.
func Trim() bool { return C.nm_trim() == 1 }

// Stats returns the bytes glibc malloc holds from the system (arenas plus mmapped blocks) and the
// bytes of those that are free.
func Stats() (held, free uint64) {
	return uint64(C.nm_arena_bytes()), uint64(C.nm_free_bytes())
}

// InUse returns the bytes of C memory allocated with malloc and not yet freed (every arena, plus
// the blocks malloc mapped on their own): what a native leak makes grow. 0 without glibc.
func InUse() uint64 { return uint64(C.nm_inuse_bytes()) }

// DefaultGoLimit is the soft limit on the Go runtime's memory (heap, stacks, metadata) that
// SetGoLimit applies when $GOMEMLIMIT is not set. The daemon's live Go heap is a few MB per camera
// (measured: 20-35 MB in use with four cameras at a 1 s period, garbage included); above the limit
// the collector runs more often instead of letting the heap double.
const DefaultGoLimit = 96 << 20

// SetGoLimit applies DefaultGoLimit unless $GOMEMLIMIT is set (then the Go runtime has already
// applied it), and returns the limit in effect and where it came from.
func SetGoLimit() (limit int64, from string) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return debug.SetMemoryLimit(-1), "GOMEMLIMIT"
	}
	debug.SetMemoryLimit(DefaultGoLimit)
	return DefaultGoLimit, "default"
}

var trimMu struct {
	sync.Mutex
	last time.Time
}

// TrimEvery calls Trim unless it ran less than interval ago. Callers on many goroutines (one per
// camera) share the interval.
func TrimEvery(interval time.Duration) bool {
	trimMu.Lock()
	now := time.Now()
	if !trimMu.last.IsZero() && now.Sub(trimMu.last) < interval {
		trimMu.Unlock()
		return false
	}
	trimMu.last = now
	trimMu.Unlock()
	return Trim()
}
