// Package config loads and validates edgecam's configuration: a YAML file, then EDGECAM_*
// environment variables, then command-line flags (later sources win). Load returns a Config
// whose every value has been checked, with labels in their canonical COCO spelling; problems
// are reported all at once, each naming the key and how to fix it.
package config

import (
	"fmt"
	"maps"
	"strings"

	"github.com/edgecam/edgecam/internal/classes"
)

// Default values of the keys that have one.
const (
	DefaultModelPath = "models/yolov5n.onnx"
	DefaultDue       = Duration(15_000_000_000) // 15s
	DefaultPeriod    = Duration(30_000_000_000) // 30s
	// DefaultScoreThreshold is the threshold with the least count error on coco128 for the
	// recommended model (docs/models.md has the measurements; edgecam eval measures a camera's).
	// The original application's 0.7 missed about two objects in three there.
	DefaultScoreThreshold = 0.22
	// DetectorFloor is the lowest score the daemon's detector keeps (before its NMS); a
	// scoreThreshold or minScore below it acts as it. It is below every measured optimum
	// (docs/models.md), so the thresholds edgecam eval suggests are reachable.
	DetectorFloor         = 0.1
	DefaultGlobalEndpoint = "global.azure-devices-provisioning.net"
	DefaultStateDir       = "/var/lib/edgecam"
	// DefaultReprovisionAfter: IoT Central's guidance, an unreachable hub for a couple of minutes.
	DefaultReprovisionAfter = Duration(120_000_000_000) // 2m
	DefaultMaxQueueBytes    = 64 << 20                  // 64 MiB: about 200000 tallies
	// DefaultUploadQueueBytes bounds each camera's images waiting for upload on disk.
	DefaultUploadQueueBytes = 64 << 20
)

// upload.image and upload.when values.
const (
	UploadOff      = "off"
	UploadFrame    = "frame"
	UploadMarkedUp = "markedUp"
	UploadInterest = "interest"
	UploadAlways   = "always"
)

// Config is edgecam's whole configuration.
type Config struct {
	Model     Model     `koanf:"model"`
	Schedule  Schedule  `koanf:"schedule"`
	Detection Detection `koanf:"detection"`
	Upload    Upload    `koanf:"upload"`
	Azure     Azure     `koanf:"azure"`
	State     State     `koanf:"state"`
	Metrics   Metrics   `koanf:"metrics"`
	Cameras   []Camera  `koanf:"cameras"`

	// Classes are the class names of the model at Model.Path (its ONNX metadata, a labels file
	// next to it, or COCO-80), which every label in the configuration is checked against. Validate
	// fills it.
	Classes classes.Set `koanf:"-"`
}

// Model selects the YOLO ONNX model and how inference runs.
type Model struct {
	// Path is the ONNX file (relative paths are relative to the working directory).
	Path string `koanf:"path"`
	// Threads is ONNX Runtime's intra-op thread count; 0 = one per physical core.
	Threads int `koanf:"threads"`
	// Spinning lets ONNX Runtime's idle threads busy-wait between operators (faster by a few per
	// cent, at the cost of CPU burnt while spinning); off by default.
	Spinning bool `koanf:"spinning"`
	// Arena keeps ONNX Runtime's CPU memory arena (on by default: without it every inference
	// maps and page-faults its tensors again).
	Arena bool `koanf:"arena"`
	// MemPattern pre-plans the memory of a run from the first run (off by default: more resident
	// memory, no faster here).
	MemPattern bool `koanf:"memPattern"`
}

// Schedule is a camera's timer: the first tick after Due, then one every Period.
type Schedule struct {
	Due    Duration `koanf:"due"`
	Period Duration `koanf:"period"`
}

// ScheduleOverride replaces some of the global schedule for one camera; nil fields inherit.
type ScheduleOverride struct {
	Due    *Duration `koanf:"due"`
	Period *Duration `koanf:"period"`
}

// Detection says which predictions count and when a tally is sent.
type Detection struct {
	// ScoreThreshold keeps predictions with score >= it; in (0,1].
	ScoreThreshold float64 `koanf:"scoreThreshold"`
	// LabelsOfInterest: a tally is sent only when one of them was seen; empty means any label.
	LabelsOfInterest []string `koanf:"labelsOfInterest"`
	// LabelsMinimum are always in a sent tally, with 0 when not seen.
	LabelsMinimum []string `koanf:"labelsMinimum"`
	// Filters are per-label rules applied before counting, by canonical label.
	Filters map[string]Filter `koanf:"filters"`
	// Tiles, when set, detects on overlapping tiles of the frame (or on each zone's box) at the
	// model's input size, for far-away objects; nil detects on the whole frame once.
	Tiles *Tiles `koanf:"tiles" scalar:"mode"`
}

// DetectionOverride replaces some of the global detection settings for one camera; nil fields
// inherit, an empty list overrides with an empty list.
type DetectionOverride struct {
	ScoreThreshold   *float64  `koanf:"scoreThreshold"`
	LabelsOfInterest *[]string `koanf:"labelsOfInterest"`
	LabelsMinimum    *[]string `koanf:"labelsMinimum"`
	// Filters are merged over the global ones, label by label.
	Filters map[string]Filter `koanf:"filters"`
	// Tiles replaces the global tiling as a whole (tiles: off turns it off for this camera).
	Tiles *Tiles `koanf:"tiles" scalar:"mode"`
}

// Upload sends frames to Azure Blob Storage with IoT Hub file upload (off by default).
type Upload struct {
	// Image is what is uploaded: frame (as captured), markedUp (with boxes, labels and scores)
	// or off.
	Image string `koanf:"image"`
	// When is which ticks qualify: interest (the tally is sent) or always.
	When string `koanf:"when"`
	// Every uploads every Nth qualifying tick, the first included.
	Every int `koanf:"every"`
	// QueueBytes bounds the images waiting on disk per camera while the hub or storage is
	// unreachable; the oldest are dropped.
	QueueBytes int64 `koanf:"queueBytes"`
}

// Enabled reports whether images are uploaded.
func (u Upload) Enabled() bool { return u.Image == UploadFrame || u.Image == UploadMarkedUp }

// UploadOverride replaces some of the global upload settings for one camera; nil fields inherit.
type UploadOverride struct {
	Image      *string `koanf:"image"`
	When       *string `koanf:"when"`
	Every      *int    `koanf:"every"`
	QueueBytes *int64  `koanf:"queueBytes"`
}

// Azure is how the cameras reach IoT Hub: a connection string or DPS.
type Azure struct {
	// ConnectionString is an IoT Hub connection string: a device's (HostName, DeviceId,
	// SharedAccessKey; one camera) or a policy's (SharedAccessKeyName; camera ids are device ids).
	ConnectionString string `koanf:"connectionString"`
	DPS              DPS    `koanf:"dps"`
	// ModelID is the DTDL model ID announced at connect (IoT Plug and Play / IoT Central).
	ModelID string `koanf:"modelId"`
	// CAFile is an extra trusted CA bundle (PEM), e.g. the local emulator's.
	CAFile string `koanf:"caFile"`
	// Transport is mqtt (port 8883) or mqtt-ws (MQTT over WebSockets, port 443), for IoT Hub
	// and DPS alike.
	Transport string `koanf:"transport"`
}

// DPS is the Device Provisioning Service registration of every camera (registration ID =
// camera id), with a group enrollment key (the device keys are derived) or one device key.
type DPS struct {
	GlobalEndpoint     string `koanf:"globalEndpoint"`
	IDScope            string `koanf:"idScope"`
	GroupEnrollmentKey string `koanf:"groupEnrollmentKey"`
	DeviceKey          string `koanf:"deviceKey"`
	// ReprovisionAfter is how long the assigned hub may stay unreachable (over at least 3
	// failed connects) before the camera registers with DPS again; 0 never.
	ReprovisionAfter Duration `koanf:"reprovisionAfter"`
}

// Enabled reports whether any DPS setting beyond the global endpoint is present.
func (d DPS) Enabled() bool {
	return d.IDScope != "" || d.GroupEnrollmentKey != "" || d.DeviceKey != ""
}

// State is where edgecam keeps what must survive a restart.
type State struct {
	// Dir holds the DPS assignment cache, the store-and-forward queue and accepted desired properties.
	Dir string `koanf:"dir"`
	// MaxQueueBytes caps the store-and-forward queues of all cameras together on disk; when
	// full, the oldest tallies are dropped first.
	MaxQueueBytes int64 `koanf:"maxQueueBytes"`
}

// Metrics configures the optional HTTP listener for Prometheus metrics and /healthz.
type Metrics struct {
	// Listen is host:port; empty turns the listener off.
	Listen string `koanf:"listen"`
}

// Default returns the configuration used for every key a source does not set.
func Default() *Config {
	return &Config{
		Model:     Model{Path: DefaultModelPath, Arena: true},
		Schedule:  Schedule{Due: DefaultDue, Period: DefaultPeriod},
		Detection: Detection{ScoreThreshold: DefaultScoreThreshold},
		Upload:    Upload{Image: UploadOff, When: UploadInterest, Every: 1, QueueBytes: DefaultUploadQueueBytes},
		Azure:     Azure{Transport: "mqtt", DPS: DPS{GlobalEndpoint: DefaultGlobalEndpoint, ReprovisionAfter: DefaultReprovisionAfter}},
		State:     State{Dir: DefaultStateDir, MaxQueueBytes: DefaultMaxQueueBytes},
	}
}

// CameraDetection returns the effective detection settings of camera i: the global ones with
// the camera's override applied. The lists are copies the caller may keep.
func (c *Config) CameraDetection(i int) Detection {
	d := c.Detection.clone()
	if i < 0 || i >= len(c.Cameras) || c.Cameras[i].Detection == nil {
		return d
	}
	return c.Cameras[i].Detection.apply(d)
}

// CameraSchedule returns the effective schedule of camera i.
func (c *Config) CameraSchedule(i int) Schedule {
	s := c.Schedule
	if i < 0 || i >= len(c.Cameras) || c.Cameras[i].Schedule == nil {
		return s
	}
	o := c.Cameras[i].Schedule
	if o.Due != nil {
		s.Due = *o.Due
	}
	if o.Period != nil {
		s.Period = *o.Period
	}
	return s
}

// CameraUpload returns the effective upload settings of camera i.
func (c *Config) CameraUpload(i int) Upload {
	u := c.Upload
	if i < 0 || i >= len(c.Cameras) || c.Cameras[i].Upload == nil {
		return u
	}
	o := c.Cameras[i].Upload
	if o.Image != nil {
		u.Image = *o.Image
	}
	if o.When != nil {
		u.When = *o.When
	}
	if o.Every != nil {
		u.Every = *o.Every
	}
	if o.QueueBytes != nil {
		u.QueueBytes = *o.QueueBytes
	}
	return u
}

// CameraIndex returns the index of the camera with the given id, or -1.
func (c *Config) CameraIndex(id string) int {
	for i := range c.Cameras {
		if c.Cameras[i].ID == id {
			return i
		}
	}
	return -1
}

func (d Detection) clone() Detection {
	d.LabelsOfInterest = append([]string(nil), d.LabelsOfInterest...)
	d.LabelsMinimum = append([]string(nil), d.LabelsMinimum...)
	d.Filters = maps.Clone(d.Filters)
	d.Tiles = d.Tiles.clone()
	return d
}

func (o *DetectionOverride) apply(d Detection) Detection {
	if o.ScoreThreshold != nil {
		d.ScoreThreshold = *o.ScoreThreshold
	}
	if o.LabelsOfInterest != nil {
		d.LabelsOfInterest = append([]string(nil), (*o.LabelsOfInterest)...)
	}
	if o.LabelsMinimum != nil {
		d.LabelsMinimum = append([]string(nil), (*o.LabelsMinimum)...)
	}
	if len(o.Filters) > 0 {
		if d.Filters == nil {
			d.Filters = make(map[string]Filter, len(o.Filters))
		}
		maps.Copy(d.Filters, o.Filters)
	}
	if o.Tiles != nil {
		d.Tiles = o.Tiles.clone()
	}
	return d
}

// FieldError is one problem with one configuration key.
type FieldError struct {
	// Key is the key path as written in YAML, e.g. cameras[1].detection.labelsOfInterest.
	Key string
	Msg string
}

func (e *FieldError) Error() string {
	if e.Key == "" {
		return e.Msg
	}
	return e.Key + ": " + e.Msg
}

// ValidationError lists every problem found in a configuration.
type ValidationError struct {
	// Source names where the configuration came from (the file), for the message.
	Source   string
	Problems []*FieldError
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	src := "configuration"
	if e.Source != "" {
		src = "configuration " + e.Source
	}
	if len(e.Problems) == 1 {
		fmt.Fprintf(&b, "%s: %v", src, e.Problems[0])
		return b.String()
	}
	fmt.Fprintf(&b, "%s: %d problems:", src, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.Error())
	}
	return b.String()
}

// Unwrap returns the problems, for errors.As on *FieldError.
func (e *ValidationError) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}

type problems []*FieldError

// under keeps the problems whose key is one of prefixes or below one.
func (p problems) under(prefixes []string) problems {
	var kept problems
	for _, fe := range p {
		for _, pre := range prefixes {
			if rest, ok := strings.CutPrefix(fe.Key, pre); ok && (rest == "" || rest[0] == '.' || rest[0] == '[') {
				kept = append(kept, fe)
				break
			}
		}
	}
	return kept
}

func (p *problems) add(key, format string, args ...any) {
	*p = append(*p, &FieldError{Key: key, Msg: fmt.Sprintf(format, args...)})
}
