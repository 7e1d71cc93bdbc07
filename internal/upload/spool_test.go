package upload_test

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgecam/edgecam/internal/testfixture"
	"github.com/edgecam/edgecam/internal/upload"
)

func spooled(at time.Time, size int) upload.Image {
	return upload.Image{Time: at, Tally: []byte(`{"bus":1}`), JPEG: bytes.Repeat([]byte{0xAB}, size)}
}

// An image over the byte budget is dropped with a warning; images that do not fit push the
// oldest out, with a warning each; what is kept survives a reopen, oldest first.
func TestSpoolBudget(t *testing.T) {
	var logs testfixture.LockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	dir := t.TempDir()
	s, err := upload.OpenSpool(dir, 1000, log)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := s.Push(spooled(t0, 2000)); err != nil {
		t.Fatal(err)
	}
	if s.Len() != 0 || s.Dropped() != 1 || !strings.Contains(logs.String(), "level=WARN msg=\"image bigger than the upload spool's byte budget: dropped\"") {
		t.Fatalf("oversized image: len %d dropped %d, log:\n%s", s.Len(), s.Dropped(), logs.String())
	}
	for i := range 4 {
		if err := s.Push(spooled(t0.Add(time.Duration(i)*time.Second), 250)); err != nil {
			t.Fatal(err)
		}
	}
	if s.Len() != 3 || s.Bytes() > 1000 || s.Dropped() != 2 {
		t.Fatalf("after 4 pushes of ~300 bytes into 1000: len %d bytes %d dropped %d", s.Len(), s.Bytes(), s.Dropped())
	}
	if !strings.Contains(logs.String(), "dropped the oldest image") {
		t.Fatalf("no warning for the dropped oldest image:\n%s", logs.String())
	}
	// A crash leftover is cleaned up at open.
	if err := os.WriteFile(filepath.Join(dir, ".00000000000000000009.img.tmp-123"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	s2, err := upload.OpenSpool(dir, 1000, log)
	if err != nil {
		t.Fatal(err)
	}
	img, ok, err := s2.Peek()
	if err != nil || !ok || !img.Time.Equal(t0.Add(time.Second)) || len(img.JPEG) != 250 || string(img.Tally) != `{"bus":1}` {
		t.Fatalf("reopened spool: oldest %v %v %v (%d bytes, tally %s), want the second image", ok, err, img.Time, len(img.JPEG), img.Tally)
	}
	if err := s2.Ack(img.Seq); err != nil || s2.Len() != 2 {
		t.Fatalf("ack: %v, %d left", err, s2.Len())
	}
	if _, err := os.Stat(filepath.Join(dir, ".00000000000000000009.img.tmp-123")); !os.IsNotExist(err) {
		t.Fatalf("temp file not removed: %v", err)
	}
}

// A corrupt file is skipped with a warning, never a crash.
func TestSpoolCorruptFile(t *testing.T) {
	dir := t.TempDir()
	s, err := upload.OpenSpool(dir, 1<<20, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	for i := range 2 {
		if err := s.Push(spooled(t0.Add(time.Duration(i)*time.Second), 10)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "00000000000000000001.img"), []byte("EUP1\xff\xff"), 0o600); err != nil {
		t.Fatal(err)
	}
	img, ok, err := s.Peek()
	if err != nil || !ok || img.Seq != 2 {
		t.Fatalf("peek after corruption: %+v %v %v", img.Seq, ok, err)
	}
}

// A full disk (ENOSPC) before the budget is reached drops the oldest images to make room for the
// newest, with a warning; with nothing left to drop the error is returned.
func TestSpoolDiskFull(t *testing.T) {
	var logs testfixture.LockedBuffer
	s, err := upload.OpenSpool(t.TempDir(), 1<<20, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range 3 {
		if err := s.Push(spooled(t0.Add(time.Duration(i)*time.Second), 100)); err != nil {
			t.Fatal(err)
		}
	}
	full := 2 // the next write fails twice: two images must go
	restore := upload.SetWriteFile(func(path string, data []byte, perm os.FileMode) error {
		if full > 0 {
			full--
			return &os.PathError{Op: "write", Path: path, Err: syscall.ENOSPC}
		}
		return os.WriteFile(path, data, perm)
	})
	defer restore()
	if err := s.Push(spooled(t0.Add(time.Minute), 100)); err != nil {
		t.Fatal(err)
	}
	img, _, _ := s.Peek()
	if s.Len() != 2 || s.Dropped() != 2 || !img.Time.Equal(t0.Add(2*time.Second)) || strings.Count(logs.String(), "disk full: dropped the oldest image") != 2 {
		t.Fatalf("len %d dropped %d oldest %v, log:\n%s", s.Len(), s.Dropped(), img.Time, logs.String())
	}
	full = 10
	for s.Len() > 0 {
		p, _, _ := s.Peek()
		s.Ack(p.Seq)
	}
	if err := s.Push(spooled(t0.Add(2*time.Minute), 100)); err == nil || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("push on a full disk with nothing to drop: %v", err)
	}
}
