package camera

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"gocv.io/x/gocv"
)

// Save writes f's image to path atomically: it writes a temporary file in the same directory,
// syncs it and renames it over path, so a reader of path sees the old image or the new one,
// never half of one. Encoded Data is written as is; a Mat is encoded as JPEG.
func Save(path string, f *Frame) error {
	if f == nil {
		return errors.New("save frame: no frame")
	}
	if f.HasMat() {
		if f.Mat.Empty() {
			return fmt.Errorf("save frame of camera %s to %s: empty image", f.Camera, path)
		}
		buf, err := gocv.IMEncode(gocv.JPEGFileExt, f.Mat)
		if err != nil {
			return fmt.Errorf("save frame of camera %s to %s: encode JPEG: %w", f.Camera, path, err)
		}
		defer buf.Close()
		return writeFileAtomic(path, buf.GetBytes())
	}
	if len(f.Data) == 0 {
		return fmt.Errorf("save frame of camera %s to %s: empty image", f.Camera, path)
	}
	return writeFileAtomic(path, f.Data)
}

// writeFileAtomic writes data to path through a synced temporary file and a rename.
func writeFileAtomic(path string, data []byte) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	// Make the rename itself durable; a failure here does not undo the write.
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
