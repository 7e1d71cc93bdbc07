package upload

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
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

	"github.com/edgecam/edgecam/internal/atomicfile"
)

// Spool keeps images waiting for upload on disk, one file per image, oldest first, across
// restarts, within a byte budget: when a new image does not fit, the oldest ones are dropped
// with a warning; an image bigger than the whole budget is dropped at once. A file is written
// atomically (temp file, fsync, rename), so a crash leaves the whole image or none of it.
//
// Unlike the tally queue (internal/queue), items are raw JPEG behind a small header, so an image
// costs its own size on the SD card, and the bound is in bytes.
type Spool struct {
	dir string
	max int64
	log *slog.Logger

	mu      sync.Mutex
	items   []spoolFile // oldest first
	bytes   int64
	next    uint64
	dropped uint64
	ready   chan struct{}
}

type spoolFile struct {
	seq  uint64
	size int64
}

// Image is one image waiting for upload.
type Image struct {
	// Time is the capture time; it names the blob.
	Time time.Time `json:"time"`
	// Tally is the tally of the frame, as JSON (blob metadata).
	Tally json.RawMessage `json:"tally,omitempty"`
	// JPEG is the encoded image (not part of the header).
	JPEG []byte `json:"-"`
	// Seq is the image's position in the spool, set by Push and Peek.
	Seq uint64 `json:"-"`
}

const (
	spoolSuffix = ".img"
	spoolMagic  = "EUP1"
)

// OpenSpool opens (creating it) the spool in dir holding at most maxBytes of images.
// logger may be nil.
func OpenSpool(dir string, maxBytes int64, logger *slog.Logger) (*Spool, error) {
	if maxBytes <= 0 {
		return nil, fmt.Errorf("image spool %s: byte budget %d must be positive", dir, maxBytes)
	}
	if logger == nil {
		logger = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("image spool: %w", err)
	}
	s := &Spool{dir: dir, max: maxBytes, log: logger, next: 1, ready: make(chan struct{}, 1)}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("image spool: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp-") {
			_ = os.Remove(filepath.Join(dir, name)) // a write cut short by a crash
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(name, spoolSuffix), 10, 64)
		if !strings.HasSuffix(name, spoolSuffix) || err != nil || seq == 0 {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		s.items = append(s.items, spoolFile{seq: seq, size: info.Size()})
		s.bytes += info.Size()
		s.next = max(s.next, seq+1)
	}
	slices.SortFunc(s.items, func(a, b spoolFile) int { return cmp.Compare(a.seq, b.seq) })
	for s.bytes > s.max {
		s.dropOldest("upload spool over its byte budget: dropped the oldest image")
	}
	if len(s.items) > 0 {
		s.log.Info("images waiting for upload found", "images", len(s.items), "bytes", s.bytes)
		s.ready <- struct{}{}
	}
	return s, nil
}

func (s *Spool) path(seq uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d%s", seq, spoolSuffix))
}

// Push stores img durably. When it does not fit in the budget the oldest images are dropped
// first; an image bigger than the budget is not kept. Either way with a warning.
func (s *Spool) Push(img Image) error {
	hdr, err := json.Marshal(img)
	if err != nil {
		return fmt.Errorf("image spool: %w", err)
	}
	data := make([]byte, 0, len(spoolMagic)+4+len(hdr)+len(img.JPEG))
	data = append(data, spoolMagic...)
	data = binary.LittleEndian.AppendUint32(data, uint32(len(hdr)))
	data = append(data, hdr...)
	data = append(data, img.JPEG...)
	size := int64(len(data))

	s.mu.Lock()
	defer s.mu.Unlock()
	if size > s.max {
		s.dropped++
		s.log.Warn("image bigger than the upload spool's byte budget: dropped", "bytes", size, "budgetBytes", s.max, "droppedTotal", s.dropped)
		return nil
	}
	for s.bytes+size > s.max && len(s.items) > 0 {
		s.dropOldest("upload spool over its byte budget: dropped the oldest image")
	}
	seq := s.next
	for {
		err := writeFile(s.path(seq), data, 0o600)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.ENOSPC) || len(s.items) == 0 {
			return fmt.Errorf("image spool: %w", err)
		}
		// The disk is full before the budget is: older images make room for the newest.
		s.dropOldest("disk full: dropped the oldest image waiting for upload")
	}
	s.next++
	s.items = append(s.items, spoolFile{seq: seq, size: size})
	s.bytes += size
	select {
	case s.ready <- struct{}{}:
	default:
	}
	return nil
}

// writeFile is atomicfile.Write; a variable so a test can fill the disk.
var writeFile = atomicfile.Write

// dropOldest removes the oldest image, logging why; s.mu must be held.
func (s *Spool) dropOldest(why string) {
	f := s.items[0]
	s.items = s.items[1:]
	s.bytes -= f.size
	s.dropped++
	if err := os.Remove(s.path(f.seq)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("cannot remove a dropped image", "file", s.path(f.seq), "err", err)
	}
	s.log.Warn(why, "seq", f.seq, "budgetBytes", s.max, "droppedTotal", s.dropped)
}

// Peek returns the oldest image; ok is false when none waits. An unreadable or corrupt file is
// removed with a warning and the next one returned.
func (s *Spool) Peek() (img Image, ok bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.items) > 0 {
		f := s.items[0]
		img, err := s.read(f.seq)
		if err == nil {
			img.Seq = f.seq
			return img, true, nil
		}
		s.log.Warn("removing an unreadable image from the upload spool", "file", s.path(f.seq), "err", err)
		s.items = s.items[1:]
		s.bytes -= f.size
		_ = os.Remove(s.path(f.seq))
	}
	return Image{}, false, nil
}

func (s *Spool) read(seq uint64) (Image, error) {
	b, err := os.ReadFile(s.path(seq))
	if err != nil {
		return Image{}, err
	}
	if len(b) < len(spoolMagic)+4 || string(b[:len(spoolMagic)]) != spoolMagic {
		return Image{}, errors.New("not a spooled image (bad header)")
	}
	n := int(binary.LittleEndian.Uint32(b[len(spoolMagic):]))
	rest := b[len(spoolMagic)+4:]
	if n > len(rest) {
		return Image{}, errors.New("truncated header")
	}
	var img Image
	if err := json.Unmarshal(rest[:n], &img); err != nil {
		return Image{}, fmt.Errorf("bad header: %w", err)
	}
	img.JPEG = rest[n:]
	if len(img.JPEG) == 0 {
		return Image{}, errors.New("no image data")
	}
	return img, nil
}

// Ack removes the image seq (uploaded). An image dropped meanwhile is ignored.
func (s *Spool) Ack(seq uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.items, func(f spoolFile) bool { return f.seq == seq })
	if i < 0 {
		return nil
	}
	s.bytes -= s.items[i].size
	s.items = slices.Delete(s.items, i, i+1)
	if err := os.Remove(s.path(seq)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("image spool: %w", err)
	}
	return nil
}

// Len is the number of images waiting.
func (s *Spool) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.items)
}

// Bytes is the size of the images waiting, headers included.
func (s *Spool) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes
}

// Dropped counts images dropped for the budget since OpenSpool.
func (s *Spool) Dropped() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Ready receives after a Push (and at open when images wait).
func (s *Spool) Ready() <-chan struct{} { return s.ready }
