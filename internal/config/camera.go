package config

import "time"

// Camera is one configured camera: one IoT Hub device. Type selects the source kind and which
// of the kind-specific keys apply.
type Camera struct {
	// ID is the IoT Hub device ID (and DPS registration ID) of this camera.
	ID string `koanf:"id"`
	// Type is rpi, http, rtsp or file.
	Type string `koanf:"type"`

	// http: snapshot URL with optional Basic/Digest credentials. rtsp: the stream URL
	// (any FFmpeg-readable URL), credentials may be in the URL.
	URL      string `koanf:"url"`
	Username string `koanf:"username"`
	Password string `koanf:"password"`

	// file: the image read on every capture.
	Path string `koanf:"path"`

	// rpi: rotation (0 or 180), frame size (0 = camera default), extra arguments for
	// rpicam-still, and an explicit command to run instead of looking for rpicam-still,
	// libcamera-still and libcamera-jpeg on PATH.
	Rotation int      `koanf:"rotation"`
	Width    int      `koanf:"width"`
	Height   int      `koanf:"height"`
	Args     []string `koanf:"args"`
	Command  string   `koanf:"command"`

	// Timeout bounds one capture (process run, HTTP request, wait for a fresh RTSP frame).
	// 0 means the kind's default.
	Timeout time.Duration `koanf:"timeout"`
	// MaxBytes caps the size of an encoded frame (http, rpi, file). 0 means the default (32 MiB).
	MaxBytes int64 `koanf:"maxBytes"`

	// ImageFile, when set, keeps the last captured frame there (written atomically).
	ImageFile string `koanf:"imageFile"`
	// MarkedUpFile, when set, keeps an annotated copy of the last scored frame there.
	MarkedUpFile string `koanf:"markedUpFile"`

	// Schedule, when set, overrides the global schedule for this camera.
	Schedule *ScheduleOverride `koanf:"schedule"`
	// Detection, when set, overrides the global detection settings for this camera.
	Detection *DetectionOverride `koanf:"detection"`
	// Upload, when set, overrides the global upload settings for this camera.
	Upload *UploadOverride `koanf:"upload"`
}
