package config

import (
	"strings"
	"testing"
)

func TestTilesLoad(t *testing.T) {
	f := newFixture(t)
	yaml := baseYAML + `    detection:
      tiles: zones
    zones:
      - {name: gate, polygon: [[0, 0.5], [0.3, 0.5], [0.3, 0.9]]}
  - id: cam2
    type: file
    path: IMAGE
  - id: cam3
    type: file
    path: IMAGE
    detection:
      tiles: {mode: "off"}
detection:
  tiles: {cols: 3, rows: 2}
`
	cfg, err := f.load(t, yaml, "EDGECAM_CAMERAS__CAM2__DETECTION__TILES__OVERLAP=0.3",
		"EDGECAM_CAMERAS__CAM2__DETECTION__TILES__COLS=4")
	if err != nil {
		t.Fatal(err)
	}
	g := cfg.CameraDetection(-1).Tiles
	if g == nil || g.Mode != TilesGrid || g.Cols != 3 || g.Rows != 2 || g.OverlapOr() != DefaultTileOverlap || !g.FullOr() {
		t.Fatalf("global tiles = %+v", g)
	}
	z := cfg.CameraDetection(0).Tiles
	if !z.On() || z.Mode != TilesZones || z.FullOr() || *z.Full {
		t.Errorf("camera 0: tiles = %+v, want zones without the whole frame", z)
	}
	// A camera's tiles replace the global ones as a whole.
	c2 := cfg.CameraDetection(1).Tiles
	if c2.Mode != TilesGrid || c2.Cols != 4 || c2.Rows != 0 && c2.Rows != 1 || c2.OverlapOr() != 0.3 {
		t.Errorf("camera 1: tiles = %+v", c2)
	}
	if c3 := cfg.CameraDetection(2).Tiles; c3.On() {
		t.Errorf("camera 2: tiles = %+v, want off", c3)
	}
	// The effective configuration shows the defaults in full.
	out, err := cfg.YAML()
	if err != nil || !strings.Contains(string(out), "tiles:\n    mode: grid\n    cols: 3\n    rows: 2\n    overlap: 0.2\n    full: true") {
		t.Errorf("YAML:\n%s (%v)", out, err)
	}
	if r := cfg.Redacted(); r.Cameras[0].Detection.Tiles == cfg.Cameras[0].Detection.Tiles {
		t.Error("Redacted shares the camera's tiles")
	}
}

func TestTilesValidation(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct{ yaml, want string }{
		{"detection:\n  tiles: {cols: 9, rows: 3}\n", "detection.tiles.cols: 9 is outside 1..8"},
		{"detection:\n  tiles: {cols: 3, rows: 0, overlap: 0.7}\n", "detection.tiles.overlap: 0.7 is outside 0..0.5"},
		{"detection:\n  tiles: {cols: 1, rows: 1}\n", "detection.tiles: a 1 x 1 grid is the whole frame"},
		{"detection:\n  tiles: {}\n", "detection.tiles: set cols and rows"},
		{"detection:\n  tiles: zone\n", `detection.tiles.mode: "zone" is not a tiling`},
		{"detection:\n  tiles: [3, 3]\n", "detection.tiles: expected a mapping with the keys mode, cols, rows, overlap, full"},
		{"detection:\n  tiles: {colls: 3}\n", `detection.tiles.colls: unknown key (did you mean "detection.tiles.cols"?)`},
		{"detection:\n  tiles: zones\n", `detection.tiles: tiles: zones detects on each zone's box, but camera "cam1" has no zones`},
		{"detection:\n  tiles: {mode: zones, cols: 2}\n", "detection.tiles: cols and rows are for a grid"},
		{strings.Replace(baseYAML, "    path: IMAGE\n", "    path: IMAGE\n    detection: {tiles: {cols: 2, rows: -1}}\n", 1), "cameras[0].detection.tiles.rows: -1 is outside 1..8"},
		{strings.Replace(baseYAML, "    path: IMAGE\n", "    path: IMAGE\n    detection: {tiles: zones}\n", 1), `cameras[0].detection.tiles: tiles: zones detects on each zone's box, but camera "cam1" has no zones`},
	} {
		yaml := tc.yaml
		if !strings.Contains(yaml, "cameras:") {
			yaml = baseYAML + yaml
		}
		_, err := f.load(t, yaml)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.yaml, err, tc.want)
		}
	}
}
