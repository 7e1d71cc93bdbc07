package camera

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgecam/edgecam/internal/config"
)

func TestFileSource(t *testing.T) {
	f := captureOne(t, config.Camera{ID: "cam1", Type: "file", Path: photo(t, "bus.jpg")})
	if f.Camera != "cam1" || f.HasMat() || !bytes.Equal(f.Data, readPhoto(t, "bus.jpg")) {
		t.Fatalf("frame: camera %q, hasMat %v, %d bytes", f.Camera, f.HasMat(), len(f.Data))
	}
	m := decodeFrame(t, f, 810, 1080)
	m.Close()
}

func TestFileSourceErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.jpg")
	text := filepath.Join(dir, "notes.jpg")
	os.WriteFile(empty, nil, 0o644)
	os.WriteFile(text, []byte("hello, not an image"), 0o644)
	cases := []struct {
		name string
		cam  config.Camera
		want string
	}{
		{"missing", config.Camera{Path: filepath.Join(dir, "nope.jpg")}, "does not exist"},
		{"empty", config.Camera{Path: empty}, "empty image"},
		{"not an image", config.Camera{Path: text}, "not a JPEG or PNG image"},
		{"too large", config.Camera{Path: photo(t, "bus.jpg"), MaxBytes: 1000}, "larger than 1000 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.cam.ID, tc.cam.Type = "cam1", "file"
			src, err := New(tc.cam)
			if err != nil {
				t.Fatal(err)
			}
			_, err = src.Capture(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "camera cam1") {
				t.Fatalf("error %v, want one naming camera cam1 and saying %q", err, tc.want)
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	cases := []struct {
		cam  config.Camera
		want string
	}{
		{config.Camera{ID: "c"}, "type is missing"},
		{config.Camera{ID: "c", Type: "usb"}, `unknown type "usb"`},
		{config.Camera{ID: "c", Type: "file"}, "needs path"},
		{config.Camera{ID: "c", Type: "http"}, "needs url"},
		{config.Camera{ID: "c", Type: "http", URL: "ftp://cam/snap.jpg"}, "want http://"},
		{config.Camera{ID: "c", Type: "rtsp"}, "needs url"},
		{config.Camera{ID: "c", Type: "rpi", Rotation: 90}, "rotation 90"},
		{config.Camera{ID: "c", Type: "rpi", Width: -1}, "negative"},
		{config.Camera{ID: "c", Type: "file", Path: "x", Timeout: -1}, "timeout"},
	}
	for _, tc := range cases {
		_, err := New(tc.cam)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "camera c") {
			t.Errorf("New(%+v) = %v, want an error naming camera c and saying %q", tc.cam, err, tc.want)
		}
	}
}
