package camera

import (
	"errors"
	"fmt"

	"github.com/edgecam/edgecam/internal/atomicfile"
)

// Save writes f's image to path atomically: it writes a temporary file in the same directory,
// syncs it and renames it over path, so a reader of path sees the old image or the new one,
// never half of one. Encoded Data is written as is; a Mat (a frame without Data) is encoded as
// JPEG.
func Save(path string, f *Frame) error {
	if f == nil {
		return errors.New("save frame: no frame")
	}
	if len(f.Data) == 0 && f.HasMat() {
		if f.Mat.Empty() {
			return fmt.Errorf("save frame of camera %s to %s: empty image", f.Camera, path)
		}
		buf, err := EncodeJPEG(f.Mat)
		if err != nil {
			return fmt.Errorf("save frame of camera %s to %s: %w", f.Camera, path, err)
		}
		return writeFile(path, buf)
	}
	if len(f.Data) == 0 {
		return fmt.Errorf("save frame of camera %s to %s: empty image", f.Camera, path)
	}
	return writeFile(path, f.Data)
}

// ImageFileMode is the mode of saved frames (imageFile, markedUpFile, capture --out) before the
// umask: readable by the owner and the group (add a dashboard's user to edgecam's group), not
// by everyone, since frames show what the camera sees.
const ImageFileMode = 0o640

func writeFile(path string, data []byte) error {
	if err := atomicfile.Write(path, data, ImageFileMode); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	return nil
}
