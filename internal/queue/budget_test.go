package queue

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/edgecam/edgecam/internal/testfixture"
)

// A byte budget keeps the newest items that fit, oldest dropped first, and holds across a
// restart; an item larger than the whole budget is refused.
func TestByteBudgetDropsOldest(t *testing.T) {
	dir := t.TempDir()
	var lb testfixture.LockedBuffer
	q, err := OpenWith(dir, Options{MaxEntries: 100, MaxBytes: 3 * blockSize, Logger: slog.New(slog.NewTextHandler(&lb, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		if err := q.Push(item(i)); err != nil {
			t.Fatal(err)
		}
	}
	if q.Len() != 3 || q.Bytes() != 3*blockSize || q.DroppedBy(DropFull) != 2 || q.Dropped() != 2 {
		t.Fatalf("len %d, bytes %d, dropped %d: want 3 items in 3 blocks, 2 dropped", q.Len(), q.Bytes(), q.DroppedBy(DropFull))
	}
	checkItem(t, mustPeek(t, q), 3)
	if !strings.Contains(lb.String(), "queue full: dropped the oldest telemetry") {
		t.Errorf("no warning:\n%s", lb.String())
	}
	err = q.Push(Item{Body: bytes.Repeat([]byte("x"), 4*blockSize)})
	if err == nil || !strings.Contains(err.Error(), "larger than the queue's budget of 12288 bytes") {
		t.Errorf("oversized item: %v", err)
	}
	q.Close()

	// Reopened with a smaller budget: the oldest go.
	q, err = OpenWith(dir, Options{MaxEntries: 100, MaxBytes: 2 * blockSize})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if q.Len() != 2 {
		t.Fatalf("after reopening smaller: %d items", q.Len())
	}
	checkItem(t, mustPeek(t, q), 4)
	if err := q.Ack(); err != nil || q.Bytes() != blockSize {
		t.Errorf("after Ack: bytes %d, %v", q.Bytes(), err)
	}
}

// On a full disk (ENOSPC) the oldest items are dropped to make room for the new one, counted
// apart; with nothing left to drop the error comes back.
func TestDiskFullDropsOldestForNewest(t *testing.T) {
	q, lb := open(t, t.TempDir(), 100)
	for i := 1; i <= 3; i++ {
		if err := q.Push(item(i)); err != nil {
			t.Fatal(err)
		}
	}
	// The disk has room for the new item only once two old ones are gone.
	realWrite := writeFile
	t.Cleanup(func() { writeFile = realWrite })
	writeFile = func(path string, data []byte) error {
		entries, _ := os.ReadDir(filepath.Dir(path))
		if n := countItems(entries); n > 1 {
			return &os.PathError{Op: "write", Path: path, Err: syscall.ENOSPC}
		}
		return realWrite(path, data)
	}
	if err := q.Push(item(4)); err != nil {
		t.Fatal(err)
	}
	if q.Len() != 2 || q.DroppedBy(DropDiskFull) != 2 || q.DroppedBy(DropFull) != 0 {
		t.Fatalf("len %d, disk-full drops %d, full drops %d; want 2, 2, 0", q.Len(), q.DroppedBy(DropDiskFull), q.DroppedBy(DropFull))
	}
	checkItem(t, mustPeek(t, q), 3)
	if !strings.Contains(lb.String(), "disk full: dropped the oldest telemetry to make room for the newest") {
		t.Errorf("no warning:\n%s", lb.String())
	}
	writeFile = func(path string, data []byte) error {
		return &os.PathError{Op: "write", Path: path, Err: syscall.ENOSPC}
	}
	err := q.Push(item(5))
	if err == nil || !strings.Contains(err.Error(), "no space left on device") || q.Len() != 0 {
		t.Errorf("Push on a disk without room: %v, %d items left", err, q.Len())
	}
}

func countItems(entries []os.DirEntry) int {
	n := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), suffix) {
			n++
		}
	}
	return n
}

// A crash mid-Push leaves a temporary file; Open removes it, so crashes cannot pile them up.
func TestOpenRemovesTemporaries(t *testing.T) {
	dir := t.TempDir()
	q, _ := open(t, dir, 10)
	if err := q.Push(item(1)); err != nil {
		t.Fatal(err)
	}
	q.Close()
	for i := range 3 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%020d%s", 100+i, tmpSfx)), []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	q, _ = open(t, dir, 10)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), tmpSfx) {
			t.Errorf("temporary file %s left", e.Name())
		}
	}
	if q.Len() != 1 {
		t.Errorf("%d items", q.Len())
	}
}
