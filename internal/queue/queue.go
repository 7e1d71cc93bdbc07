// Package queue is edgecam's store-and-forward queue: telemetry that could not be delivered is
// kept on disk, one file per item, and handed back oldest first, across restarts.
//
// Each item is written to a temporary file, synced and renamed into place, so a crash leaves
// either the whole item or none of it. An item whose file is truncated or corrupt (a failing SD
// card) is skipped with a warning, never a crash. The queue is bounded in items and, with
// Options.MaxBytes, in bytes on disk: when it is full the oldest items are dropped, with a
// warning, and counted by reason. When the disk itself is full (ENOSPC) the oldest items are
// dropped to make room for the new one, so the newest data survives a full SD card.
package queue

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
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
type DropReason string

// Why an item is dropped.
const (
	DropFull     DropReason = "full"      // MaxEntries or MaxBytes reached
	DropDiskFull DropReason = "disk_full" // the file system had no room (ENOSPC, EDQUOT)
	DropCorrupt  DropReason = "corrupt"   // the item could not be read back intact
)

// DropReasons lists every DropReason, for metrics.
var DropReasons = []DropReason{DropFull, DropDiskFull, DropCorrupt}

// blockSize is the unit items are counted in against MaxBytes.
const blockSize = 4096

// maxDiskFullDrops bounds the old items one Push drops when the disk is full.
const maxDiskFullDrops = 4

// Queue is a bounded on-disk FIFO. It is safe for concurrent use; the intended use is one
// producer (Push) and one sender (Peek, deliver, Ack).
type Queue struct {
	dir      string
	max      int
	maxBytes int64
	log      *slog.Logger
	lock     *os.File

	mu      sync.Mutex
	seqs    []uint64 // queued items, oldest first
	sizes   []int64  // their sizes on disk, as counted against maxBytes
	bytes   int64    // sum of sizes
	next    uint64
	peeked  uint64 // seq returned by the last Peek, 0 for none
	dropped map[DropReason]uint64
	closed  bool
	ready   chan struct{}
}

const (
	suffix  = ".msg"
	tmpSfx  = ".tmp"
	magic   = "EQ01"
	hdrSize = len(magic) + 4 + 4 // magic, CRC-32 (Castagnoli) of the payload, payload length
)

var (
	// ErrClosed is returned by operations on a closed queue.
	ErrClosed = errors.New("queue: closed")
	crcTable  = crc32.MakeTable(crc32.Castagnoli)
)

// Open opens (creating it if needed) the queue in dir, holding at most maxEntries items. The
// directory is locked against a second edgecam process. Stale temporary files from a crash are
// removed, and corrupt items are removed with a warning. logger may be nil (slog.Default()).
func Open(dir string, maxEntries int, logger *slog.Logger) (*Queue, error) {
	return OpenWith(dir, Options{MaxEntries: maxEntries, Logger: logger})
}

// OpenWith is Open with every bound as an option (a byte budget too).
func OpenWith(dir string, opts Options) (*Queue, error) {
	maxEntries, logger := opts.MaxEntries, opts.Logger
	if maxEntries <= 0 {
		return nil, fmt.Errorf("queue %s: maxEntries %d must be at least 1", dir, maxEntries)
	}
	if opts.MaxBytes < 0 {
		return nil, fmt.Errorf("queue %s: maxBytes %d is negative", dir, opts.MaxBytes)
	}
	if logger == nil {
		logger = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("queue %s is in use by another process (%v): run one edgecam per state.dir", dir, err)
	}
	q := &Queue{dir: dir, max: maxEntries, maxBytes: opts.MaxBytes, log: logger.With("queue", dir), lock: lock, next: 1,
		ready: make(chan struct{}, 1), dropped: map[DropReason]uint64{}}
	if err := q.scan(); err != nil {
		lock.Close()
		return nil, err
	}
	for len(q.seqs) > q.max || q.overBytes(0) {
		q.dropOldest(DropFull)
	}
	if len(q.seqs) > 0 {
		q.log.Info("queued telemetry found", "items", len(q.seqs))
		q.ready <- struct{}{}
	}
	return q, nil
}

// scan loads the item list from the directory.
func (q *Queue) scan() error {
	entries, err := os.ReadDir(q.dir)
	if err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, tmpSfx):
			// A Push interrupted by a crash: never acknowledged to its caller.
			_ = os.Remove(filepath.Join(q.dir, name))
		case strings.HasSuffix(name, suffix):
			seq, err := strconv.ParseUint(strings.TrimSuffix(name, suffix), 10, 64)
			if err != nil || seq == 0 {
				q.log.Warn("ignoring a file that is not a queue item", "file", name)
				continue
			}
			if _, err := q.read(seq); err != nil {
				if !isIOError(err) {
					q.log.Warn("removing a corrupt queue item", "file", name, "err", err)
					_ = os.Remove(q.path(seq))
					q.dropped[DropCorrupt]++
					continue
				}
				// A read error (a flaky SD card at boot) is not corruption: keep the item;
				// Peek reads it again when its turn comes.
				q.log.Warn("queue item unreadable for now; keeping it", "file", name, "err", err)
			}
			q.seqs = append(q.seqs, seq)
			q.next = max(q.next, seq+1)
		}
	}
	slices.Sort(q.seqs)
	q.sizes = make([]int64, len(q.seqs))
	for i, seq := range q.seqs {
		var size int64
		if fi, err := os.Stat(q.path(seq)); err == nil {
			size = fi.Size()
		}
		q.sizes[i] = diskSize(size)
		q.bytes += q.sizes[i]
	}
	return nil
}

// diskSize is n bytes rounded up to whole blocks.
func diskSize(n int64) int64 { return (n + blockSize - 1) / blockSize * blockSize }

// overBytes reports whether adding an item of size bytes would exceed the byte budget.
func (q *Queue) overBytes(size int64) bool {
	return q.maxBytes > 0 && len(q.seqs) > 0 && q.bytes+size > q.maxBytes
}

func (q *Queue) path(seq uint64) string {
	return filepath.Join(q.dir, fmt.Sprintf("%020d%s", seq, suffix))
}

// record is an item's payload as stored.
type record struct {
	Time  time.Time         `json:"time"`
	Props map[string]string `json:"props,omitempty"`
	Body  []byte            `json:"body"`
}

func encode(it Item) ([]byte, error) {
	payload, err := json.Marshal(record{Time: it.Time, Props: it.Props, Body: it.Body})
	if err != nil {
		return nil, err
	}
	b := make([]byte, hdrSize, hdrSize+len(payload))
	copy(b, magic)
	binary.LittleEndian.PutUint32(b[4:], crc32.Checksum(payload, crcTable))
	binary.LittleEndian.PutUint32(b[8:], uint32(len(payload)))
	return append(b, payload...), nil
}

func decode(b []byte) (Item, error) {
	if len(b) < hdrSize || !bytes.Equal(b[:4], []byte(magic)) {
		return Item{}, errors.New("missing header (truncated or not a queue item)")
	}
	sum, n := binary.LittleEndian.Uint32(b[4:]), binary.LittleEndian.Uint32(b[8:])
	payload := b[hdrSize:]
	if uint32(len(payload)) != n {
		return Item{}, fmt.Errorf("truncated: %d of %d bytes", len(payload), n)
	}
	if crc32.Checksum(payload, crcTable) != sum {
		return Item{}, errors.New("checksum mismatch")
	}
	var r record
	if err := json.Unmarshal(payload, &r); err != nil {
		return Item{}, fmt.Errorf("bad payload: %w", err)
	}
	return Item{Time: r.Time, Body: r.Body, Props: r.Props}, nil
}

func (q *Queue) read(seq uint64) (Item, error) {
	b, err := os.ReadFile(q.path(seq))
	if err != nil {
		return Item{}, err
	}
	it, err := decode(b)
	it.Seq = seq
	return it, err
}

// Push stores it durably (written, synced and renamed into place before Push returns). When
// the queue is full the oldest item is dropped first, with a warning.
func (q *Queue) Push(it Item) error {
	data, err := encode(it)
	if err != nil {
		return fmt.Errorf("queue: encode item: %w", err)
	}
	size := diskSize(int64(len(data)))
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrClosed
	}
	if q.maxBytes > 0 && size > q.maxBytes {
		return fmt.Errorf("queue: item of %d bytes is larger than the queue's budget of %d bytes", len(data), q.maxBytes)
	}
	// Room first, so the budget holds at every moment, even across a crash.
	for len(q.seqs) >= q.max || q.overBytes(size) {
		q.dropOldest(DropFull)
	}
	seq := q.next
	for attempt := 0; ; attempt++ {
		err := writeFile(q.path(seq), data)
		if err == nil {
			break
		}
		// A few old items free room for a new one; when more do not, something else fills
		// the disk and dropping the whole queue would not help.
		if !isDiskFull(err) || len(q.seqs) == 0 || attempt == maxDiskFullDrops {
			return fmt.Errorf("queue: %w", err)
		}
		// The disk is full: the oldest tallies make room for the newest.
		q.dropOldest(DropDiskFull)
	}
	q.next++
	q.seqs = append(q.seqs, seq)
	q.sizes = append(q.sizes, size)
	q.bytes += size
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return nil
}

// isDiskFull reports a write that failed for want of space.
func isDiskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// writeFile is writeFileSync; a variable so a test can fill the disk.
var writeFile = writeFileSync

// removeOldest forgets the oldest item and deletes its file. q.mu must be held.
func (q *Queue) removeOldest() uint64 {
	seq := q.seqs[0]
	q.bytes -= q.sizes[0]
	q.seqs, q.sizes = q.seqs[1:], q.sizes[1:]
	if err := os.Remove(q.path(seq)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		q.log.Warn("cannot remove a queue item", "seq", seq, "err", err)
	}
	return seq
}

// dropOldest removes the oldest item because the queue (or the disk) is full. q.mu must be held.
func (q *Queue) dropOldest(reason DropReason) {
	seq := q.removeOldest()
	q.dropped[reason]++
	msg := "queue full: dropped the oldest telemetry"
	if reason == DropDiskFull {
		msg = "disk full: dropped the oldest telemetry to make room for the newest"
	}
	q.log.Warn(msg, "seq", seq, "maxItems", q.max, "maxBytes", q.maxBytes, "droppedTotal", q.dropped[reason])
}

// writeFileSync writes data to path atomically and durably: temp file, fsync, rename, fsync dir.
func writeFileSync(path string, data []byte) error {
	tmp := strings.TrimSuffix(path, suffix) + tmpSfx
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Peek returns the oldest item without removing it; ok is false when the queue is empty. An
// item that can no longer be read intact is removed with a warning and the next one returned.
func (q *Queue) Peek() (it Item, ok bool, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return Item{}, false, ErrClosed
	}
	for len(q.seqs) > 0 {
		seq := q.seqs[0]
		it, err := q.read(seq)
		if err == nil {
			q.peeked = seq
			return it, true, nil
		}
		if !errors.Is(err, fs.ErrNotExist) && isIOError(err) {
			return Item{}, false, fmt.Errorf("queue: %w", err)
		}
		q.log.Warn("skipping a corrupt queue item", "seq", seq, "err", err)
		q.removeOldest()
		q.dropped[DropCorrupt]++
	}
	q.peeked = 0
	return Item{}, false, nil
}

// isIOError tells a failing read (worth retrying later) from bad content.
func isIOError(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe)
}

// Ack removes the item the last Peek returned, once it has been delivered. If that item was
// dropped meanwhile (the queue was full), Ack removes nothing. Without a preceding Peek it
// removes the oldest item.
func (q *Queue) Ack() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrClosed
	}
	if len(q.seqs) == 0 {
		return nil
	}
	seq := q.seqs[0]
	if q.peeked != 0 && q.peeked != seq {
		q.peeked = 0
		return nil // the peeked item was dropped; the oldest now was never delivered
	}
	q.peeked = 0
	q.bytes -= q.sizes[0]
	q.seqs, q.sizes = q.seqs[1:], q.sizes[1:]
	if err := os.Remove(q.path(seq)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("queue: %w", err)
	}
	return nil
}

// Len returns the number of queued items.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.seqs)
}

// Bytes returns the disk space the queued items take, as counted against Options.MaxBytes.
func (q *Queue) Bytes() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bytes
}

// Dropped returns how many items were dropped because the queue or the disk was full, since Open.
func (q *Queue) Dropped() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.dropped[DropFull] + q.dropped[DropDiskFull]
}

// DroppedBy returns how many items were dropped for reason since Open.
func (q *Queue) DroppedBy(reason DropReason) uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.dropped[reason]
}

// Ready returns a channel that receives after a Push (and at Open when items are queued), so a
// sender can wait for work instead of polling. One receive may stand for several Pushes.
func (q *Queue) Ready() <-chan struct{} { return q.ready }

// Dir returns the queue's directory.
func (q *Queue) Dir() string { return q.dir }

// Close releases the directory lock. Items stay on disk for the next Open.
func (q *Queue) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil
	}
	q.closed = true
	return q.lock.Close()
}
