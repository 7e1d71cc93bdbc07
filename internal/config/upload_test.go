package config

import (
	"errors"
	"strings"
	"testing"
)

const uploadYAML = `
model: {path: MODEL}
state: {dir: DIR}
azure:
  dps: {idScope: 0ne00DEMO00, groupEnrollmentKey: "` + testGroupKey + `"}
upload: {image: MarkedUp, every: 3}
cameras:
  - {id: cam1, type: file, path: IMAGE}
  - {id: cam2, type: file, path: IMAGE, upload: {image: frame, when: always, queueBytes: 1048576}}
  - {id: cam3, type: file, path: IMAGE, upload: {image: "off"}}
`

func TestUploadSettings(t *testing.T) {
	f := newFixture(t)
	cfg, err := f.load(t, uploadYAML)
	if err != nil {
		t.Fatal(err)
	}
	want := []Upload{
		{Image: UploadMarkedUp, When: UploadInterest, Every: 3, QueueBytes: DefaultUploadQueueBytes},
		{Image: UploadFrame, When: UploadAlways, Every: 3, QueueBytes: 1 << 20},
		{Image: UploadOff, When: UploadInterest, Every: 3, QueueBytes: DefaultUploadQueueBytes},
	}
	for i, w := range want {
		if got := cfg.CameraUpload(i); got != w {
			t.Errorf("camera %d: %+v, want %+v", i, got, w)
		}
	}
	if cfg.CameraUpload(2).Enabled() || !cfg.CameraUpload(0).Enabled() {
		t.Error("Enabled")
	}
	def, err := f.load(t, baseYAML)
	if err != nil {
		t.Fatal(err)
	}
	if def.CameraUpload(0).Enabled() {
		t.Errorf("upload is on by default: %+v", def.CameraUpload(0))
	}
}

func TestUploadProblems(t *testing.T) {
	f := newFixture(t)
	_, err := f.load(t, strings.Replace(uploadYAML, "upload: {image: MarkedUp, every: 3}", "upload: {image: annotated, when: sometimes, every: 0}", 1)+
		"  - {id: cam4, type: file, path: IMAGE, upload: {queueBytes: 10}}\n"+
		"  - {id: cam5, type: file, path: IMAGE, upload: {queueBytes: 2000000000000, every: 2000000}}\n")
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a ValidationError, got %v", err)
	}
	for _, want := range []string{
		`upload.image: "annotated" is not an upload image: use frame`,
		`upload.when: "sometimes" is not an upload condition`,
		`upload.every: 0: use 1`,
		`cameras[3].upload.queueBytes: 10 bytes is too small`,
		`cameras[4].upload.queueBytes: 2000000000000 bytes is more than`,
		`cameras[4].upload.every: 2000000: use 1 to upload every qualifying tick, or N (at most 1000000)`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
