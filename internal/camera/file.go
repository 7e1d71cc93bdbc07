package camera

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/edgecam/edgecam/internal/config"
)

// fileSource reads an image file on every capture: for demos, tests and frames written by
// other tools.
type fileSource struct {
	id        string
	path      string
	maxBytes  int64
	maxPixels int64
}

func newFile(c config.Camera) (*fileSource, error) {
	if c.Path == "" {
		return nil, fmt.Errorf("camera %s: type file needs path (the image file to read)", c.ID)
	}
	return &fileSource{id: c.ID, path: c.Path, maxBytes: maxBytes(c), maxPixels: MaxPixels(c)}, nil
}

// Capture reads the file.
func (s *fileSource) Capture(ctx context.Context) (*Frame, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("camera %s: %w", s.id, err)
	}
	f, err := os.Open(s.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("camera %s: image file %s does not exist", s.id, s.path)
		}
		return nil, fmt.Errorf("camera %s: %w", s.id, err)
	}
	defer f.Close()
	var size int64
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	data, err := readLimited(f, s.maxBytes, size)
	if errors.Is(err, errOverLimit) {
		return nil, errTooLarge(s.id, s.path, s.maxBytes)
	}
	if err != nil {
		return nil, fmt.Errorf("camera %s: %w", s.id, err)
	}
	if err := checkImage(s.id, s.path, data, s.maxPixels); err != nil {
		return nil, err
	}
	return &Frame{Camera: s.id, Time: time.Now(), Data: data, MaxPixels: s.maxPixels}, nil
}
