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

	"github.com/edgecam/edgecam/internal/classes"
	"github.com/edgecam/edgecam/internal/iothub"
)

// Camera kinds.
const (
	TypeRPi  = "rpi"
	TypeHTTP = "http"
	TypeRTSP = "rtsp"
	TypeFile = "file"
)

// RTSP transports (cameras[].transport).
const (
	TransportTCP  = "tcp"
	TransportUDP  = "udp"
	TransportAuto = "auto"
)

// HTTP authentication schemes a camera's auth key may pin.
const (
	AuthDigest = "digest"
	AuthBasic  = "basic"
)

// Redirect policies of an http camera's redirects key.
const (
	RedirectsSameHost = "same-host"
	RedirectsAny      = "any"
	RedirectsNone     = "none"
)

// Upper bounds of numeric keys: beyond them a value is a typo (an extra zero, milliseconds for
// seconds) that would pre-allocate huge buffers, overflow or never fire.
const (
	MaxTimeout       = 10 * time.Minute
	MaxFrameBytes    = 512 << 20   // cameras[].maxBytes
	MaxFramePixels   = 250_000_000 // cameras[].maxPixels: 750 MB decoded
	MaxFrameSide     = 16384       // cameras[].width, height
	MaxSchedule      = Duration(30 * 24 * time.Hour)
	MaxModelThreads  = 256
	MinQueueBytes    = 1 << 20  // state.maxQueueBytes, cameras[].maxQueueBytes
	MaxQueueBytesCap = 1 << 40  // 1 TiB
	DefaultMaxBytes  = 32 << 20 // cameras[].maxBytes when 0
)

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
	if d, err := NormalizeDetection(c.Classes, c.Detection); err != nil {
		p.addErr("detection", err)
	} else {
		c.Detection = d
	}
	checkUpload(&p, "upload", &c.Upload.Image, &c.Upload.When, &c.Upload.Every, &c.Upload.QueueBytes)
	cs := c.checkAzure(&p)
	if c.State.Dir == "" {
		p.add("state.dir", "empty: set a writable directory for the DPS cache and the store-and-forward queue (default %s)", DefaultStateDir)
	}
	if q := c.State.MaxQueueBytes; q < MinQueueBytes || q > MaxQueueBytesCap {
		p.add("state.maxQueueBytes", "%d is outside [%d, %d]: the queues' disk budget in bytes, e.g. %d (64 MiB)", q, MinQueueBytes, int64(MaxQueueBytesCap), DefaultMaxQueueBytes)
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
		p.add("model.path", "empty: set the YOLO ONNX model file (e.g. %s)", DefaultModelPath)
	} else if err := checkFile(c.Model.Path); err != nil {
		p.add("model.path", "%v: the model is not installed with edgecam (AGPL-3.0, see the README's \"Installing\"): "+
			"put a YOLO ONNX detection export (YOLOv5, YOLOv8/11 or YOLO26; docs/models.md) there, or point model.path at one; in a source checkout `make deps-model` fetches it", err)
	} else if set, _, err := classes.Model(c.Model.Path); err != nil {
		p.add("model.path", "%s: %v", c.Model.Path, err)
	} else {
		// Every label in the configuration is checked against the model's own classes.
		c.Classes = set
	}
	if c.Model.Threads < 0 {
		p.add("model.threads", "%d is negative: use 0 for one per physical core, or a thread count", c.Model.Threads)
	} else if c.Model.Threads > MaxModelThreads {
		p.add("model.threads", "%d is more than %d: use 0 for one per physical core, or the number of cores", c.Model.Threads, MaxModelThreads)
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
	} else if s.Due > MaxSchedule {
		p.add("due", "%v is longer than %v: use e.g. 15s", s.Due, MaxSchedule)
	}
	switch {
	case s.Period <= 0:
		p.add("period", "%v must be greater than 0, e.g. 30s", s.Period)
	case s.Period < MinPeriod:
		p.add("period", "%v is too short: use at least %v, e.g. 30s", s.Period, MinPeriod)
	case s.Period > MaxSchedule:
		p.add("period", "%v is longer than %v: use e.g. 30s or 1h", s.Period, MaxSchedule)
	}
	return p.join()
}

// ValidateDetection checks a threshold in (0,1], that every label is one of set's
// (case-insensitive; DTDL-safe spellings accepted) and the per-label filters.
func ValidateDetection(set classes.Set, d Detection) error {
	_, err := NormalizeDetection(set, d)
	return err
}

// NormalizeDetection validates d (see ValidateDetection) and returns it with the labels in their
// canonical spelling, without duplicates. Errors are *FieldError values joined, keyed
// scoreThreshold, labelsOfInterest, labelsMinimum and filters.<label>[.<key>].
func NormalizeDetection(set classes.Set, d Detection) (Detection, error) {
	var p problems
	if err := ValidateThreshold(d.ScoreThreshold); err != nil {
		p.add("scoreThreshold", "%v", err)
	}
	var err error
	if d.LabelsOfInterest, err = set.Canonical(d.LabelsOfInterest); err != nil {
		p.addErr("labelsOfInterest", err)
	}
	if d.LabelsMinimum, err = set.Canonical(d.LabelsMinimum); err != nil {
		p.addErr("labelsMinimum", err)
	}
	if d.Filters, err = NormalizeFilters(set, d.Filters); err != nil {
		p.addErr("filters", err)
	}
	normalizeTiles(&p, d.Tiles)
	return d, p.join()
}

// ValidateThreshold checks a score threshold is in (0,1].
func ValidateThreshold(t float64) error {
	if !(t > 0 && t <= 1) {
		return fmt.Errorf("%v is outside (0,1]: use a score such as %v (the default, the least count error measured on coco128)", t, DefaultScoreThreshold)
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
		case d.GroupEnrollmentKey == "" && d.DeviceKey == "" && !c.camerasHaveKeys():
			p.add("azure.dps", "no key: set cameras[].deviceKey (each camera's own key: an individual enrollment key, or one derived off the device with edgecam provision --derive-key), groupEnrollmentKey (an enrollment group's key; each camera's key is derived from it) or deviceKey (one camera's individual enrollment)")
		case d.GroupEnrollmentKey != "" && d.DeviceKey != "":
			p.add("azure.dps", "both groupEnrollmentKey and deviceKey are set: keep one")
		case d.GroupEnrollmentKey != "" && !isBase64(d.GroupEnrollmentKey):
			p.add("azure.dps.groupEnrollmentKey", "not valid base64: copy the key exactly as the portal shows it")
		case d.DeviceKey != "" && !isBase64(d.DeviceKey):
			p.add("azure.dps.deviceKey", "not valid base64: copy the key exactly as the portal shows it")
		case d.DeviceKey != "" && len(c.Cameras) > 1:
			p.add("azure.dps.deviceKey", "a device key belongs to one registration but %d cameras are configured: use an enrollment group's groupEnrollmentKey", len(c.Cameras))
		}
		if r := d.ReprovisionAfter.Std(); r < 0 || (r > 0 && r < time.Second) {
			p.add("azure.dps.reprovisionAfter", "%s: use 0 (never register again on an unreachable hub) or at least 1s (mind DPS's quotas; the default is %s)", r, DefaultReprovisionAfter.Std())
		}
		if d.GlobalEndpoint == "" {
			p.add("azure.dps.globalEndpoint", "empty: use %s", DefaultGlobalEndpoint)
		} else if err := checkHostPort(d.GlobalEndpoint); err != nil {
			p.add("azure.dps.globalEndpoint", "%v", err)
		}
	}
	if t, err := iothub.ParseTransport(a.Transport); err != nil {
		p.add("azure.transport", "%q: use mqtt (port 8883) or mqtt-ws (MQTT over WebSockets on port 443, for networks that block 8883)", a.Transport)
	} else {
		a.Transport = string(t)
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
	var queueBytes int64
	for i := range c.Cameras {
		queueBytes += max(c.Cameras[i].MaxQueueBytes, 0)
	}
	if queueBytes > c.State.MaxQueueBytes && c.State.MaxQueueBytes >= MinQueueBytes {
		p.add("cameras", "the cameras' maxQueueBytes add up to %d, more than state.maxQueueBytes %d: raise state.maxQueueBytes or lower them", queueBytes, c.State.MaxQueueBytes)
	}
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
			if dps { // DPS registration IDs are case-insensitive (and checked to be lower case)
				norm = strings.ToLower(norm)
			}
			if j, dup := seen[norm]; dup {
				p.add(key+".id", "%q is also the id of cameras[%d]: every camera needs its own device id", cam.ID, j)
			} else {
				seen[norm] = i
			}
		}
		cam.checkKey(p, key, dps)
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
				canon, err := c.Classes.Canonical(*l.list)
				if err != nil {
					p.addErr(key+".detection."+l.name, err)
				}
				*l.list = canon
			}
			var err error
			if o.Filters, err = NormalizeFilters(c.Classes, o.Filters); err != nil {
				p.addErr(key+".detection.filters", err)
			}
			var tp problems
			if normalizeTiles(&tp, o.Tiles); len(tp) > 0 {
				p.addErr(key+".detection", tp.join())
			}
		}
		checkZones(p, key, cam.Zones, cam.Masks, c.Classes)
		if t := c.CameraDetection(i).Tiles; t != nil && t.Mode == TilesZones && len(cam.Zones) == 0 {
			tk := "detection.tiles"
			if cam.Detection != nil && cam.Detection.Tiles != nil {
				tk = key + ".detection.tiles"
			}
			p.add(tk, "tiles: zones detects on each zone's box, but camera %q has no zones: add zones to it, or use a grid ({cols: 3, rows: 3}) or tiles: off for it", cam.ID)
		}
		checkLines(p, key, cam, c.Classes)
	}
}

// camerasHaveKeys reports whether every camera has its own DPS key (deviceKey or deviceKeyFile).
func (c *Config) camerasHaveKeys() bool {
	for _, cam := range c.Cameras {
		if cam.DeviceKey == "" && cam.DeviceKeyFile == "" {
			return false
		}
	}
	return len(c.Cameras) > 0
}

// checkKey validates the camera's own DPS key and reads deviceKeyFile into DeviceKey.
func (cam *Camera) checkKey(p *problems, key string, dps bool) {
	switch {
	case cam.DeviceKey == "" && cam.DeviceKeyFile == "":
		return
	case cam.DeviceKey != "" && cam.DeviceKeyFile != "":
		p.add(key+".deviceKey", "both deviceKey and deviceKeyFile are set: keep one")
		return
	case !dps:
		p.add(key+".deviceKey", "a camera's own key is for DPS (azure.dps.idScope); with a connection string the key is in the connection string")
		return
	}
	if cam.DeviceKeyFile != "" {
		b, err := os.ReadFile(cam.DeviceKeyFile)
		if err != nil {
			p.add(key+".deviceKeyFile", "%v", err)
			return
		}
		cam.DeviceKey = strings.TrimSpace(string(b))
		if !isBase64(cam.DeviceKey) {
			p.add(key+".deviceKeyFile", "%s does not hold a base64 key: put the key alone in the file, as the portal or edgecam provision --derive-key shows it", cam.DeviceKeyFile)
		}
		return
	}
	if !isBase64(cam.DeviceKey) {
		p.add(key+".deviceKey", "not valid base64: copy the key exactly as the portal or edgecam provision --derive-key shows it")
	}
}

// checkDeviceID applies IoT Hub's device ID rules (and DPS's stricter registration ID rules).
func checkDeviceID(id string, dps bool) error {
	if len(id) > 128 {
		return fmt.Errorf("%q is longer than 128 characters", id)
	}
	// The id names the camera's queue folder and settings file under state.dir.
	if strings.Trim(id, ".") == "" {
		return fmt.Errorf("%q is not usable as a file name (the camera's queue and settings are kept under state.dir by id): use letters, digits and - . _ :", id)
	}
	const hubSpecial = "-:.%_*?!(),=@;$'"
	const dpsSpecial = "-._:"
	upper := false
	for _, r := range id {
		alnum := r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		switch {
		case dps && r >= 'A' && r <= 'Z':
			upper = true // reported last, so that the lower-case ID it suggests is valid
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
	if upper {
		return fmt.Errorf("%q has upper-case letters: a DPS registration ID must be lower case (DPS compares IDs case-insensitively, the key derived from a group key covers the exact bytes): use %q", id, strings.ToLower(id))
	}
	return nil
}

// CheckRegistrationID applies DPS's registration ID rules (lower-case ASCII letters, digits and
// - . _ :, ending with a letter, a digit or '-', at most 128 characters), as config check does
// for a camera ID under DPS.
func CheckRegistrationID(id string) error { return checkDeviceID(id, true) }

// checkONVIF checks the onvif key of an http or rtsp camera, which replaces url.
func (cam *Camera) checkONVIF(p *problems, key string) {
	o := cam.ONVIF
	o.Endpoint = strings.TrimSpace(o.Endpoint)
	o.Profile = strings.TrimSpace(o.Profile)
	switch {
	case o.Endpoint == "":
		p.add(key+".onvif.endpoint", "missing: the camera's ONVIF endpoint reference, e.g. urn:uuid:5f5a69c2-e0ae-504f-829b-00ae5e0ebf0e (edgecam discover lists them)")
	case strings.ContainsAny(o.Endpoint, " \t\n"):
		p.add(key+".onvif.endpoint", "%q has spaces: want one endpoint reference, e.g. urn:uuid:5f5a69c2-e0ae-504f-829b-00ae5e0ebf0e", o.Endpoint)
	}
	if cam.URL != "" {
		p.add(key+".url", "set url or onvif, not both: with onvif edgecam asks the camera for its URL")
	}
}

func (cam *Camera) checkKind(p *problems, key string) {
	t := strings.ToLower(strings.TrimSpace(cam.Type))
	switch {
	case IsKind(t):
		cam.Type = t
	case t == "":
		p.add(key+".type", "missing: set %s", KindList(""))
		return
	default:
		msg := fmt.Sprintf("unknown camera type %q: use %s", cam.Type, KindList(""))
		if s := didYouMean(t, KindNames()); s != "" {
			msg = fmt.Sprintf("unknown camera type %q (did you mean %q?): use %s", cam.Type, s, KindList(""))
		}
		p.add(key+".type", "%s", msg)
		return
	}
	if k := kindNamed(t); k.check != nil {
		k.check(cam, p, key)
	}
	cam.checkCommon(p, key, t)
}

// checkCommon checks the keys every kind has (bounds) and the http-only ones set on another kind.
func (cam *Camera) checkCommon(p *problems, key, t string) {
	if cam.ONVIF != nil && t != TypeHTTP && t != TypeRTSP {
		p.add(key+".onvif", "only http (snapshot) and rtsp (stream) cameras are found by ONVIF")
	}
	if cam.Timeout < 0 {
		p.add(key+".timeout", "%v is negative: use 0 for the default", cam.Timeout)
	} else if cam.Timeout > MaxTimeout {
		p.add(key+".timeout", "%v is longer than %v: use 0 for the default, or e.g. 10s", cam.Timeout, MaxTimeout)
	}
	if cam.MaxBytes < 0 || cam.MaxBytes > MaxFrameBytes {
		p.add(key+".maxBytes", "%d is outside [0, %d]: use 0 for the default (%d, 32 MiB)", cam.MaxBytes, MaxFrameBytes, DefaultMaxBytes)
	}
	if cam.MaxPixels < 0 || cam.MaxPixels > MaxFramePixels {
		p.add(key+".maxPixels", "%d is outside [0, %d]: use 0 for the default (40000000, 40 megapixels)", cam.MaxPixels, MaxFramePixels)
	}
	if cam.MaxQueueBytes != 0 && (cam.MaxQueueBytes < MinQueueBytes || cam.MaxQueueBytes > MaxQueueBytesCap) {
		p.add(key+".maxQueueBytes", "%d is outside [%d, %d]: use 0 for a share of state.maxQueueBytes", cam.MaxQueueBytes, MinQueueBytes, int64(MaxQueueBytesCap))
	}
	cam.Auth = strings.ToLower(strings.TrimSpace(cam.Auth))
	switch cam.Auth {
	case "", AuthDigest, AuthBasic:
		if cam.Auth != "" && t != TypeHTTP {
			p.add(key+".auth", "only http cameras authenticate with auth: %s (rtsp credentials go in the URL)", cam.Auth)
		}
	default:
		p.add(key+".auth", "%q is not a scheme: use digest or basic, or leave it empty to answer what the camera asks (never Basic after Digest)", cam.Auth)
	}
	cam.Redirects = strings.ToLower(strings.TrimSpace(cam.Redirects))
	switch cam.Redirects {
	case "", RedirectsSameHost, RedirectsAny, RedirectsNone:
		if cam.Redirects != "" && t != TypeHTTP {
			p.add(key+".redirects", "only http cameras follow redirects")
		}
	default:
		p.add(key+".redirects", "%q is not a policy: use same-host (the default), any or none", cam.Redirects)
	}
}

// checkHTTP checks an http camera's keys.
func checkHTTP(cam *Camera, p *problems, key string) {
	if cam.ONVIF != nil {
		cam.checkONVIF(p, key)
	} else if cam.URL == "" {
		p.add(key+".url", "missing: an http camera needs the snapshot URL, e.g. http://192.168.1.64/ISAPI/Streaming/channels/101/picture")
	} else if u, err := url.Parse(cam.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.add(key+".url", "%q is not an http:// or https:// URL", redactURL(cam.URL))
	}
}

// checkRTSP checks an rtsp camera's keys and writes its transport in canonical form.
func checkRTSP(cam *Camera, p *problems, key string) {
	if cam.ONVIF != nil {
		cam.checkONVIF(p, key)
	} else if cam.URL == "" {
		p.add(key+".url", "missing: an rtsp camera needs the stream URL, e.g. rtsp://192.168.1.64:554/stream1")
	} else if u, err := url.Parse(cam.URL); err != nil || (u.Scheme != "rtsp" && u.Scheme != "rtsps") || u.Host == "" {
		p.add(key+".url", "%q is not an rtsp:// or rtsps:// URL", redactURL(cam.URL))
	}
	switch strings.ToLower(strings.TrimSpace(cam.Transport)) {
	case "", TransportTCP:
		cam.Transport = TransportTCP
	case TransportUDP, TransportAuto:
		cam.Transport = strings.ToLower(strings.TrimSpace(cam.Transport))
	default:
		p.add(key+".transport", "%q is not a transport: use tcp (the default), udp or auto", cam.Transport)
	}
	if cam.MaxFrameAge < 0 {
		p.add(key+".maxFrameAge", "%v is negative: use 0 for the default (2 s or 3 frame intervals, whichever is larger)", cam.MaxFrameAge)
	}
}

// checkFileKind checks a file camera's path.
func checkFileKind(cam *Camera, p *problems, key string) {
	if cam.Path == "" {
		p.add(key+".path", "missing: a file camera needs the path of the image it reads")
	} else if err := checkFile(cam.Path); err != nil {
		p.add(key+".path", "%v", err)
	}
}

// checkRPi checks a Raspberry Pi camera's rotation and frame size.
func checkRPi(cam *Camera, p *problems, key string) {
	if cam.Rotation != 0 && cam.Rotation != 180 {
		p.add(key+".rotation", "%d is not supported: the Raspberry Pi camera rotates by 0 or 180", cam.Rotation)
	}
	if cam.Width < 0 || cam.Height < 0 {
		p.add(key+".width", "negative frame size %dx%d: use 0 for the camera default", cam.Width, cam.Height)
	} else if cam.Width > MaxFrameSide || cam.Height > MaxFrameSide {
		p.add(key+".width", "frame size %dx%d is larger than %dx%d: use 0 for the camera default", cam.Width, cam.Height, MaxFrameSide, MaxFrameSide)
	}
}

// checkUpload checks the upload keys that are set (nil: inherited) and writes image and when in
// their canonical spelling.
// maxUploadEvery bounds upload.every: a million ticks is about a year at the 30 s default period.
const maxUploadEvery = 1_000_000

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
	if every != nil && (*every < 1 || *every > maxUploadEvery) {
		p.add(key+".every", "%d: use 1 to upload every qualifying tick, or N (at most %d) for every Nth", *every, maxUploadEvery)
	}
	if queueBytes != nil && *queueBytes < 64<<10 {
		p.add(key+".queueBytes", "%d bytes is too small to hold one image: use at least 65536 (default %d, 64 MiB)", *queueBytes, DefaultUploadQueueBytes)
	}
	if queueBytes != nil && *queueBytes > MaxQueueBytesCap {
		p.add(key+".queueBytes", "%d bytes is more than the %d (1 TiB) a spool may hold", *queueBytes, int64(MaxQueueBytesCap))
	}
}
