package cli

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"gocv.io/x/gocv"
)

// detect --config --camera with the camera's detection.tiles detects bus.jpg on 2 x 2 tiles and
// the whole frame (5 detections), says so, counts the people once each (the ones cut by a
// tile edge are joined), and --annotate outlines the tiles in cyan.
func TestDetectWithCameraTiles(t *testing.T) {
	dir := t.TempDir()
	cfgFile := configFile(t, dir, fmt.Sprintf(`
model: {path: %q}
detection:
  scoreThreshold: 0.5
cameras:
  - id: bus-stop
    type: file
    path: %q
    detection:
      tiles: {cols: 2, rows: 2}
`, testModel(t), testPhoto(t, "bus.jpg")))
	annotated := filepath.Join(dir, "out")
	out, errOut, code := detect(t, "--config", cfgFile, "--camera", "bus-stop", "--json", "--annotate", annotated, testPhoto(t, "bus.jpg"))
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	reps := parseLines(t, out)
	if len(reps) != 1 || reps[0].Tiles != 5 {
		t.Fatalf("output: %s", out)
	}
	// bus.jpg has 4 people and a bus; the tiles may find more people, but never one twice.
	if p := reps[0].Tally["person"]; p < 4 || p > 5 || reps[0].Tally["bus"] != 1 {
		t.Errorf("tally = %v, want 4 (or 5) people and 1 bus", reps[0].Tally)
	}
	img := gocv.IMRead(filepath.Join(annotated, "bus.annotated.jpg"), gocv.IMReadColor)
	defer img.Close()
	if img.Cols() != 810 || img.Rows() != 1080 {
		t.Fatalf("annotated image is %dx%d", img.Cols(), img.Rows())
	}
	// The 2 x 2 tiles of 810x1080 with overlap 0.2 are 450 wide: the second column starts at
	// x = 360, outlined in cyan (B and G high, R low) where no box is drawn (top edge area).
	cyan := 0
	for y := 5; y < 1075; y += 10 {
		v := img.GetVecbAt(y, 361)
		if v[0] > 150 && v[1] > 150 && v[2] < 110 {
			cyan++
		}
	}
	if cyan < 20 {
		t.Errorf("tile edge at x=360: %d cyan samples of 107, want the tile outline", cyan)
	}
	out, _, code = detect(t, "--config", cfgFile, "--camera", "bus-stop", testPhoto(t, "bus.jpg"))
	if code != 0 || !strings.Contains(out, "5 tiles") {
		t.Errorf("text output: %s", out)
	}
}

// With tiles: zones only the zone's box (grown by overlap/2 of its size on each side) is
// detected: one detection, every box inside that box.
func TestDetectWithCameraZoneTiles(t *testing.T) {
	dir := t.TempDir()
	cfgFile := configFile(t, dir, fmt.Sprintf(`
model: {path: %q}
cameras:
  - id: bus-stop
    type: file
    path: %q
    detection:
      tiles: zones
    zones:
      - {name: left, polygon: [[0, 0.3], [0.4, 0.3], [0.4, 0.9], [0, 0.9]]}
`, testModel(t), testPhoto(t, "bus.jpg")))
	out, errOut, code := detect(t, "--config", cfgFile, "--camera", "bus-stop", "--json", testPhoto(t, "bus.jpg"))
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	reps := parseLines(t, out)
	if len(reps) != 1 || reps[0].Tiles != 1 || len(reps[0].Detections) == 0 {
		t.Fatalf("output: %s", out)
	}
	// The zone's box grown by 10 % of its size on each side: x 0..0.44, y 0.24..0.96 of 810x1080.
	for _, d := range reps[0].Detections {
		if d.Box[2] > 0.44*810+1 || d.Box[1] < 0.24*1080-1 || d.Box[3] > 0.96*1080+1 {
			t.Errorf("%s at %v: outside the zone's box", d.Label, d.Box)
		}
	}
	if reps[0].Tally["left_person"] < 2 {
		t.Errorf("tally %v: want the two people on the left", reps[0].Tally)
	}
}
