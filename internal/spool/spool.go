// Package spool is edgecam's one store-and-forward spool: whatever waits on disk to be sent later
// (the tallies for IoT Hub, the images for file upload) is kept here, one file per item, and
// handed back oldest first, across restarts. Forward is the one loop that sends them.
//
// Each item is written to a temporary file, synced and renamed into place, so a crash leaves
// either the whole item or none of it. An item whose file is truncated or corrupt (a failing SD
// card) is skipped with a warning, never a crash; a file that cannot be read for now is kept. The
// spool is bounded in items and in bytes on disk: when it is full the oldest items are dropped,
// with a warning, and counted by reason. When the disk itself is full (ENOSPC, EDQUOT) the oldest
// items are dropped to make room for the new one, so the newest data survives a full SD card.
package spool

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

// Item is one spooled payload with its metadata.
type Item struct {
	// Time is when the payload was produced (the capture time).
	Time time.Time
	// Meta is small metadata kept with the payload (message properties, a blob's tally).
	Meta map[string]string
	// Data is the payload (a tally's JSON, an image's JPEG), stored as is.
	Data []byte
	// Seq is the item's position in the spool, assigned by Push (increasing, never reused).
	Seq uint64
}

// Options bound a spool and name what it holds.
type Options struct {
	// Suffix ends the name of every item's file (".msg", ".img").
	Suffix string
	// Name and What word the warnings: "<Name> full: dropped the oldest <What>".
	Name, What string
	// MaxItems, when positive, is the most items kept.
	MaxItems int
	// MaxBytes, when positive, is the most bytes the items may take, each counted as its file
	// size rounded up to whole BlockSize units.
	MaxBytes int64
	// BlockSize is the unit an item's size is rounded up to (4096: what a small file really
	// costs on ext4/FAT); 0 counts exact bytes.
	BlockSize int64
	// DropOversize drops (with a warning, counted as DropTooBig) an item larger than MaxBytes;
	// otherwise Push refuses it with an error.
	DropOversize bool
	// Lock holds an exclusive lock on the directory, against a second edgecam process.
	Lock bool
	// Logger receives the warnings; nil means slog.Default().
	Logger *slog.Logger
	// WriteFile writes an item's file; nil means WriteFile (a test fills the disk with its own).
	WriteFile func(path string, data []byte) error
}

// DropReason says why items were dropped.
type DropReason string

// Why an item is dropped.
const (
	DropFull     DropReason = "full"      // MaxItems or MaxBytes reached
	DropDiskFull DropReason = "disk_full" // the file system had no room (ENOSPC, EDQUOT)
	DropCorrupt  DropReason = "corrupt"   // the item could not be read back intact
	DropTooBig   DropReason = "too_big"   // larger than the whole byte budget (DropOversize)
)

// DropReasons lists every DropReason, for metrics.
var DropReasons = []DropReason{DropFull, DropDiskFull, DropCorrupt, DropTooBig}

// maxDiskFullDrops bounds the old items one Push drops when the disk is full.
const maxDiskFullDrops = 4

// Spool is a bounded on-disk FIFO. It is safe for concurrent use; the intended use is one
// producer (Push) and one sender (Peek, deliver, Ack).
type Spool struct {
	dir  string
	opts Options
	log  *slog.Logger
	lock *os.File

	mu      sync.Mutex
	seqs    []uint64 // items, oldest first
	sizes   []int64  // their sizes, as counted against MaxBytes
	bytes   int64    // sum of sizes
	next    uint64
	dropped map[DropReason]uint64
	closed  bool
	ready   chan struct{}
}

const (
	tmpSfx  = ".tmp"
	magic   = "ES01"
	hdrSize = len(magic) + 4 + 4 + 4 // magic, CRC-32C of the rest, metadata length, data length
)

var (
	// ErrClosed is returned by operations on a closed spool.
	ErrClosed = errors.New("spool: closed")
	crcTable  = crc32.MakeTable(crc32.Castagnoli)
)

// Open opens (creating it if needed) the spool in dir. Stale temporary files from a crash are
// removed, and corrupt items are removed with a warning.
func Open(dir string, opts Options) (*Spool, error) {
	if opts.MaxItems < 0 || opts.MaxBytes < 0 || opts.BlockSize < 0 {
		return nil, fmt.Errorf("%s %s: negative bound (items %d, bytes %d)", opts.Name, dir, opts.MaxItems, opts.MaxBytes)
	}
	if opts.Suffix == "" {
		return nil, fmt.Errorf("%s %s: no file suffix", opts.Name, dir)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.WriteFile == nil {
		opts.WriteFile = WriteFile
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%s: %w", opts.Name, err)
	}
	s := &Spool{dir: dir, opts: opts, log: opts.Logger, next: 1, ready: make(chan struct{}, 1), dropped: map[DropReason]uint64{}}
	if opts.Lock {
		lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", opts.Name, err)
		}
		if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			lock.Close()
			return nil, fmt.Errorf("%s %s is in use by another process (%v): run one edgecam per state.dir", opts.Name, dir, err)
		}
		s.lock = lock
		s.log = s.log.With(opts.Name, dir)
	}
	if err := s.scan(); err != nil {
		s.closeLock()
		return nil, err
	}
	for s.overItems(0) || s.overBytes(0) {
		s.dropOldest(DropFull)
	}
	if len(s.seqs) > 0 {
		s.log.Info(opts.What+" waiting in the "+opts.Name+" found", "items", len(s.seqs), "bytes", s.bytes)
		s.ready <- struct{}{}
	}
	return s, nil
}

// scan loads the item list from the directory.
func (s *Spool) scan() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("%s: %w", s.opts.Name, err)
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, tmpSfx) || strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp-"):
			// A Push interrupted by a crash: never acknowledged to its caller.
			_ = os.Remove(filepath.Join(s.dir, name))
		case strings.HasSuffix(name, s.opts.Suffix):
			seq, err := strconv.ParseUint(strings.TrimSuffix(name, s.opts.Suffix), 10, 64)
			if err != nil || seq == 0 {
				s.log.Warn("ignoring a file that is not a "+s.opts.Name+" item", "file", name)
				continue
			}
			if _, err := s.read(seq); err != nil {
				if !isIOError(err) {
					s.log.Warn("removing a corrupt "+s.opts.Name+" item", "file", name, "err", err)
					_ = os.Remove(s.path(seq))
					s.dropped[DropCorrupt]++
					continue
				}
				// A read error (a flaky SD card at boot) is not corruption: keep the item;
				// Peek reads it again when its turn comes.
				s.log.Warn(s.opts.Name+" item unreadable for now; keeping it", "file", name, "err", err)
			}
			s.seqs = append(s.seqs, seq)
			s.next = max(s.next, seq+1)
		}
	}
	slices.Sort(s.seqs)
	s.sizes = make([]int64, len(s.seqs))
	for i, seq := range s.seqs {
		var size int64
		if fi, err := os.Stat(s.path(seq)); err == nil {
			size = fi.Size()
		}
		s.sizes[i] = s.diskSize(size)
		s.bytes += s.sizes[i]
	}
	return nil
}

// diskSize is n bytes rounded up to whole blocks.
func (s *Spool) diskSize(n int64) int64 {
	if b := s.opts.BlockSize; b > 1 {
		return (n + b - 1) / b * b
	}
	return n
}

// overItems reports whether adding n items would exceed MaxItems.
func (s *Spool) overItems(n int) bool {
	return s.opts.MaxItems > 0 && len(s.seqs) > 0 && len(s.seqs)+n > s.opts.MaxItems
}

// overBytes reports whether adding an item of size bytes would exceed the byte budget.
func (s *Spool) overBytes(size int64) bool {
	return s.opts.MaxBytes > 0 && len(s.seqs) > 0 && s.bytes+size > s.opts.MaxBytes
}

func (s *Spool) path(seq uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d%s", seq, s.opts.Suffix))
}

// header is an item's metadata as stored.
type header struct {
	Time time.Time         `json:"time"`
	Meta map[string]string `json:"meta,omitempty"`
}

// encode lays out an item: magic, CRC-32C of everything after it, metadata length, data
// length, metadata (JSON), data (as is).
func encode(it Item) ([]byte, error) {
	meta, err := json.Marshal(header{Time: it.Time, Meta: it.Meta})
	if err != nil {
		return nil, err
	}
	b := make([]byte, hdrSize, hdrSize+len(meta)+len(it.Data))
	copy(b, magic)
	binary.LittleEndian.PutUint32(b[8:], uint32(len(meta)))
	binary.LittleEndian.PutUint32(b[12:], uint32(len(it.Data)))
	b = append(append(b, meta...), it.Data...)
	binary.LittleEndian.PutUint32(b[4:], crc32.Checksum(b[8:], crcTable))
	return b, nil
}

func decode(b []byte) (Item, error) {
	if len(b) >= 4 {
		switch string(b[:4]) {
		case legacyQueueMagic:
			return decodeLegacyQueue(b)
		case legacyImageMagic:
			return decodeLegacyImage(b)
		}
	}
	if len(b) < hdrSize || !bytes.Equal(b[:4], []byte(magic)) {
		return Item{}, errors.New("missing header (truncated or not a spooled item)")
	}
	if crc32.Checksum(b[8:], crcTable) != binary.LittleEndian.Uint32(b[4:]) {
		return Item{}, errors.New("checksum mismatch (truncated or damaged)")
	}
	m, d := uint64(binary.LittleEndian.Uint32(b[8:])), uint64(binary.LittleEndian.Uint32(b[12:]))
	if uint64(len(b)-hdrSize) != m+d {
		return Item{}, fmt.Errorf("length mismatch: %d bytes after the header, want %d", len(b)-hdrSize, m+d)
	}
	var h header
	if err := json.Unmarshal(b[hdrSize:hdrSize+int(m)], &h); err != nil {
		return Item{}, fmt.Errorf("bad metadata: %w", err)
	}
	return Item{Time: h.Time, Meta: h.Meta, Data: b[hdrSize+int(m):]}, nil
}

func (s *Spool) read(seq uint64) (Item, error) {
	b, err := os.ReadFile(s.path(seq))
	if err != nil {
		return Item{}, err
	}
	it, err := decode(b)
	it.Seq = seq
	return it, err
}

// Push stores it durably (written, synced and renamed into place before Push returns). When
// the spool is full the oldest items are dropped first, with a warning. It returns the item's
// sequence number (0 when DropOversize dropped it).
func (s *Spool) Push(it Item) (uint64, error) {
	data, err := encode(it)
	if err != nil {
		return 0, fmt.Errorf("%s: encode item: %w", s.opts.Name, err)
	}
	size := s.diskSize(int64(len(data)))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	if s.opts.MaxBytes > 0 && size > s.opts.MaxBytes {
		if s.opts.DropOversize {
			s.dropped[DropTooBig]++
			s.log.Warn(s.opts.What+" bigger than the "+s.opts.Name+"'s byte budget: dropped", "bytes", size, "budgetBytes", s.opts.MaxBytes, "droppedTotal", s.dropped[DropTooBig])
			return 0, nil
		}
		return 0, fmt.Errorf("%s: item of %d bytes is larger than the %s's budget of %d bytes", s.opts.Name, len(data), s.opts.Name, s.opts.MaxBytes)
	}
	// Room first, so the budget holds at every moment, even across a crash.
	for s.overItems(1) || s.overBytes(size) {
		s.dropOldest(DropFull)
	}
	seq := s.next
	for attempt := 0; ; attempt++ {
		err := s.opts.WriteFile(s.path(seq), data)
		if err == nil {
			break
		}
		// A few old items free room for a new one; when more do not, something else fills
		// the disk and dropping the whole spool would not help.
		if !isDiskFull(err) || len(s.seqs) == 0 || attempt == maxDiskFullDrops {
			return 0, fmt.Errorf("%s: %w", s.opts.Name, err)
		}
		s.dropOldest(DropDiskFull)
	}
	s.next++
	s.seqs = append(s.seqs, seq)
	s.sizes = append(s.sizes, size)
	s.bytes += size
	select {
	case s.ready <- struct{}{}:
	default:
	}
	return seq, nil
}

// isDiskFull reports a write that failed for want of space.
func isDiskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// removeAt forgets item i and deletes its file. s.mu must be held.
func (s *Spool) removeAt(i int) (uint64, error) {
	seq := s.seqs[i]
	s.bytes -= s.sizes[i]
	s.seqs, s.sizes = slices.Delete(s.seqs, i, i+1), slices.Delete(s.sizes, i, i+1)
	if err := os.Remove(s.path(seq)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return seq, err
	}
	return seq, nil
}

// dropOldest removes the oldest item because the spool (or the disk) is full. s.mu must be held.
func (s *Spool) dropOldest(reason DropReason) {
	seq, err := s.removeAt(0)
	if err != nil {
		s.log.Warn("cannot remove a dropped "+s.opts.What, "seq", seq, "err", err)
	}
	s.dropped[reason]++
	msg := s.opts.Name + " full: dropped the oldest " + s.opts.What
	if reason == DropDiskFull {
		msg = "disk full: dropped the oldest " + s.opts.What + " to make room for the newest"
	}
	s.log.Warn(msg, "seq", seq, "maxItems", s.opts.MaxItems, "maxBytes", s.opts.MaxBytes, "droppedTotal", s.dropped[reason])
}

// WriteFile writes data to path atomically and durably: temp file (path + ".tmp"), fsync,
// rename, fsync of the directory.
func WriteFile(path string, data []byte) error {
	tmp := path + tmpSfx
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
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Peek returns the oldest item without removing it; ok is false when the spool is empty. An
// item that can no longer be read intact is removed with a warning and the next one returned;
// a read error (worth retrying later) is returned and the item kept.
func (s *Spool) Peek() (it Item, ok bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Item{}, false, ErrClosed
	}
	for len(s.seqs) > 0 {
		seq := s.seqs[0]
		it, err := s.read(seq)
		if err == nil {
			return it, true, nil
		}
		if !errors.Is(err, fs.ErrNotExist) && isIOError(err) {
			return Item{}, false, fmt.Errorf("%s: %w", s.opts.Name, err)
		}
		s.log.Warn("skipping a corrupt "+s.opts.Name+" item", "seq", seq, "err", err)
		_, _ = s.removeAt(0)
		s.dropped[DropCorrupt]++
	}
	return Item{}, false, nil
}

// isIOError tells a failing read (worth retrying later) from bad content.
func isIOError(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe)
}

// Ack removes item seq once it has been delivered. An item dropped meanwhile (the spool was
// full) is not there any more, and Ack removes nothing.
func (s *Spool) Ack(seq uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	i := slices.Index(s.seqs, seq)
	if i < 0 {
		return nil
	}
	if _, err := s.removeAt(i); err != nil {
		return fmt.Errorf("%s: %w", s.opts.Name, err)
	}
	return nil
}

// Oldest returns the sequence number of the oldest item (0 when empty).
func (s *Spool) Oldest() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.seqs) == 0 {
		return 0
	}
	return s.seqs[0]
}

// Len returns the number of items.
func (s *Spool) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seqs)
}

// Bytes returns the space the items take, as counted against Options.MaxBytes.
func (s *Spool) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes
}

// DroppedBy returns how many items were dropped for reason since Open.
func (s *Spool) DroppedBy(reason DropReason) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped[reason]
}

// Ready returns a channel that receives after a Push (and at Open when items wait), so a
// sender can wait for work instead of polling. One receive may stand for several Pushes.
func (s *Spool) Ready() <-chan struct{} { return s.ready }

// Dir returns the spool's directory.
func (s *Spool) Dir() string { return s.dir }

// Close releases the directory lock. Items stay on disk for the next Open.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.closeLock()
}

func (s *Spool) closeLock() error {
	if s.lock == nil {
		return nil
	}
	return s.lock.Close()
}
