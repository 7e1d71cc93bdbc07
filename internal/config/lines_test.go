package config

import (
	"reflect"
	"strings"
	"testing"

	"github.com/edgecam/edgecam/internal/crossing"
	"github.com/edgecam/edgecam/internal/zone"
)

const rtspLinesYAML = `
model: {path: MODEL}
state: {dir: DIR}
azure:
  dps: {idScope: 0ne00DEMO00, groupEnrollmentKey: "` + testGroupKey + `"}
cameras:
  - id: door
    type: rtsp
    url: rtsp://127.0.0.1:8554/door
    analysis: {fps: 5}
`

func TestLoadLines(t *testing.T) {
	f := newFixture(t)
	cfg, err := f.load(t, rtspLinesYAML+`    zones:
      - {name: hall, polygon: [[0, 0], [1, 0], [1, 1]]}
    lines:
      - {name: door, points: [[0.5, 0.1], [0.5, 0.9]], in: right, labels: [Person]}
      - {name: gate, points: [[0.9, 0.6], [0.1, 0.5]], in: up, anchor: center}
`)
	if err != nil {
		t.Fatal(err)
	}
	cam := &cfg.Cameras[0]
	if cam.Analysis == nil || cam.Analysis.FPS != 5 || len(cam.Lines) != 2 ||
		!reflect.DeepEqual(cam.Lines[0].Labels, []string{"person"}) || cam.Lines[0].Anchor != zone.AnchorBottomCenter {
		t.Fatalf("analysis %+v lines %+v", cam.Analysis, cam.Lines)
	}
	got := CrossingLines(cam)
	want := []crossing.Line{
		{Name: "door", A: zone.Point{X: 0.5, Y: 0.1}, B: zone.Point{X: 0.5, Y: 0.9}, In: crossing.Right, Labels: []string{"person"}},
		{Name: "gate", A: zone.Point{X: 0.9, Y: 0.6}, B: zone.Point{X: 0.1, Y: 0.5}, In: crossing.Up, Anchor: zone.Center},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("CrossingLines = %+v\nwant %+v", got, want)
	}
}

func TestLineMistakes(t *testing.T) {
	f := newFixture(t)
	_, err := f.load(t, rtspLinesYAML+`    zones:
      - {name: hall, polygon: [[0, 0], [1, 0], [1, 1]]}
    lines:
      - {name: along, points: [[0.5, 0.1], [0.5, 0.9]], in: up}
      - {name: flat, points: [[0.1, 0.5], [0.9, 0.55]], in: left}
      - {name: one, points: [[0.5, 0.1]], in: right}
      - {name: out, points: [[0.5, 1.2], [0.5, 0.9]], in: right}
      - {name: same, points: [[0.5, 0.5], [0.5, 0.5]], in: right}
      - {name: nodir, points: [[0.5, 0.1], [0.5, 0.9]]}
      - {name: inward, points: [[0.5, 0.1], [0.5, 0.9]], in: inward}
      - {name: hall, points: [[0.5, 0.1], [0.5, 0.9]], in: right}
      - {name: along, points: [[0.5, 0.1], [0.5, 0.9]], in: right}
      - {name: "front door", points: [[0.5, 0.1], [0.5, 0.9]], in: right, labels: [persn], anchor: top}
      - {points: [[0.5, 0.1], [0.5, 0.9]], in: right}
      - {name: `+strings.Repeat("l", 45)+`, points: [[0.5, 0.1], [0.5, 0.9]], in: right, labels: [traffic light]}
  - id: file1
    type: file
    path: IMAGE
    analysis: {fps: 0}
    lines:
      - {name: door, points: [[0.5, 0.1], [0.5, 0.9]], in: right}
  - id: rtsp2
    type: rtsp
    url: rtsp://127.0.0.1:8554/x
    lines:
      - {name: door, points: [[0.5, 0.1], [0.5, 0.9]], in: right}
`)
	wantProblems(t, err, map[string]string{
		"cameras[0].lines[0].in":        "up runs along the line from [0.5 0.1] to [0.5 0.9] rather than across it: use left or right",
		"cameras[0].lines[1].in":        "left runs along the line",
		"cameras[0].lines[2].points":    "has 1 point(s): a line is 2 [x, y] points",
		"cameras[0].lines[3].points[0]": "y = 1.2 is outside 0..1",
		"cameras[0].lines[4].points":    "both ends are [0.5 0.5]",
		"cameras[0].lines[5].in":        "missing: the movement across the line",
		"cameras[0].lines[6].in":        `unknown direction "inward"`,
		"cameras[0].lines[7].name":      `"hall" is also the name of a zone`,
		"cameras[0].lines[8].name":      `"along" is also the name of lines[0]`,
		"cameras[0].lines[9].name":      `"front door" is not DTDL-safe`,
		"cameras[0].lines[9].labels":    `unknown label "persn" (did you mean "person"?)`,
		"cameras[0].lines[9].anchor":    `unknown anchor "top"`,
		"cameras[0].lines[10].name":     "missing",
		"cameras[0].lines[11].name":     "more than DTDL's 64",
		"cameras[1].analysis":           "it is for rtsp and rpi cameras (this one is file)",
		"cameras[1].analysis.fps":       "0 is outside (0, 30]",
		"cameras[2].lines":              "set analysis: {fps: 5}",
	})
	if t.Failed() {
		t.Log(err)
	}
}
