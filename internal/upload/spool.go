package upload

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/edgecam/edgecam/internal/spool"
)

// Spool keeps images waiting for upload on disk, oldest first, across restarts, within a byte
// budget: when a new image does not fit, the oldest ones are dropped with a warning; an image
// bigger than the whole budget is dropped at once. It is the image face of internal/spool (raw
// JPEG behind a small header, so an image costs its own size; see that package for what a crash,
// a corrupt file or a full disk do).
type Spool struct {
	*spool.Spool
}

// Image is one image waiting for upload.
type Image struct {
	// Time is the capture time; it names the blob.
	Time time.Time
	// Tally is the tally of the frame, as JSON (blob metadata).
	Tally json.RawMessage
	// JPEG is the encoded image.
	JPEG []byte
	// Seq is the image's position in the spool, set by Push and Peek.
	Seq uint64
}

const spoolSuffix = ".img"

// tallyKey holds an image's tally in the spool item's metadata.
const tallyKey = spool.LegacyTallyKey

// writeFile writes a spooled image; a variable so a test can fill the disk.
var writeFile = func(path string, data []byte, _ os.FileMode) error { return spool.WriteFile(path, data) }

// OpenSpool opens (creating it) the spool in dir holding at most maxBytes of images.
// logger may be nil.
func OpenSpool(dir string, maxBytes int64, logger *slog.Logger) (*Spool, error) {
	if maxBytes <= 0 {
		return nil, fmt.Errorf("image spool %s: byte budget %d must be positive", dir, maxBytes)
	}
	s, err := spool.Open(dir, spool.Options{
		Suffix: spoolSuffix, Name: "upload spool", What: "image",
		MaxBytes: maxBytes, DropOversize: true, Logger: logger,
		WriteFile: func(path string, data []byte) error { return writeFile(path, data, 0o600) },
	})
	if err != nil {
		return nil, err
	}
	return &Spool{Spool: s}, nil
}

// Push stores img durably. When it does not fit in the budget the oldest images are dropped
// first; an image bigger than the budget is not kept. Either way with a warning.
func (s *Spool) Push(img Image) error {
	_, err := s.Spool.Push(imageItem(img))
	return err
}

// imageItem is img as a spool item.
func imageItem(img Image) spool.Item {
	it := spool.Item{Time: img.Time, Data: img.JPEG, Seq: img.Seq}
	if len(img.Tally) > 0 {
		it.Meta = map[string]string{tallyKey: string(img.Tally)}
	}
	return it
}

// itemImage is a spool item as an image.
func itemImage(it spool.Item) Image {
	img := Image{Time: it.Time, JPEG: it.Data, Seq: it.Seq}
	if t, ok := it.Meta[tallyKey]; ok {
		img.Tally = json.RawMessage(t)
	}
	return img
}

// Peek returns the oldest image; ok is false when none waits. A corrupt file is removed with a
// warning and the next one returned.
func (s *Spool) Peek() (img Image, ok bool, err error) {
	it, ok, err := s.Spool.Peek()
	if !ok || err != nil {
		return Image{}, ok, err
	}
	return itemImage(it), true, nil
}

// Dropped counts images dropped for the budget or a full disk since OpenSpool.
func (s *Spool) Dropped() uint64 {
	return s.DroppedBy(spool.DropFull) + s.DroppedBy(spool.DropDiskFull) + s.DroppedBy(spool.DropTooBig)
}
