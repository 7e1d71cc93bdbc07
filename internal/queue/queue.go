// Package queue is edgecam's store-and-forward queue of tallies: telemetry that could not be
// delivered yet waits on disk and is handed back oldest first, across restarts. It is the tally
// face of internal/spool (one file per item under state.dir/queue/<camera>, counted in whole
// 4 KiB blocks against the byte budget, the directory locked against a second process); see
// that package for what a crash, a corrupt file or a full disk do.
package queue

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/edgecam/edgecam/internal/spool"
)

// Item is one queued message.
type Item struct {
	// Time is when the tally was produced (the capture time); it is sent as
	// iothub-creation-time-utc so a late delivery keeps its original timestamp.
	Time  time.Time
	Body  []byte
	Props map[string]string
	// Seq is the item's position in the queue, assigned by Push (increasing, never reused).
	Seq uint64
}

// Options bound a queue. MaxEntries is required; MaxBytes is optional.
type Options struct {
	// MaxEntries is the most items kept (at least 1).
	MaxEntries int
	// MaxBytes, when positive, is the most bytes the items may take on disk, each counted as
	// its file size rounded up to whole 4 KiB blocks (what it really costs on ext4/FAT).
	MaxBytes int64
	// Logger receives the warnings; nil means slog.Default().
	Logger *slog.Logger
}

// DropReason says why items were dropped.
type DropReason = spool.DropReason

// Why an item is dropped.
const (
	DropFull     = spool.DropFull     // MaxEntries or MaxBytes reached
	DropDiskFull = spool.DropDiskFull // the file system had no room (ENOSPC, EDQUOT)
	DropCorrupt  = spool.DropCorrupt  // the item could not be read back intact
)

// DropReasons lists every DropReason a queue counts, for metrics.
var DropReasons = []DropReason{DropFull, DropDiskFull, DropCorrupt}

const (
	suffix    = ".msg"
	tmpSfx    = ".tmp"
	blockSize = 4096 // the unit items are counted in against MaxBytes
)

// ErrClosed is returned by operations on a closed queue.
var ErrClosed = spool.ErrClosed

// writeFile writes an item's file durably; a variable so a test can fill the disk.
var writeFile = spool.WriteFile

// Queue is a bounded on-disk FIFO of tallies. It is safe for concurrent use; the intended use
// is one producer (Push) and one sender (Peek, deliver, Ack).
type Queue struct {
	*spool.Spool
	mu     sync.Mutex
	peeked uint64 // seq returned by the last Peek, 0 for none
}

// Open opens (creating it if needed) the queue in dir, holding at most maxEntries items. The
// directory is locked against a second edgecam process. Stale temporary files from a crash are
// removed, and corrupt items are removed with a warning. logger may be nil (slog.Default()).
func Open(dir string, maxEntries int, logger *slog.Logger) (*Queue, error) {
	return OpenWith(dir, Options{MaxEntries: maxEntries, Logger: logger})
}

// OpenWith is Open with every bound as an option (a byte budget too).
func OpenWith(dir string, opts Options) (*Queue, error) {
	if opts.MaxEntries <= 0 {
		return nil, fmt.Errorf("queue %s: maxEntries %d must be at least 1", dir, opts.MaxEntries)
	}
	if opts.MaxBytes < 0 {
		return nil, fmt.Errorf("queue %s: maxBytes %d is negative", dir, opts.MaxBytes)
	}
	s, err := spool.Open(dir, spool.Options{
		Suffix: suffix, Name: "queue", What: "telemetry",
		MaxItems: opts.MaxEntries, MaxBytes: opts.MaxBytes, BlockSize: blockSize, Lock: true,
		Logger:    opts.Logger,
		WriteFile: func(path string, data []byte) error { return writeFile(path, data) },
	})
	if err != nil {
		return nil, err
	}
	return &Queue{Spool: s}, nil
}

// Push stores it durably (written, synced and renamed into place before Push returns). When
// the queue is full the oldest item is dropped first, with a warning.
func (q *Queue) Push(it Item) error {
	_, err := q.Spool.Push(spool.Item{Time: it.Time, Meta: it.Props, Data: it.Body})
	return err
}

// Peek returns the oldest item without removing it; ok is false when the queue is empty. An
// item that can no longer be read intact is removed with a warning and the next one returned.
func (q *Queue) Peek() (Item, bool, error) {
	it, ok, err := q.Spool.Peek()
	q.mu.Lock()
	q.peeked = it.Seq
	q.mu.Unlock()
	if !ok || err != nil {
		return Item{}, ok, err
	}
	return Item{Time: it.Time, Body: it.Data, Props: it.Meta, Seq: it.Seq}, true, nil
}

// Ack removes the item the last Peek returned, once it has been delivered. If that item was
// dropped meanwhile (the queue was full), Ack removes nothing. Without a preceding Peek it
// removes the oldest item.
func (q *Queue) Ack() error {
	q.mu.Lock()
	seq := q.peeked
	q.peeked = 0
	q.mu.Unlock()
	if seq == 0 {
		seq = q.Oldest()
	}
	return q.Spool.Ack(seq)
}

// Dropped returns how many items were dropped because the queue or the disk was full, since Open.
func (q *Queue) Dropped() uint64 {
	return q.DroppedBy(DropFull) + q.DroppedBy(DropDiskFull)
}
