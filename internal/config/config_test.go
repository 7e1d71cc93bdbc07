package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/edgecam/edgecam/internal/classes"
	"github.com/edgecam/edgecam/internal/onnxmodel/onnxtest"
)

// cocoModel is a tiny valid ONNX model with the YOLOv5 output of 80 classes (COCO-80 by default).
var cocoModel = onnxtest.ConstantModel([]int64{1, 3, 32, 32}, []int64{1, 100, 85}, make([]float32, 100*85), nil)

const testGroupKey = "c2VjcmV0LWdyb3VwLWtleS0xMjM0NTY3ODkwYWJjZGVm"
const testDeviceKey = "ZGV2aWNlLWtleS0xMjM0NTY3ODkwYWJjZGVmZ2hpams="

// fixture writes a model file and an image into a temporary directory and returns a YAML
// template in which MODEL, IMAGE and DIR stand for their paths.
type fixture struct {
	dir, model, image string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	dir := t.TempDir()
	f := fixture{dir: dir, model: filepath.Join(dir, "model.onnx"), image: filepath.Join(dir, "frame.jpg")}
	if err := os.WriteFile(f.image, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.model, cocoModel, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f fixture) write(t *testing.T, yaml string) string {
	t.Helper()
	yaml = strings.NewReplacer("MODEL", f.model, "IMAGE", f.image, "DIR", f.dir).Replace(yaml)
	p := filepath.Join(f.dir, "config.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func (f fixture) load(t *testing.T, yaml string, env ...string) (*Config, error) {
	t.Helper()
	if env == nil {
		env = []string{}
	}
	return Load(LoadOptions{File: f.write(t, yaml), Env: env})
}

const baseYAML = `
model: {path: MODEL}
state: {dir: DIR}
azure:
  dps: {idScope: 0ne00DEMO00, groupEnrollmentKey: "` + testGroupKey + `"}
cameras:
  - id: cam1
    type: file
    path: IMAGE
`

func TestLoadDefaults(t *testing.T) {
	f := newFixture(t)
	cfg, err := f.load(t, baseYAML)
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Model.Path = f.model
	want.State.Dir = f.dir
	want.Azure.DPS.IDScope = "0ne00DEMO00"
	want.Azure.DPS.GroupEnrollmentKey = testGroupKey
	want.Detection.LabelsOfInterest = []string{}
	want.Detection.LabelsMinimum = []string{}
	want.Cameras = []Camera{{ID: "cam1", Type: "file", Path: f.image}}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("Load =\n%+v\nwant\n%+v", cfg, want)
	}
	if cfg.Schedule.Due.Std() != 15*time.Second || cfg.Schedule.Period.Std() != 30*time.Second || cfg.Detection.ScoreThreshold != DefaultScoreThreshold {
		t.Fatalf("defaults: %+v %+v", cfg.Schedule, cfg.Detection)
	}
}

func TestLoadFull(t *testing.T) {
	f := newFixture(t)
	cfg, err := f.load(t, `
model: {path: MODEL, threads: 2}
schedule: {due: "0.00:00:05", period: "00:01:00"}
detection:
  scoreThreshold: 0.5
  labelsOfInterest: [Person, traffic_light, person]
  labelsMinimum: "car, BUS"
azure:
  connectionString: "HostName=h.azure-devices.net;SharedAccessKeyName=iothubowner;SharedAccessKey=`+testDeviceKey+`"
  modelId: "dtmi:com:example:EdgeCamera;1"
  caFile: IMAGE
state: {dir: DIR}
metrics: {listen: "127.0.0.1:9464"}
cameras:
  - id: garage
    type: HTTP
    url: http://192.168.1.64/snapshot.jpg
    username: admin
    password: pw
    timeout: 00:00:05
    detection: {scoreThreshold: 0.9, labelsOfInterest: []}
    schedule: {period: 10s}
  - id: pi
    type: rpi
    rotation: 180
    args: [--awb, daylight]
    detection: {labelsMinimum: [dog]}
  - id: street
    type: rtsp
    url: rtsp://cam/stream1
    transport: UDP
    maxFrameAge: 5s
`)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Model.Threads != 2 || cfg.Schedule.Due.Std() != 5*time.Second || cfg.Schedule.Period.Std() != time.Minute {
		t.Errorf("model/schedule: %+v %+v", cfg.Model, cfg.Schedule)
	}
	wantDet := Detection{ScoreThreshold: 0.5, LabelsOfInterest: []string{"person", "traffic light"}, LabelsMinimum: []string{"car", "bus"}}
	if !reflect.DeepEqual(cfg.Detection, wantDet) {
		t.Errorf("detection = %+v, want %+v", cfg.Detection, wantDet)
	}
	if cfg.Cameras[0].Type != "http" || cfg.Cameras[0].Timeout != 5*time.Second {
		t.Errorf("camera 0: %+v", cfg.Cameras[0])
	}
	if got := cfg.CameraDetection(0); got.ScoreThreshold != 0.9 || len(got.LabelsOfInterest) != 0 || !reflect.DeepEqual(got.LabelsMinimum, wantDet.LabelsMinimum) {
		t.Errorf("CameraDetection(0) = %+v", got)
	}
	if got := cfg.CameraDetection(1); got.ScoreThreshold != 0.5 || !reflect.DeepEqual(got.LabelsMinimum, []string{"dog"}) || !reflect.DeepEqual(got.LabelsOfInterest, wantDet.LabelsOfInterest) {
		t.Errorf("CameraDetection(1) = %+v", got)
	}
	if got := cfg.CameraSchedule(0); got.Due.Std() != 5*time.Second || got.Period.Std() != 10*time.Second {
		t.Errorf("CameraSchedule(0) = %+v", got)
	}
	if got := cfg.CameraSchedule(2); got != cfg.Schedule {
		t.Errorf("CameraSchedule(2) = %+v", got)
	}
	if c := cfg.Cameras[2]; c.Transport != TransportUDP || c.MaxFrameAge != 5*time.Second || cfg.Cameras[0].Transport != "" {
		t.Errorf("rtsp keys: transport %q maxFrameAge %v; http camera transport %q", c.Transport, c.MaxFrameAge, cfg.Cameras[0].Transport)
	}
	if !reflect.DeepEqual(cfg.Cameras[1].Args, []string{"--awb", "daylight"}) || cfg.CameraIndex("street") != 2 || cfg.CameraIndex("nope") != -1 {
		t.Errorf("camera 1 args %v", cfg.Cameras[1].Args)
	}
	// The effective settings are copies.
	d := cfg.CameraDetection(1)
	d.LabelsOfInterest[0] = "cat"
	if cfg.Detection.LabelsOfInterest[0] != "person" {
		t.Error("CameraDetection shares its lists with the configuration")
	}
}

// TestValidation checks the message of every validation error.
func TestValidation(t *testing.T) {
	dpsAzure := `azure: {dps: {idScope: 0ne00DEMO00, groupEnrollmentKey: "` + testGroupKey + `"}}`
	cam := "cameras: [{id: cam1, type: file, path: IMAGE}]"
	common := "model: {path: MODEL}\nstate: {dir: DIR}\n"
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown label", common + dpsAzure + "\ncameras: [{id: a, type: file, path: IMAGE}, {id: b, type: file, path: IMAGE, detection: {labelsOfInterest: [persn]}}]",
			[]string{`cameras[1].detection.labelsOfInterest: unknown label "persn" (did you mean "person"?)`}},
		{"unknown global labels", common + dpsAzure + "\n" + cam + "\ndetection: {labelsOfInterest: [bycicle], labelsMinimum: 'car, trafic light'}",
			[]string{`detection.labelsOfInterest: unknown label "bycicle" (did you mean "bicycle"?)`,
				`detection.labelsMinimum: unknown label "trafic light" (did you mean "traffic light"?)`}},
		{"threshold 0", common + dpsAzure + "\n" + cam + "\ndetection: {scoreThreshold: 0}",
			[]string{"detection.scoreThreshold: 0 is outside (0,1]"}},
		{"threshold 1.5", common + dpsAzure + "\n" + cam + "\ndetection: {scoreThreshold: 1.5}",
			[]string{"detection.scoreThreshold: 1.5 is outside (0,1]"}},
		{"camera threshold", common + dpsAzure + "\ncameras: [{id: a, type: file, path: IMAGE, detection: {scoreThreshold: -1}}]",
			[]string{"cameras[0].detection.scoreThreshold: -1 is outside (0,1]"}},
		{"period 0", common + dpsAzure + "\n" + cam + "\nschedule: {period: 0s}",
			[]string{"schedule.period: 0s must be greater than 0"}},
		{"period negative", common + dpsAzure + "\n" + cam + "\nschedule: {period: -00:00:10}",
			[]string{"schedule.period: -10s must be greater than 0"}},
		{"period too short", common + dpsAzure + "\n" + cam + "\nschedule: {period: 200ms}",
			[]string{"schedule.period: 200ms is too short: use at least 1s"}},
		{"due negative", common + dpsAzure + "\n" + cam + "\nschedule: {due: -1s}",
			[]string{"schedule.due: -1s is negative"}},
		{"camera period", common + dpsAzure + "\ncameras: [{id: a, type: file, path: IMAGE, schedule: {period: 0}}]",
			[]string{"cameras[0].schedule.period: 0s must be greater than 0"}},
		{"camera id dots", common + dpsAzure + "\ncameras: [{id: '..', type: file, path: IMAGE}, {id: ., type: file, path: IMAGE}]",
			[]string{`cameras[0].id: ".." is not usable as a file name`, `cameras[1].id: "." is not usable as a file name`}},
		{"period too long", common + dpsAzure + "\n" + cam + "\nschedule: {period: 9000h}",
			[]string{"schedule.period: 9000h0m0s is longer than 720h0m0s"}},
		{"camera bounds", common + dpsAzure + "\ncameras: [{id: a, type: rpi, timeout: 2h, maxBytes: 9999999999, maxPixels: -1, width: 99999, maxQueueBytes: 10}]",
			[]string{"cameras[0].timeout: 2h0m0s is longer than 10m0s", "cameras[0].maxBytes: 9999999999 is outside [0, 536870912]",
				"cameras[0].maxPixels: -1 is outside [0, 250000000]", "cameras[0].maxQueueBytes: 10 is outside [1048576,",
				"cameras[0].width: frame size 99999x0 is larger than 16384x16384"}},
		{"http auth and redirects", common + dpsAzure + "\ncameras: [{id: a, type: http, url: 'http://c/s?pwd=hunter2', auth: ntlm, redirects: always}, {id: b, type: file, path: IMAGE, auth: Basic}]",
			[]string{`cameras[0].auth: "ntlm" is not a scheme: use digest or basic`, `cameras[0].redirects: "always" is not a policy`,
				"cameras[1].auth: only http cameras authenticate"}},
		{"queue budget", "model: {path: MODEL}\n" + dpsAzure + "\nstate: {dir: DIR, maxQueueBytes: 2097152}\ncameras: [{id: a, type: file, path: IMAGE, maxQueueBytes: 2097152}, {id: b, type: file, path: IMAGE, maxQueueBytes: 1048576}]",
			[]string{"cameras: the cameras' maxQueueBytes add up to 3145728, more than state.maxQueueBytes 2097152"}},
		{"queue budget small", "model: {path: MODEL}\n" + dpsAzure + "\n" + cam + "\nstate: {dir: DIR, maxQueueBytes: 5}",
			[]string{"state.maxQueueBytes: 5 is outside [1048576, 1099511627776]"}},
		{"threads", "state: {dir: DIR}\n" + dpsAzure + "\n" + cam + "\nmodel: {path: MODEL, threads: 100000}",
			[]string{"model.threads: 100000 is more than 256"}},
		{"bad duration", common + dpsAzure + "\n" + cam + "\nschedule: {due: 30}",
			[]string{`schedule.due: duration 30 has no unit`}},
		{"bad duration text", common + dpsAzure + "\n" + cam + "\nschedule: {period: soon}",
			[]string{`schedule.period: invalid duration "soon"`}},
		{"both", common + cam + "\nazure: {connectionString: 'HostName=h;DeviceId=cam1;SharedAccessKey=" + testDeviceKey + "', dps: {idScope: x, groupEnrollmentKey: " + testGroupKey + "}}",
			[]string{"azure: both azure.connectionString and azure.dps are set"}},
		{"neither", common + cam,
			[]string{"azure: neither azure.connectionString nor azure.dps is set"}},
		{"dps without scope", common + cam + "\nazure: {dps: {groupEnrollmentKey: " + testGroupKey + "}}",
			[]string{"azure.dps.idScope: empty: copy the ID scope"}},
		{"dps without key", common + cam + "\nazure: {dps: {idScope: 0ne00DEMO00}}",
			[]string{"azure.dps: no key: set cameras[].deviceKey"}},
		{"dps two keys", common + cam + "\nazure: {dps: {idScope: s, groupEnrollmentKey: " + testGroupKey + ", deviceKey: " + testDeviceKey + "}}",
			[]string{"azure.dps: both groupEnrollmentKey and deviceKey are set"}},
		{"dps key not base64", common + cam + "\nazure: {dps: {idScope: s, groupEnrollmentKey: 'not base64!'}}",
			[]string{"azure.dps.groupEnrollmentKey: not valid base64"}},
		{"dps device key two cameras", common + "azure: {dps: {idScope: s, deviceKey: " + testDeviceKey + "}}\ncameras: [{id: a, type: file, path: IMAGE}, {id: b, type: file, path: IMAGE}]",
			[]string{"azure.dps.deviceKey: a device key belongs to one registration but 2 cameras are configured"}},
		{"dps endpoint", common + cam + "\nazure: {dps: {idScope: s, globalEndpoint: 'https://x/y', groupEnrollmentKey: " + testGroupKey + "}}",
			[]string{`azure.dps.globalEndpoint: "https://x/y" is not a host name`}},
		{"connection string", common + cam + "\nazure: {connectionString: 'HostName=h;DeviceId=cam1'}",
			[]string{"azure.connectionString: SharedAccessKey is missing"}},
		{"connection string device used twice", common + "azure: {connectionString: 'HostName=h;DeviceId=cam1;SharedAccessKey=" + testDeviceKey + "'}\ncameras: [{id: cam1, type: file, path: IMAGE}, {type: file, path: IMAGE}]",
			[]string{`azure.connectionString: the connection string is device "cam1"'s but 2 cameras are configured`, "cameras[1].id: missing"}},
		{"connection string other id", common + "azure: {connectionString: 'HostName=h;DeviceId=cam1;SharedAccessKey=" + testDeviceKey + "'}\ncameras: [{id: cam2, type: file, path: IMAGE}]",
			[]string{`cameras[0].id: "cam2" differs from the connection string's DeviceId "cam1"`}},
		{"duplicate ids", common + dpsAzure + "\ncameras: [{id: cam1, type: file, path: IMAGE}, {id: cam1, type: file, path: IMAGE}]",
			[]string{`cameras[1].id: "cam1" is also the id of cameras[0]`}},
		{"bad transport", common + "azure: {transport: amqp, dps: {idScope: 0ne00000001, groupEnrollmentKey: " + testDeviceKey + "}}\n" + cam,
			[]string{`azure.transport: "amqp": use mqtt (port 8883) or mqtt-ws`}},
		{"upper-case registration id", common + dpsAzure + "\ncameras: [{id: Cam1, type: file, path: IMAGE}]",
			[]string{`cameras[0].id: "Cam1" has upper-case letters: a DPS registration ID must be lower case`}},
		{"upper-case registration id with a space", common + dpsAzure + "\ncameras: [{id: 'Cam 1', type: file, path: IMAGE}]",
			[]string{`cameras[0].id: "Cam 1" contains ' ': a DPS registration ID may hold letters, digits and - . _ : only`}},
		{"registration id last character", common + dpsAzure + "\ncameras: [{id: 'cam1.', type: file, path: IMAGE}]",
			[]string{`cameras[0].id: "cam1." ends with '.': a DPS registration ID must end with a letter, digit or '-'`}},
		{"invalid id", common + dpsAzure + "\ncameras: [{id: 'my cam', type: file, path: IMAGE}]",
			[]string{`cameras[0].id: "my cam" contains ' ': a DPS registration ID may hold letters, digits and - . _ : only`}},
		{"invalid hub id", common + "azure: {connectionString: 'HostName=h;SharedAccessKeyName=p;SharedAccessKey=" + testDeviceKey + "'}\ncameras: [{id: 'a/b', type: file, path: IMAGE}, {id: 'a+b', type: file, path: IMAGE}]",
			[]string{`cameras[0].id: "a/b" contains '/': an IoT Hub device ID may hold`, `cameras[1].id: "a+b" contains '+', which IoT Hub allows but MQTT topics cannot carry`}},
		{"missing model", "model: {path: DIR/nope.onnx}\nstate: {dir: DIR}\n" + dpsAzure + "\n" + cam,
			[]string{`model.path: file "DIR/nope.onnx" not found: the model is not installed with edgecam`}},
		{"model is a dir", "model: {path: DIR}\nstate: {dir: DIR}\n" + dpsAzure + "\n" + cam,
			[]string{`model.path: "DIR" is a directory, not a file`}},
		{"unknown type", common + dpsAzure + "\ncameras: [{id: a, type: htp}]",
			[]string{`cameras[0].type: unknown camera type "htp" (did you mean "http"?)`}},
		{"missing type", common + dpsAzure + "\ncameras: [{id: a}]",
			[]string{`cameras[0].type: missing: set rpi, http, rtsp or file`}},
		{"http without url", common + dpsAzure + "\ncameras: [{id: a, type: http}, {id: b, type: http, url: 'ftp://x/y'}]",
			[]string{"cameras[0].url: missing: an http camera needs the snapshot URL", `cameras[1].url: "ftp://x/y" is not an http:// or https:// URL`}},
		{"rtsp without url", common + dpsAzure + "\ncameras: [{id: a, type: rtsp}]",
			[]string{"cameras[0].url: missing: an rtsp camera needs the stream URL"}},
		{"rtsp keys", common + dpsAzure + "\ncameras: [{id: a, type: rtsp, url: 'http://u:pw@cam/x', transport: quic, maxFrameAge: -1s}]",
			[]string{`is not an rtsp:// or rtsps:// URL`, `cameras[0].transport: "quic" is not a transport: use tcp (the default), udp or auto`,
				"cameras[0].maxFrameAge: -1s is negative"}},
		{"file without path", common + dpsAzure + "\ncameras: [{id: a, type: file}, {id: b, type: file, path: DIR/none.jpg}]",
			[]string{"cameras[0].path: missing: a file camera needs the path", `cameras[1].path: file "DIR/none.jpg" not found`}},
		{"rpi rotation", common + dpsAzure + "\ncameras: [{id: a, type: rpi, rotation: 90}]",
			[]string{"cameras[0].rotation: 90 is not supported: the Raspberry Pi camera rotates by 0 or 180"}},
		{"no cameras", common + dpsAzure,
			[]string{"cameras: no camera configured"}},
		{"unknown key", common + dpsAzure + "\n" + cam + "\nschedual: {period: 10s}",
			[]string{`schedual: unknown key (did you mean "schedule"?)`}},
		{"unknown nested key", common + dpsAzure + "\ncameras: [{id: a, type: file, path: IMAGE, pasword: x}]\ndetection: {threshold: 0.5}",
			[]string{`cameras[0].pasword: unknown key (did you mean "cameras[0].password"?)`, `detection.threshold: unknown key (known keys here: scoreThreshold, labelsOfInterest, labelsMinimum, filters, tiles)`}},
		{"section not a map", common + dpsAzure + "\n" + cam + "\nschedule: 30s",
			[]string{`schedule: expected a mapping with the keys due, period, got "30s"`}},
		{"bad model id", common + cam + "\nazure: {modelId: 'com:example;1', dps: {idScope: s, groupEnrollmentKey: " + testGroupKey + "}}",
			[]string{`azure.modelId: "com:example;1" is not a DTDL model ID`}},
		{"bad metrics listen", common + dpsAzure + "\n" + cam + "\nmetrics: {listen: localhost}",
			[]string{`metrics.listen: "localhost" is not host:port`}},
		{"negative threads", "model: {path: MODEL, threads: -1}\nstate: {dir: DIR}\n" + dpsAzure + "\n" + cam,
			[]string{"model.threads: -1 is negative"}},
		{"wrong types", "model: {path: MODEL, threads: many}\nstate: {dir: DIR}\n" + dpsAzure +
			"\ndetection: {scoreThreshold: high}\ncameras: [{id: a, type: rpi, rotation: left, timeout: soon, args: {a: 1}}]",
			[]string{`model.threads: "many" is not a whole number`, `detection.scoreThreshold: "high" is not a number`,
				`cameras[0].rotation: "left" is not a whole number`, `cameras[0].timeout: invalid duration "soon"`,
				`cameras[0].args[0]: expected a string, got a mapping`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			_, err := f.load(t, tt.yaml)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Load error = %v, want a *ValidationError", err)
			}
			msg := err.Error()
			for _, w := range tt.want {
				w = strings.ReplaceAll(w, "DIR", f.dir)
				if !strings.Contains(msg, w) {
					t.Errorf("error\n%s\ndoes not contain\n%s", msg, w)
				}
			}
			if len(ve.Problems) != len(tt.want) {
				t.Errorf("%d problems, want %d:\n%s", len(ve.Problems), len(tt.want), msg)
			}
		})
	}
}

func TestValidationListsEveryProblem(t *testing.T) {
	f := newFixture(t)
	_, err := f.load(t, "model: {path: DIR/x.onnx}\nschedule: {period: 0s}\ndetection: {scoreThreshold: 2}\n")
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatal(err)
	}
	var keys []string
	for _, p := range ve.Problems {
		keys = append(keys, p.Key)
	}
	want := []string{"model.path", "schedule.period", "detection.scoreThreshold", "azure", "cameras"}
	if !reflect.DeepEqual(keys, want) {
		t.Fatalf("problem keys = %v, want %v\n%v", keys, want, err)
	}
	if !strings.HasPrefix(err.Error(), "configuration "+filepath.Join(f.dir, "config.yaml")+": 5 problems:\n  model.path: ") {
		t.Fatalf("message:\n%v", err)
	}
}

func TestLoadFileErrors(t *testing.T) {
	if _, err := Load(LoadOptions{File: "/nonexistent/edgecam.yaml", Env: []string{}}); err == nil || !strings.Contains(err.Error(), "/nonexistent/edgecam.yaml") {
		t.Fatalf("missing file: %v", err)
	}
	f := newFixture(t)
	if _, err := f.load(t, "model: [unclosed"); err == nil || errors.As(err, new(*ValidationError)) {
		t.Fatalf("bad YAML: %v", err)
	}
}

func TestConnectionStringCamera(t *testing.T) {
	f := newFixture(t)
	cfg, err := f.load(t, "model: {path: MODEL}\nazure: {connectionString: 'HostName=h.azure-devices.net;DeviceId=cam1;SharedAccessKey="+testDeviceKey+"'}\ncameras: [{type: file, path: IMAGE}]")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Cameras[0].ID != "cam1" {
		t.Fatalf("camera id = %q, want the connection string's DeviceId", cfg.Cameras[0].ID)
	}
}

func TestEnvOverride(t *testing.T) {
	f := newFixture(t)
	yaml := baseYAML + `  - id: front-door
    type: file
    path: IMAGE
  - id: garage
    type: http
    url: http://cam/snap.jpg
detection:
  scoreThreshold: 0.9
  labelsMinimum: [car]
`
	cfg, err := f.load(t, yaml,
		"EDGECAM_AZURE__DPS__IDSCOPE=0ne00FROMENV",
		"EDGECAM_DETECTION__SCORETHRESHOLD=0.55",
		"EDGECAM_DETECTION__LABELS_OF_INTEREST=person, Bus",
		"EDGECAM_DETECTION__LABELSMINIMUM=",
		"EDGECAM_SCHEDULE__PERIOD=0.00:00:45",
		"EDGECAM_MODEL__THREADS=3",
		"EDGECAM_METRICS__LISTEN=:9464",
		"EDGECAM_CAMERAS__GARAGE__PASSWORD=s3cret",
		"EDGECAM_CAMERAS__FRONT_DOOR__TIMEOUT=7s",
		"EDGECAM_CAMERAS__0__DETECTION__LABELSOFINTEREST=dog,cat",
		"EDGECAM_ORT_LIB=/opt/ort.so", // not a configuration key: ignored
		"EDGECAM_SHARED=../shared",
		"OTHER__DETECTION=1",
	)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Azure.DPS.IDScope != "0ne00FROMENV" || cfg.Detection.ScoreThreshold != 0.55 || cfg.Schedule.Period.Std() != 45*time.Second ||
		cfg.Model.Threads != 3 || cfg.Metrics.Listen != ":9464" {
		t.Errorf("env not applied: %+v %+v %+v %+v", cfg.Azure.DPS, cfg.Detection, cfg.Schedule, cfg.Model)
	}
	if !reflect.DeepEqual(cfg.Detection.LabelsOfInterest, []string{"person", "bus"}) || len(cfg.Detection.LabelsMinimum) != 0 {
		t.Errorf("labels from env: %q %q", cfg.Detection.LabelsOfInterest, cfg.Detection.LabelsMinimum)
	}
	if cfg.Cameras[2].Password != "s3cret" || cfg.Cameras[1].Timeout != 7*time.Second {
		t.Errorf("camera keys from env: password %q, timeout %v", cfg.Cameras[2].Password, cfg.Cameras[1].Timeout)
	}
	if got := cfg.CameraDetection(0).LabelsOfInterest; !reflect.DeepEqual(got, []string{"dog", "cat"}) {
		t.Errorf("camera 0 labels from env = %q", got)
	}

	_, err = f.load(t, yaml, "EDGECAM_CAMERAS__7__URL=x", "EDGECAM_CAMERAS__0__COLOUR=red", "EDGECAM_DETECTION__LABELSOFINTEREST=persn")
	for _, w := range []string{
		`EDGECAM_CAMERAS__7__URL: no camera with index or id "7"`,
		`EDGECAM_CAMERAS__0__COLOUR: "COLOUR" is not a camera key`,
		`detection.labelsOfInterest: unknown label "persn" (did you mean "person"?)`,
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v does not contain %q", err, w)
		}
	}
}

func TestEnvWithoutFile(t *testing.T) {
	f := newFixture(t)
	_, err := Load(LoadOptions{Env: []string{"EDGECAM_MODEL__PATH=" + f.model}})
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 2 || ve.Problems[0].Key != "azure" || ve.Problems[1].Key != "cameras" {
		t.Fatalf("Load without a file: %v", err)
	}
}

func TestFlagsOverride(t *testing.T) {
	f := newFixture(t)
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	fs.String("config", "", "")
	fs.Duration("schedule-period", 0, "")
	fs.String("state-dir", "/default/not/used", "")
	fs.Float64("detection.scoreThreshold", 0.1, "")
	fs.String("model", "", "")
	fs.StringSlice("labels", nil, "")
	fs.Int("model-threads", 9, "") // not set on the command line: must not override
	if err := BindFlag(fs, "model", "model.path"); err != nil {
		t.Fatal(err)
	}
	if err := BindFlag(fs, "labels", "detection.labelsOfInterest"); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(f.dir, "other.onnx")
	if err := os.WriteFile(other, cocoModel, 0o600); err != nil {
		t.Fatal(err)
	}
	stateDir := filepath.Join(f.dir, "state")
	if err := fs.Parse([]string{"--config", "x.yaml", "--schedule-period", "1m", "--state-dir", stateDir, "--detection.scoreThreshold", "0.25", "--model", other, "--labels", "car,Truck"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(LoadOptions{File: f.write(t, strings.Replace(baseYAML, "path: MODEL}", "path: MODEL, threads: 1}", 1)), Flags: fs,
		Env: []string{"EDGECAM_SCHEDULE__PERIOD=5s", "EDGECAM_STATE__DIR=/env"}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Schedule.Period.Std() != time.Minute || cfg.State.Dir != stateDir || cfg.Detection.ScoreThreshold != 0.25 ||
		cfg.Model.Path != other || cfg.Model.Threads != 1 || !reflect.DeepEqual(cfg.Detection.LabelsOfInterest, []string{"car", "truck"}) {
		t.Fatalf("flags not applied: %+v %+v %+v %+v", cfg.Schedule, cfg.State, cfg.Detection, cfg.Model)
	}
}

func TestRedacted(t *testing.T) {
	f := newFixture(t)
	cfg, err := f.load(t, `
model: {path: MODEL}
azure: {connectionString: "HostName=h.azure-devices.net;SharedAccessKeyName=owner;SharedAccessKey=`+testDeviceKey+`"}
cameras:
  - {id: a, type: http, url: "http://admin:hunter2@cam/snap.jpg?channel=1&pwd=hunter3", username: admin, password: hunter4}
  - {id: b, type: rtsp, url: "rtsp://u:hunter5@cam:554/s?token=hunter6"}
  - {id: c, type: rtsp, url: "rtsp://cam:554/user=admin&password=hunter7&channel=1&stream=0.sdp"}
  - {id: d, type: http, url: "http://cam/videostream.cgi?USER=admin&PWD=hunter8"}
`)
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Redacted()
	out, err := r.YAML()
	if err != nil {
		t.Fatal(err)
	}
	js, err := r.JSON()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{string(out), string(js)} {
		for _, secret := range []string{testDeviceKey, "hunter"} {
			if strings.Contains(s, secret) {
				t.Errorf("secret %q in redacted output:\n%s", secret, s)
			}
		}
	}
	if r.Cameras[0].URL != "http://admin:*****@cam/snap.jpg?channel=1&pwd=*****" || r.Cameras[0].Username != "admin" {
		t.Errorf("redacted URL = %q", r.Cameras[0].URL)
	}
	if r.Azure.ConnectionString != "HostName=h.azure-devices.net;SharedAccessKeyName=owner;SharedAccessKey=*****" {
		t.Errorf("redacted connection string = %q", r.Azure.ConnectionString)
	}
	if cfg.Cameras[0].Password != "hunter4" || !strings.Contains(cfg.Azure.ConnectionString, testDeviceKey) {
		t.Error("Redacted changed the original")
	}

	cfg.Azure.ConnectionString = ""
	cfg.Azure.DPS = DPS{IDScope: "s", GroupEnrollmentKey: testGroupKey, DeviceKey: testDeviceKey}
	r = cfg.Redacted()
	if r.Azure.DPS.GroupEnrollmentKey != Mask || r.Azure.DPS.DeviceKey != Mask || r.Azure.DPS.IDScope != "s" {
		t.Errorf("redacted DPS = %+v", r.Azure.DPS)
	}
}

// TestRenderRoundTrip loads the YAML rendering of a configuration and gets the same configuration.
func TestRenderRoundTrip(t *testing.T) {
	f := newFixture(t)
	cfg, err := f.load(t, baseYAML+`  - {id: b, type: rpi, rotation: 180, timeout: 20s, args: [--awb, auto], detection: {labelsOfInterest: [person], scoreThreshold: 0.4}, schedule: {due: 1s}}
detection: {labelsMinimum: [traffic light, car]}
schedule: {due: 0.00:00:01, period: 1m}
`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := cfg.YAML()
	if err != nil {
		t.Fatal(err)
	}
	again, err := Load(LoadOptions{File: f.write(t, string(out)), Env: []string{}})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !reflect.DeepEqual(cfg, again) {
		t.Fatalf("round trip differs:\n%+v\n%+v\n%s", cfg, again, out)
	}
	if !strings.Contains(string(out), "labelsMinimum: [traffic light, car]") || !strings.Contains(string(out), "period: 1m0s") {
		t.Errorf("rendering:\n%s", out)
	}
}

func TestParseLabels(t *testing.T) {
	got, err := ParseLabels(classes.COCO(), " Person,traffic_light , ,PERSON,tv")
	if err != nil || !reflect.DeepEqual(got, []string{"person", "traffic light", "tv"}) {
		t.Fatalf("ParseLabels = %q, %v", got, err)
	}
	if got, err := ParseLabels(classes.COCO(), ""); err != nil || len(got) != 0 {
		t.Fatalf("ParseLabels(\"\") = %q, %v", got, err)
	}
	_, err = ParseLabels(classes.COCO(), "persn,kar")
	if err == nil || !strings.Contains(err.Error(), `unknown label "persn" (did you mean "person"?)`) || !strings.Contains(err.Error(), `unknown label "kar" (did you mean "car"?)`) {
		t.Fatalf("ParseLabels error = %v", err)
	}
}

func TestValidateDetection(t *testing.T) {
	if err := ValidateDetection(classes.COCO(), Detection{ScoreThreshold: 1, LabelsOfInterest: []string{"Dog"}}); err != nil {
		t.Fatal(err)
	}
	err := ValidateDetection(classes.COCO(), Detection{ScoreThreshold: 0, LabelsMinimum: []string{"unicorn"}})
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Key != "scoreThreshold" || !strings.Contains(err.Error(), "labelsMinimum: unknown label \"unicorn\"") {
		t.Fatalf("ValidateDetection = %v", err)
	}
	d, err := NormalizeDetection(classes.COCO(), Detection{ScoreThreshold: 0.5, LabelsMinimum: []string{"Traffic_Light"}})
	if err != nil || d.LabelsMinimum[0] != "traffic light" {
		t.Fatalf("NormalizeDetection = %+v, %v", d, err)
	}
	if err := ValidateSchedule(Schedule{Due: -1, Period: 0}); err == nil || !strings.Contains(err.Error(), "due: ") || !strings.Contains(err.Error(), "period: ") {
		t.Fatalf("ValidateSchedule = %v", err)
	}
}

func TestWarningsCAFileForARemoteHub(t *testing.T) {
	c := Default()
	c.Azure.CAFile = "/etc/edgecam/ca.pem"
	c.Azure.DPS.GlobalEndpoint = "127.0.0.1:8882"
	if w := c.Warnings(); len(w) != 0 {
		t.Errorf("emulator on loopback: %v", w)
	}
	c.Azure.DPS.GlobalEndpoint = DefaultGlobalEndpoint
	if w := c.Warnings(); len(w) != 1 || !strings.Contains(w[0], "azure.caFile") || !strings.Contains(w[0], DefaultGlobalEndpoint) {
		t.Errorf("CA file with Azure's DPS: %v", w)
	}
	c.Azure.ConnectionString = "HostName=localhost:8883;DeviceId=cam1;SharedAccessKey=" + testDeviceKey
	if w := c.Warnings(); len(w) != 0 {
		t.Errorf("connection string to localhost: %v", w)
	}
}

func TestCameraDeviceKeys(t *testing.T) {
	f := newFixture(t)
	keyFile := filepath.Join(f.dir, "cam2.key")
	if err := os.WriteFile(keyFile, []byte(testDeviceKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// No group key on the device: every camera has its own key.
	cfg, err := f.load(t, "model: {path: MODEL}\nstate: {dir: DIR}\nazure: {dps: {idScope: 0ne00DEMO00}}\n"+
		"cameras: [{id: cam1, type: file, path: IMAGE, deviceKey: '"+testDeviceKey+"'}, {id: cam2, type: file, path: IMAGE, deviceKeyFile: "+keyFile+"}]")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Cameras[1].DeviceKey != testDeviceKey {
		t.Errorf("deviceKeyFile not read: %q", cfg.Cameras[1].DeviceKey)
	}
	if w := cfg.Warnings(); len(w) != 0 {
		t.Errorf("warnings for a 0600 key file: %v", w)
	}
	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if w := cfg.Warnings(); len(w) != 1 || !strings.Contains(w[0], "cameras[1].deviceKeyFile") {
		t.Errorf("warnings for a 0644 key file: %v", w)
	}
	if r := cfg.Redacted(); r.Cameras[0].DeviceKey != Mask || r.Cameras[1].DeviceKey != Mask {
		t.Errorf("camera keys not masked: %+v", r.Cameras)
	}
	for name, c := range map[string]struct{ yaml, want string }{
		"one camera without a key": {"azure: {dps: {idScope: 0ne00DEMO00}}\ncameras: [{id: cam1, type: file, path: IMAGE, deviceKey: '" + testDeviceKey + "'}, {id: cam2, type: file, path: IMAGE}]",
			"azure.dps: no key: set cameras[].deviceKey"},
		"both": {"azure: {dps: {idScope: 0ne00DEMO00}}\ncameras: [{id: cam1, type: file, path: IMAGE, deviceKey: '" + testDeviceKey + "', deviceKeyFile: " + keyFile + "}]",
			"cameras[0].deviceKey: both deviceKey and deviceKeyFile are set"},
		"not base64": {"azure: {dps: {idScope: 0ne00DEMO00}}\ncameras: [{id: cam1, type: file, path: IMAGE, deviceKey: 'not a key'}]",
			"cameras[0].deviceKey: not valid base64"},
		"missing file": {"azure: {dps: {idScope: 0ne00DEMO00}}\ncameras: [{id: cam1, type: file, path: IMAGE, deviceKeyFile: DIR/nope.key}]",
			"cameras[0].deviceKeyFile:"},
		"connection string": {"azure: {connectionString: 'HostName=h;SharedAccessKeyName=p;SharedAccessKey=" + testDeviceKey + "'}\ncameras: [{id: cam1, type: file, path: IMAGE, deviceKey: '" + testDeviceKey + "'}]",
			"cameras[0].deviceKey: a camera's own key is for DPS"},
	} {
		_, err := f.load(t, "model: {path: MODEL}\nstate: {dir: DIR}\n"+c.yaml)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}

func TestWarningsThresholds(t *testing.T) {
	c := Default()
	c.Model.Path = "/usr/local/share/edgecam/yolo11n.onnx"
	if w := c.Warnings(); len(w) != 0 {
		t.Errorf("default threshold: %v", w)
	}
	c.Detection.ScoreThreshold = 0.7 // the original application's
	low := 0.05
	c.Cameras = []Camera{{ID: "a"}, {ID: "b", Detection: &DetectionOverride{ScoreThreshold: &low}}}
	w := c.Warnings()
	if len(w) != 2 ||
		!strings.HasPrefix(w[0], "detection.scoreThreshold: 0.7 is far from 0.22, the threshold with the least count error measured for yolo11n.onnx") ||
		!strings.Contains(w[0], "misses objects") || !strings.Contains(w[0], "keep 0.7 if it is what you mean") ||
		w[1] != "cameras[1].detection.scoreThreshold: 0.05 is below the detector's floor 0.1, so it acts as 0.1" {
		t.Errorf("warnings: %q", w)
	}
	// A label's minScore below the floor acts as the floor; above it, it may differ from the optimum.
	c.Detection.ScoreThreshold = DefaultScoreThreshold
	c.Detection.Filters = map[string]Filter{"person": {MinScore: 0.05}, "car": {MinScore: 0.6}}
	c.Cameras = []Camera{{ID: "a", Detection: &DetectionOverride{Filters: map[string]Filter{"bus": {MinScore: 0.08}}}}}
	if w := c.Warnings(); len(w) != 2 ||
		w[0] != "detection.filters.person.minScore: 0.05 is below the detector's floor 0.1, so it acts as 0.1" ||
		w[1] != "cameras[0].detection.filters.bus.minScore: 0.08 is below the detector's floor 0.1, so it acts as 0.1" {
		t.Errorf("filter warnings: %q", w)
	}
	c.Detection.Filters = nil
	c.Detection.ScoreThreshold = 0.7
	// A COCO model not measured is compared with the default; a model with its own classes is not.
	c.Cameras = nil
	c.Model.Path = "yolov8s.onnx"
	if w := c.Warnings(); len(w) != 1 || !strings.Contains(w[0], "measured for COCO models on coco128") {
		t.Errorf("unmeasured COCO model: %q", w)
	}
	c.Classes = classes.New([]string{"forklift", "pallet"}, "test")
	if w := c.Warnings(); len(w) != 0 {
		t.Errorf("own classes: %q", w)
	}
}

func TestWarningsDynamicInt8(t *testing.T) {
	c := Default()
	c.Model.Path = filepath.Join(os.Getenv("EDGECAM_SHARED"), "models", "yolo11n-int8.onnx")
	if os.Getenv("EDGECAM_SHARED") == "" {
		c.Model.Path = filepath.Join("..", "..", "..", "shared", "models", "yolo11n-int8.onnx")
	}
	if _, err := os.Stat(c.Model.Path); err != nil {
		t.Fatalf("test fixture: %v", err)
	}
	if w := c.Warnings(); len(w) != 1 || !strings.Contains(w[0], "is dynamically quantized (88 ConvInteger nodes") {
		t.Errorf("warnings: %q", w)
	}
}

// wantProblems fails the test unless err is a *ValidationError whose messages under each key
// of want contain want[key], and returns the messages by key.
func wantProblems(t *testing.T, err error, want map[string]string) map[string]string {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Load = %v", err)
	}
	got := map[string]string{}
	for _, p := range ve.Problems {
		got[p.Key] += p.Msg + "\n"
	}
	for key, w := range want {
		if !strings.Contains(got[key], w) {
			t.Errorf("%s: got %q, want it to contain %q", key, got[key], w)
		}
	}
	return got
}
