package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/edgecam/edgecam/internal/camera"
	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/iothub"
	"github.com/edgecam/edgecam/internal/upload"
)

// Image upload: a tick that qualifies (upload.when, upload.every) leaves its frame or marked-up
// copy in the camera's spool under state.dir/uploads/<camera>; the camera's uploader sends it
// with IoT Hub file upload on its own goroutine, so tallies never wait behind images.

func uploadDir(stateDir, cameraID string) string {
	return filepath.Join(stateDir, "uploads", cameraID)
}

// openUploads opens the spool when camera i uploads images.
func (w *worker) openUploads(cfg *config.Config, i int) error {
	w.upload = cfg.CameraUpload(i)
	if !w.upload.Enabled() {
		return nil
	}
	s, err := upload.OpenSpool(uploadDir(cfg.State.Dir, w.cam.ID), w.upload.QueueBytes, w.log)
	if err != nil {
		return fmt.Errorf("image upload: %w", err)
	}
	w.spool = s
	return nil
}

// uploadDue reports whether this tick's image is to be uploaded (sent: its tally is sent), and
// counts the qualifying ticks for upload.every.
func (w *worker) uploadDue(sent bool) bool {
	w.uploadJPEG = nil
	if w.spool == nil || (w.upload.When == config.UploadInterest && !sent) {
		return false
	}
	n := w.uploadTicks
	w.uploadTicks++
	return n%max(w.upload.Every, 1) == 0
}

// frameJPEG takes the captured frame as this tick's image.
func (w *worker) frameJPEG(frame *camera.Frame) {
	data, err := frame.JPEG()
	if err != nil {
		w.log.Warn("could not encode the frame for upload", "err", err)
		return
	}
	w.uploadJPEG = data
}

// queueImage puts this tick's image, if any, in the upload spool.
func (w *worker) queueImage(at time.Time, tally map[string]int) {
	if w.uploadJPEG == nil {
		return
	}
	data := w.uploadJPEG
	w.uploadJPEG = nil
	t, err := json.Marshal(tally)
	if err != nil {
		t = nil
	}
	if err := w.spool.Push(upload.Image{Time: at, Tally: t, JPEG: data}); err != nil {
		w.log.Warn("could not keep the image for upload", "err", err)
		return
	}
	w.metrics.UploadWaiting(w.cam.ID, w.spool.Len(), w.spool.Dropped())
}

// runUploads sends the spooled images through the current hub connection until ctx ends.
func (w *worker) runUploads(ctx context.Context) {
	var (
		last *iothub.Client
		fu   *iothub.FileUpload
	)
	u := &upload.Uploader{
		Camera: w.cam.ID,
		Spool:  w.spool,
		Log:    w.log,
		Target: func() (*iothub.FileUpload, <-chan struct{}) {
			c, changed := w.link.current()
			if c == nil {
				return nil, changed
			}
			if c != last {
				f, err := c.FileUpload()
				if err != nil {
					w.log.Error("image upload impossible with this identity", "err", err)
					return nil, changed
				}
				last, fu = c, f
			}
			return fu, changed
		},
		OnUpload: func(err error) {
			w.metrics.Uploaded(w.cam.ID, upload.Stored(err))
			w.metrics.UploadWaiting(w.cam.ID, w.spool.Len(), w.spool.Dropped())
		},
	}
	u.Run(ctx)
}
