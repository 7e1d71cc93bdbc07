package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/edgecam/edgecam/internal/iothub"
)

// Camera kinds.
const (
	TypeRPi  = "rpi"
	TypeHTTP = "http"
	TypeRTSP = "rtsp"
	TypeFile = "file"
)

var cameraTypes = []string{TypeRPi, TypeHTTP, TypeRTSP, TypeFile}

// Validate checks every key, fills what can be derived (a camera id from a device connection
// string) and rewrites labels to their canonical COCO names. It returns a *ValidationError
// listing every problem, or nil.
func (c *Config) Validate() error {
	probs := c.check()
	if len(probs) == 0 {
		return nil
	}
	sortProblems(probs)
	return &ValidationError{Problems: probs}
}

func (c *Config) check() problems {
	var p problems
	c.checkModel(&p)
	if err := ValidateSchedule(c.Schedule); err != nil {
		p.addErr("schedule", err)
	}
	if d, err := NormalizeDetection(c.Detection); err != nil {
		p.addErr("detection", err)
	} else {
		c.Detection = d
	}
	checkUpload(&p, "upload", &c.Upload.Image, &c.Upload.When, &c.Upload.Every, &c.Upload.QueueBytes)
	cs := c.checkAzure(&p)
	if c.State.Dir == "" {
		p.add("state.dir", "empty: set a writable directory for the DPS cache and the store-and-forward queue (default %s)", DefaultStateDir)
	}
	if c.Metrics.Listen != "" {
		if err := checkListen(c.Metrics.Listen); err != nil {
			p.add("metrics.listen", "%v", err)
		}
	}
	c.checkCameras(&p, cs)
	return p
}

func (p *problems) addErr(prefix string, err error) {
	var fe *FieldError
	for _, e := range flatten(err) {
		if errors.As(e, &fe) {
			p.add(joinKey(prefix, fe.Key), "%s", fe.Msg)
		} else {
			p.add(prefix, "%v", e)
		}
	}
}

func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

func (c *Config) checkModel(p *problems) {
	if c.Model.Path == "" {
		p.add("model.path", "empty: set the YOLOv5 ONNX model file (e.g. %s)", DefaultModelPath)
	} else if err := checkFile(c.Model.Path); err != nil {
		p.add("model.path", "%v (fetch it with `make deps-model` or point model.path at a YOLOv5 .onnx file)", err)
	}
	if c.Model.Threads < 0 {
		p.add("model.threads", "%d is negative: use 0 to let ONNX Runtime choose, or a thread count", c.Model.Threads)
	}
}

func checkFile(path string) error {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("file %q not found", path)
	case err != nil:
		return fmt.Errorf("cannot read %q: %v", path, err)
	case st.IsDir():
		return fmt.Errorf("%q is a directory, not a file", path)
	}
	return nil
}

// MinPeriod is the shortest schedule.period accepted: shorter would keep the CPU busy and flood
// the hub (a value set from the cloud too).
const MinPeriod = Duration(time.Second)

// ValidateSchedule checks a schedule: due >= 0, period >= MinPeriod.
func ValidateSchedule(s Schedule) error {
	var p problems
	if s.Due < 0 {
		p.add("due", "%v is negative: use 0 to start at once, or e.g. 15s", s.Due)
	}
	switch {
	case s.Period <= 0:
		p.add("period", "%v must be greater than 0, e.g. 30s", s.Period)
	case s.Period < MinPeriod:
		p.add("period", "%v is too short: use at least %v, e.g. 30s", s.Period, MinPeriod)
	}
	return p.join()
}

// ValidateDetection checks a threshold in (0,1] and that every label is a COCO label
// (case-insensitive; DTDL-safe spellings accepted).
func ValidateDetection(d Detection) error {
	_, err := NormalizeDetection(d)
	return err
}

// NormalizeDetection validates d (see ValidateDetection) and returns it with the labels in their
// canonical COCO spelling, without duplicates. Errors are *FieldError values joined, keyed
// scoreThreshold, labelsOfInterest and labelsMinimum.
func NormalizeDetection(d Detection) (Detection, error) {
	var p problems
	if err := ValidateThreshold(d.ScoreThreshold); err != nil {
		p.add("scoreThreshold", "%v", err)
	}
	var err error
	if d.LabelsOfInterest, err = CanonicalLabels(d.LabelsOfInterest); err != nil {
		p.addErr("labelsOfInterest", err)
	}
	if d.LabelsMinimum, err = CanonicalLabels(d.LabelsMinimum); err != nil {
		p.addErr("labelsMinimum", err)
	}
	return d, p.join()
}

// ValidateThreshold checks a score threshold is in (0,1].
func ValidateThreshold(t float64) error {
	if !(t > 0 && t <= 1) {
		return fmt.Errorf("%v is outside (0,1]: use a score such as 0.5 (more detections) or 0.8 (fewer, surer)", t)
	}
	return nil
}

func (p problems) join() error {
	if len(p) == 0 {
		return nil
	}
	errs := make([]error, len(p))
	for i, e := range p {
		errs[i] = e
	}
	return errors.Join(errs...)
}

func isBase64(s string) bool {
	b, err := base64.StdEncoding.DecodeString(s)
	return err == nil && len(b) > 0
}

var dtmiRE = regexp.MustCompile(`^dtmi:[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?(?::[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?)*;[1-9][0-9]{0,8}$`)

// checkAzure checks the connection settings and returns the parsed connection string, if any.
func (c *Config) checkAzure(p *problems) *iothub.ConnectionString {
	a := c.Azure
	hasCS, hasDPS := a.ConnectionString != "", a.DPS.Enabled()
	var cs *iothub.ConnectionString
	switch {
	case hasCS && hasDPS:
		p.add("azure", "both azure.connectionString and azure.dps are set: keep one (DPS for IoT Central or many cameras, a connection string for one IoT Hub device)")
	case !hasCS && !hasDPS:
		p.add("azure", "neither azure.connectionString nor azure.dps is set: set azure.dps.idScope with azure.dps.groupEnrollmentKey (IoT Central, or DPS), or azure.connectionString (one IoT Hub device)")
	case hasCS:
		parsed, err := iothub.ParseConnectionString(a.ConnectionString)
		if err != nil {
			p.add("azure.connectionString", "%s", strings.TrimPrefix(err.Error(), "connection string: "))
		} else {
			cs = &parsed
		}
	case hasDPS:
		d := a.DPS
		if d.IDScope == "" {
			p.add("azure.dps.idScope", "empty: copy the ID scope (e.g. 0ne00000000) from the DPS overview or IoT Central's Device connection groups page")
		} else if strings.ContainsAny(d.IDScope, " /?#") {
			p.add("azure.dps.idScope", "%q is not an ID scope (e.g. 0ne00000000)", d.IDScope)
		}
		switch {
		case d.GroupEnrollmentKey == "" && d.DeviceKey == "":
			p.add("azure.dps", "no key: set groupEnrollmentKey (an enrollment group's key; each camera's key is derived from it) or deviceKey (one camera's individual enrollment)")
		case d.GroupEnrollmentKey != "" && d.DeviceKey != "":
			p.add("azure.dps", "both groupEnrollmentKey and deviceKey are set: keep one")
		case d.GroupEnrollmentKey != "" && !isBase64(d.GroupEnrollmentKey):
			p.add("azure.dps.groupEnrollmentKey", "not valid base64: copy the key exactly as the portal shows it")
		case d.DeviceKey != "" && !isBase64(d.DeviceKey):
			p.add("azure.dps.deviceKey", "not valid base64: copy the key exactly as the portal shows it")
		case d.DeviceKey != "" && len(c.Cameras) > 1:
			p.add("azure.dps.deviceKey", "a device key belongs to one registration but %d cameras are configured: use an enrollment group's groupEnrollmentKey", len(c.Cameras))
		}
		if d.GlobalEndpoint == "" {
			p.add("azure.dps.globalEndpoint", "empty: use %s", DefaultGlobalEndpoint)
		} else if err := checkHostPort(d.GlobalEndpoint); err != nil {
			p.add("azure.dps.globalEndpoint", "%v", err)
		}
	}
	if a.ModelID != "" && !dtmiRE.MatchString(a.ModelID) {
		p.add("azure.modelId", "%q is not a DTDL model ID: expected dtmi:<segment>[:<segment>...];<version>, e.g. dtmi:com:example:EdgeCamera;1", a.ModelID)
	}
	if a.CAFile != "" {
		if err := checkFile(a.CAFile); err != nil {
			p.add("azure.caFile", "%v", err)
		}
	}
	return cs
}

// checkHostPort accepts "host" or "host:port".
func checkHostPort(s string) error {
	if strings.ContainsAny(s, "/ ") {
		return fmt.Errorf("%q is not a host name: give host or host:port without a scheme or path", s)
	}
	if strings.Contains(s, ":") {
		if _, port, err := net.SplitHostPort(s); err != nil || !validPort(port) {
			return fmt.Errorf("%q is not host:port", s)
		}
	}
	return nil
}

func checkListen(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil || !validPort(port) {
		return fmt.Errorf("%q is not host:port (e.g. 127.0.0.1:9464, or :9464 for every interface)", s)
	}
	return nil
}

func validPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 0 && n <= math.MaxUint16
}

func (c *Config) checkCameras(p *problems, cs *iothub.ConnectionString) {
	if len(c.Cameras) == 0 {
		p.add("cameras", "no camera configured: add at least one (id, type and that type's keys) under cameras:")
		return
	}
	dps := c.Azure.DPS.Enabled() && c.Azure.ConnectionString == ""
	deviceCS := cs != nil && cs.DeviceID != ""
	if deviceCS && len(c.Cameras) > 1 {
		p.add("azure.connectionString", "the connection string is device %q's but %d cameras are configured, and each camera is its own device: use DPS (azure.dps) or a policy connection string (SharedAccessKeyName), or keep one camera", cs.DeviceID, len(c.Cameras))
	}
	seen := map[string]int{}
	for i := range c.Cameras {
		cam := &c.Cameras[i]
		key := fmt.Sprintf("cameras[%d]", i)
		if cam.ID == "" && deviceCS && len(c.Cameras) == 1 {
			cam.ID = cs.DeviceID
		}
		switch {
		case cam.ID == "":
			p.add(key+".id", "missing: set the IoT Hub device ID (with DPS: the registration ID) of this camera")
		case deviceCS && cam.ID != cs.DeviceID:
			p.add(key+".id", "%q differs from the connection string's DeviceId %q: use %q or leave id empty", cam.ID, cs.DeviceID, cs.DeviceID)
		default:
			if err := checkDeviceID(cam.ID, dps); err != nil {
				p.add(key+".id", "%v", err)
			}
			norm := cam.ID
			if dps { // DPS registration IDs are case-insensitive
				norm = strings.ToLower(norm)
			}
			if j, dup := seen[norm]; dup {
				p.add(key+".id", "%q is also the id of cameras[%d]: every camera needs its own device id", cam.ID, j)
			} else {
				seen[norm] = i
			}
		}
		cam.checkKind(p, key)
		if cam.Schedule != nil {
			if err := ValidateSchedule(c.CameraSchedule(i)); err != nil {
				p.addErr(key+".schedule", err)
			}
		}
		if o := cam.Upload; o != nil {
			checkUpload(p, key+".upload", o.Image, o.When, o.Every, o.QueueBytes)
		}
		if o := cam.Detection; o != nil {
			if o.ScoreThreshold != nil {
				if err := ValidateThreshold(*o.ScoreThreshold); err != nil {
					p.add(key+".detection.scoreThreshold", "%v", err)
				}
			}
			for _, l := range []struct {
				name string
				list *[]string
			}{{"labelsOfInterest", o.LabelsOfInterest}, {"labelsMinimum", o.LabelsMinimum}} {
				if l.list == nil {
					continue
				}
				canon, err := CanonicalLabels(*l.list)
				if err != nil {
					p.addErr(key+".detection."+l.name, err)
				}
				*l.list = canon
			}
		}
	}
}

// checkDeviceID applies IoT Hub's device ID rules (and DPS's stricter registration ID rules).
func checkDeviceID(id string, dps bool) error {
	if len(id) > 128 {
		return fmt.Errorf("%q is longer than 128 characters", id)
	}
	const hubSpecial = "-:.%_*?!(),=@;$'"
	const dpsSpecial = "-._:"
	for _, r := range id {
		alnum := r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		switch {
		case alnum:
		case r == '#' || r == '+':
			return fmt.Errorf("%q contains %q, which IoT Hub allows but MQTT topics cannot carry: use letters, digits and - . _ :", id, r)
		case dps && !strings.ContainsRune(dpsSpecial, r):
			return fmt.Errorf("%q contains %q: a DPS registration ID may hold letters, digits and - . _ : only", id, r)
		case !strings.ContainsRune(hubSpecial, r):
			return fmt.Errorf("%q contains %q: an IoT Hub device ID may hold ASCII letters, digits and %s only", id, r, hubSpecial)
		}
	}
	if dps {
		last := id[len(id)-1]
		if last == '.' || last == '_' || last == ':' {
			return fmt.Errorf("%q ends with %q: a DPS registration ID must end with a letter, digit or '-'", id, last)
		}
	}
	return nil
}

func (cam *Camera) checkKind(p *problems, key string) {
	t := strings.ToLower(strings.TrimSpace(cam.Type))
	switch t {
	case TypeRPi, TypeHTTP, TypeRTSP, TypeFile:
		cam.Type = t
	case "":
		p.add(key+".type", "missing: set rpi, http, rtsp or file")
		return
	default:
		msg := fmt.Sprintf("unknown camera type %q: use rpi, http, rtsp or file", cam.Type)
		if s := didYouMean(t, cameraTypes); s != "" {
			msg = fmt.Sprintf("unknown camera type %q (did you mean %q?): use rpi, http, rtsp or file", cam.Type, s)
		}
		p.add(key+".type", "%s", msg)
		return
	}
	switch t {
	case TypeHTTP:
		if cam.URL == "" {
			p.add(key+".url", "missing: an http camera needs the snapshot URL, e.g. http://192.168.1.64/ISAPI/Streaming/channels/101/picture")
		} else if u, err := url.Parse(cam.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.add(key+".url", "%q is not an http:// or https:// URL", redactURL(cam.URL))
		}
	case TypeRTSP:
		if cam.URL == "" {
			p.add(key+".url", "missing: an rtsp camera needs the stream URL, e.g. rtsp://192.168.1.64:554/stream1")
		} else if _, err := url.Parse(cam.URL); err != nil {
			p.add(key+".url", "%q is not a URL", redactURL(cam.URL))
		}
	case TypeFile:
		if cam.Path == "" {
			p.add(key+".path", "missing: a file camera needs the path of the image it reads")
		} else if err := checkFile(cam.Path); err != nil {
			p.add(key+".path", "%v", err)
		}
	case TypeRPi:
		if cam.Rotation != 0 && cam.Rotation != 180 {
			p.add(key+".rotation", "%d is not supported: the Raspberry Pi camera rotates by 0 or 180", cam.Rotation)
		}
		if cam.Width < 0 || cam.Height < 0 {
			p.add(key+".width", "negative frame size %dx%d: use 0 for the camera default", cam.Width, cam.Height)
		}
	}
	if cam.Timeout < 0 {
		p.add(key+".timeout", "%v is negative: use 0 for the default", cam.Timeout)
	}
	if cam.MaxBytes < 0 {
		p.add(key+".maxBytes", "%d is negative: use 0 for the default (32 MiB)", cam.MaxBytes)
	}
}

// checkUpload checks the upload keys that are set (nil: inherited) and writes image and when in
// their canonical spelling.
func checkUpload(p *problems, key string, image, when *string, every *int, queueBytes *int64) {
	if image != nil {
		switch strings.ToLower(strings.TrimSpace(*image)) {
		case "", "off", "none", "false":
			*image = UploadOff
		case "frame":
			*image = UploadFrame
		case "markedup", "marked-up", "marked_up":
			*image = UploadMarkedUp
		default:
			p.add(key+".image", "%q is not an upload image: use frame (as captured), markedUp (with boxes and labels) or off", *image)
		}
	}
	if when != nil {
		switch strings.ToLower(strings.TrimSpace(*when)) {
		case "", "interest":
			*when = UploadInterest
		case "always":
			*when = UploadAlways
		default:
			p.add(key+".when", "%q is not an upload condition: use interest (ticks whose tally is sent) or always", *when)
		}
	}
	if every != nil && *every < 1 {
		p.add(key+".every", "%d: use 1 to upload every qualifying tick, or N for every Nth", *every)
	}
	if queueBytes != nil && *queueBytes < 64<<10 {
		p.add(key+".queueBytes", "%d bytes is too small to hold one image: use at least 65536 (default %d, 64 MiB)", *queueBytes, DefaultUploadQueueBytes)
	}
}
