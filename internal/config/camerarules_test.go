package config

import (
	"errors"
	"reflect"
	"testing"
)

func TestLoadCameraRules(t *testing.T) {
	f := newFixture(t)
	p := f.write(t, zonesYAML)
	cr, err := LoadCameraRules(p, "cam1")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := f.load(t, zonesYAML)
	if err != nil {
		t.Fatal(err)
	}
	want := TallyRules(cfg.CameraDetection(0), &cfg.Cameras[0], cfg.Azure.ModelID != "")
	if cr.Model != f.model || cr.Threads != cfg.Model.Threads || !reflect.DeepEqual(cr.Rules, want) {
		t.Errorf("got %+v, want model %s, rules %+v", cr, f.model, want)
	}

	_, err = LoadCameraRules(p, "nope")
	var unknown *UnknownCameraError
	if !errors.As(err, &unknown) || unknown.ID != "nope" || !reflect.DeepEqual(unknown.Known, []string{"cam1"}) {
		t.Errorf("unknown camera: %v", err)
	}
	if _, err := LoadCameraRules(f.write(t, "cameras: 3\n"), "cam1"); err == nil || errors.As(err, &unknown) {
		t.Errorf("bad file: %v", err)
	}
}
