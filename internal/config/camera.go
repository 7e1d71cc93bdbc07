package config

import "time"

// Camera is one configured camera: one IoT Hub device. Type selects the source kind and which
// of the kind-specific keys apply.
type Camera struct {
	// ID is the IoT Hub device ID (and DPS registration ID) of this camera.
	ID string `koanf:"id"`
	// Type is the camera kind, one of Kinds.
	Type string `koanf:"type"`

	// http: snapshot URL with optional Basic/Digest credentials. rtsp: the stream URL
	// (rtsp:// or rtsps://, H.264 or H.265 video); credentials in the URL or in Username/Password.
	URL      string `koanf:"url"`
	Username string `koanf:"username"`
	Password string `koanf:"password"`
	// http, rtsp: ONVIF, instead of URL, finds the camera by its ONVIF endpoint reference and asks
	// it for the profile's snapshot (http) or stream (rtsp) URI, at start and again when the
	// camera stops answering (a new address after a DHCP lease change). Username and Password
	// are the ONVIF credentials too.
	ONVIF *ONVIF `koanf:"onvif"`

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

	// rtsp: Transport is tcp (the default: RTP interleaved in the RTSP connection), udp, or auto
	// (UDP, falling back to TCP when no packet arrives).
	Transport string `koanf:"transport"`
	// rtsp: MaxFrameAge is how old the newest frame of the stream may be for a capture to
	// return it, and how long the stream may deliver nothing before edgecam reconnects. 0 means
	// the larger of 2 s and 3 frame intervals.
	MaxFrameAge time.Duration `koanf:"maxFrameAge"`

	// Timeout bounds one capture (process run, HTTP request, the first RTSP frame after start).
	// 0 means the kind's default.
	Timeout time.Duration `koanf:"timeout"`
	// MaxBytes caps the size of an encoded frame (http, rpi, file) or of the buffered group of
	// pictures (rtsp). 0 means the default (32 MiB).
	MaxBytes int64 `koanf:"maxBytes"`
	// MaxPixels caps a frame's width x height, read from the image header (or the stream) before
	// anything is decoded. 0 means the default (40 megapixels).
	MaxPixels int64 `koanf:"maxPixels"`

	// http: Auth pins the authentication scheme (AuthDigest or AuthBasic); empty answers what
	// the camera asks, but never Basic once the camera has offered Digest.
	Auth string `koanf:"auth"`
	// http: Redirects says which redirects are followed: RedirectsSameHost (default: same
	// scheme, host and port), RedirectsAny or RedirectsNone.
	Redirects string `koanf:"redirects"`

	// DeviceKey is this camera's own symmetric key for DPS (its individual enrollment key, or
	// the key derived from a group key off the device with edgecam provision --derive-key), so
	// the group enrollment key need not be on the device. DeviceKeyFile reads it from a file
	// instead; Validate puts the file's key in DeviceKey.
	DeviceKey     string `koanf:"deviceKey"`
	DeviceKeyFile string `koanf:"deviceKeyFile"`

	// MaxQueueBytes caps this camera's store-and-forward queue on disk; 0 means an equal share
	// of state.maxQueueBytes.
	MaxQueueBytes int64 `koanf:"maxQueueBytes"`

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

	// Zones are regions of the frame with their own tally ("<zone>_<label>" keys).
	Zones []Zone `koanf:"zones"`
	// Masks are regions whose objects are ignored everywhere.
	Masks []MaskArea `koanf:"masks"`

	// Lines, Analysis and Motion: counting lines, continuous analysis and motion detection
	// (lines.go).
	Lines    []Line    `koanf:"lines"`
	Analysis *Analysis `koanf:"analysis"`
	Motion   *Motion   `koanf:"motion"`
}

// ONVIF names a camera by its ONVIF identity rather than its address (edgecam discover prints it).
type ONVIF struct {
	// Endpoint is the camera's WS-Discovery endpoint reference, e.g. "urn:uuid:..." (stays the
	// same when its address changes).
	Endpoint string `koanf:"endpoint"`
	// Profile is the media profile's name or token; empty picks one by resolution.
	Profile string `koanf:"profile"`
}
