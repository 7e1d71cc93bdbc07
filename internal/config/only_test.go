package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadOnlyReportsTheKeysAsked(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	// The file camera's image must exist for its camera to be valid: one made here, not a fixed path.
	img := filepath.Join(dir, "x.jpg")
	if err := os.WriteFile(img, []byte("not checked as an image"), 0o600); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "missing", "model.onnx")
	yaml := "model: {path: " + model + "}\ncameras:\n  - {id: cam1, type: file, path: " + img + "}\n  - {id: cam2, type: http}\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	// Everything: the model, Azure and the second camera are wrong.
	_, err := Load(LoadOptions{File: file, Env: []string{}})
	if err == nil || !strings.Contains(err.Error(), "model.path") || !strings.Contains(err.Error(), "azure") {
		t.Fatalf("full validation: %v", err)
	}
	// Only the cameras: the model and Azure do not matter to a capture.
	_, err = Load(LoadOptions{File: file, Env: []string{}, Only: []string{"cameras"}})
	if err == nil || strings.Contains(err.Error(), "model.path") || strings.Contains(err.Error(), "azure") ||
		!strings.Contains(err.Error(), "cameras[1].url") {
		t.Fatalf("cameras only: %v", err)
	}
	yaml = "model: {path: " + model + "}\ncameras:\n  - {id: cam1, type: file, path: " + img + "}\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(LoadOptions{File: file, Env: []string{}, Only: []string{"cameras"}})
	if err != nil || len(cfg.Cameras) != 1 || cfg.Cameras[0].Path != img {
		t.Fatalf("valid cameras: %v %+v", err, cfg)
	}
}
