package queue

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgecam/edgecam/internal/testfixture"
)

func open(t *testing.T, dir string, max int) (*Queue, *testfixture.LockedBuffer) {
	t.Helper()
	var lb testfixture.LockedBuffer
	q, err := Open(dir, max, slog.New(slog.NewTextHandler(&lb, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q, &lb
}

func item(i int) Item {
	return Item{
		Time:  time.Date(2026, 1, 2, 3, 4, 5, i*1000, time.UTC),
		Body:  []byte(fmt.Sprintf(`{"person":%d}`, i)),
		Props: map[string]string{"iothub-creation-time-utc": fmt.Sprint(i)},
	}
}

func mustPeek(t *testing.T, q *Queue) Item {
	t.Helper()
	it, ok, err := q.Peek()
	if err != nil || !ok {
		t.Fatalf("Peek = %v, %v", ok, err)
	}
	return it
}

func checkItem(t *testing.T, got Item, i int) {
	t.Helper()
	want := item(i)
	if !got.Time.Equal(want.Time) || string(got.Body) != string(want.Body) || got.Props["iothub-creation-time-utc"] != fmt.Sprint(i) {
		t.Fatalf("item = %+v (%s), want %+v (%s)", got, got.Body, want, want.Body)
	}
}

func TestFIFOAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	q, _ := open(t, dir, 10)
	if _, ok, err := q.Peek(); ok || err != nil {
		t.Fatalf("empty Peek = %v, %v", ok, err)
	}
	for i := range 5 {
		if err := q.Push(item(i)); err != nil {
			t.Fatal(err)
		}
	}
	checkItem(t, mustPeek(t, q), 0)
	if err := q.Ack(); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := q.Push(item(9)); err != ErrClosed {
		t.Fatalf("Push after Close = %v", err)
	}

	q2, _ := open(t, dir, 10)
	if q2.Len() != 4 {
		t.Fatalf("Len after reopen = %d, want 4", q2.Len())
	}
	select {
	case <-q2.Ready():
	default:
		t.Fatal("Ready not signalled for items found at Open")
	}
	if err := q2.Push(item(5)); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		it := mustPeek(t, q2)
		checkItem(t, it, i)
		if err := q2.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	if q2.Len() != 0 {
		t.Fatalf("Len = %d", q2.Len())
	}
	// Sequence numbers keep increasing across a restart, so order holds.
	names, _ := filepath.Glob(filepath.Join(dir, "*"+suffix))
	if len(names) != 0 {
		t.Fatalf("files left: %v", names)
	}
}

func TestFullDropsOldest(t *testing.T) {
	q, logs := open(t, t.TempDir(), 3)
	for i := range 5 {
		if err := q.Push(item(i)); err != nil {
			t.Fatal(err)
		}
	}
	if q.Len() != 3 || q.Dropped() != 2 {
		t.Fatalf("Len %d Dropped %d, want 3 and 2", q.Len(), q.Dropped())
	}
	if !strings.Contains(logs.String(), "queue full: dropped the oldest telemetry") {
		t.Fatalf("no warning logged:\n%s", logs)
	}
	checkItem(t, mustPeek(t, q), 2)
}

func TestAckAfterDropKeepsUndelivered(t *testing.T) {
	q, _ := open(t, t.TempDir(), 2)
	q.Push(item(0))
	q.Push(item(1))
	checkItem(t, mustPeek(t, q), 0) // being delivered...
	q.Push(item(2))                 // ...while the full queue drops it
	if err := q.Ack(); err != nil {
		t.Fatal(err)
	}
	// Item 1 was never delivered and must still be there.
	if q.Len() != 2 {
		t.Fatalf("Len = %d, want 2", q.Len())
	}
	checkItem(t, mustPeek(t, q), 1)
}

func TestCorruptItemsSkipped(t *testing.T) {
	dir := t.TempDir()
	q, _ := open(t, dir, 10)
	for i := range 4 {
		q.Push(item(i))
	}
	q.Close()
	files, _ := filepath.Glob(filepath.Join(dir, "*"+suffix))
	if len(files) != 4 {
		t.Fatalf("%d files", len(files))
	}
	// Item 0 truncated, item 2 with a flipped byte, a stale temporary file and a stray file.
	b, _ := os.ReadFile(files[0])
	os.WriteFile(files[0], b[:len(b)/2], 0o600)
	b, _ = os.ReadFile(files[2])
	b[len(b)-3] ^= 0xff
	os.WriteFile(files[2], b, 0o600)
	os.WriteFile(filepath.Join(dir, "00000000000000000099.tmp"), []byte("partial"), 0o600)
	os.WriteFile(filepath.Join(dir, "notes"+suffix), []byte("x"), 0o600)

	q2, logs := open(t, dir, 10)
	if q2.Len() != 2 {
		t.Fatalf("Len = %d, want 2", q2.Len())
	}
	if n := strings.Count(logs.String(), "removing a corrupt queue item"); n != 2 {
		t.Fatalf("%d corrupt warnings:\n%s", n, logs)
	}
	checkItem(t, mustPeek(t, q2), 1)
	q2.Ack()
	checkItem(t, mustPeek(t, q2), 3)

	// An item damaged after Open is skipped by Peek.
	q2.Push(item(4))
	os.WriteFile(files[3], []byte("EQ01garbage"), 0o600)
	checkItem(t, mustPeek(t, q2), 4)
	if !strings.Contains(logs.String(), "skipping a corrupt queue item") {
		t.Fatalf("no warning:\n%s", logs)
	}
	if _, err := os.Stat(filepath.Join(dir, "00000000000000000099.tmp")); !os.IsNotExist(err) {
		t.Fatal("stale temporary file not removed")
	}
}

func TestEmptyBodyAndNoProps(t *testing.T) {
	q, _ := open(t, t.TempDir(), 1)
	if err := q.Push(Item{Time: time.Unix(1, 0)}); err != nil {
		t.Fatal(err)
	}
	it := mustPeek(t, q)
	if len(it.Body) != 0 || it.Props != nil || !it.Time.Equal(time.Unix(1, 0)) || it.Seq == 0 {
		t.Fatalf("item = %+v", it)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(dir, 0, nil); err == nil {
		t.Fatal("maxEntries 0 accepted")
	}
	q, _ := open(t, dir, 5)
	if _, err := Open(dir, 5, nil); err == nil || !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("second Open = %v", err)
	}
	q.Close()
	q2, err := Open(dir, 5, nil)
	if err != nil {
		t.Fatalf("Open after Close = %v", err)
	}
	q2.Close()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := Open(filepath.Join(file, "q"), 5, nil); err == nil {
		t.Fatal("Open under a file succeeded")
	}
}

func TestReopenSmallerDropsOldest(t *testing.T) {
	dir := t.TempDir()
	q, _ := open(t, dir, 10)
	for i := range 6 {
		q.Push(item(i))
	}
	q.Close()
	q2, _ := open(t, dir, 4)
	if q2.Len() != 4 || q2.Dropped() != 2 {
		t.Fatalf("Len %d Dropped %d", q2.Len(), q2.Dropped())
	}
	checkItem(t, mustPeek(t, q2), 2)
}

// TestConcurrent runs a producer and a consumer at once (run with -race): every item arrives
// once, in order.
func TestConcurrent(t *testing.T) {
	q, _ := open(t, t.TempDir(), 1000)
	const n = 200
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range n {
			if err := q.Push(item(i)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	got := 0
	deadline := time.After(60 * time.Second)
	for got < n {
		it, ok, err := q.Peek()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			select {
			case <-q.Ready():
			case <-deadline:
				t.Fatalf("only %d of %d items arrived", got, n)
			}
			continue
		}
		checkItem(t, it, got)
		if err := q.Ack(); err != nil {
			t.Fatal(err)
		}
		got++
		_ = q.Len()
		_ = q.Dropped()
	}
	wg.Wait()
}

func BenchmarkPush(b *testing.B) {
	q, err := Open(b.TempDir(), 1_000_000, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	it := item(1)
	for b.Loop() {
		if err := q.Push(it); err != nil {
			b.Fatal(err)
		}
	}
}
