package config

import (
	"fmt"

	"github.com/edgecam/edgecam/internal/classes"
	"github.com/edgecam/edgecam/internal/coco"
	"github.com/edgecam/edgecam/internal/crossing"
	"github.com/edgecam/edgecam/internal/zone"
)

// Line is a counting line of one camera: the tracks crossing it are counted in and out, sent as
// "<line>_<label>_in", "_out", "_inTotal" and "_outTotal" keys.
type Line struct {
	// Name prefixes the line's telemetry keys (the rules of a zone name).
	Name string `koanf:"name"`
	// Points are the two ends of the segment, [x, y] in fractions of the frame.
	Points [][]float64 `koanf:"points"`
	// In is the movement across the line, in the picture, that counts as in: left or right for
	// a steep line, up or down for a flat one.
	In string `koanf:"in"`
	// Labels, when set, are the only labels counted (and always sent, with 0); when empty every
	// label is counted, and labelsMinimum's are always sent.
	Labels []string `koanf:"labels"`
	// Anchor is the point of a box that must cross: bottom-center (default) or center.
	Anchor string `koanf:"anchor"`
}

// Analysis turns on continuous analysis of a video camera: frames are analysed as they arrive
// (motion, detector, tracker, lines), and the timer sends the newest analysed frame's tally.
type Analysis struct {
	// FPS is how many frames a second are analysed at most.
	FPS float64 `koanf:"fps"`
}

// Motion is motion detection on a timer camera.
type Motion struct {
	// SkipUnchanged reuses the last detections at a tick when nothing moved since the last
	// inference (the tally is still sent).
	SkipUnchanged bool `koanf:"skipUnchanged"`
	// Refresh runs the model at least this often on an unchanged scene (default 5m).
	Refresh Duration `koanf:"refresh"`
}

// DefaultMotionRefresh is motion.refresh when not set.
const DefaultMotionRefresh = Duration(300_000_000_000) // 5m

// MaxAnalysisFPS bounds analysis.fps: more is beyond what the CPU of the devices edgecam runs on
// can analyse, and beyond what a tracker of walking people needs.
const MaxAnalysisFPS = 30

// lineKeySuffix is the longest suffix a line's telemetry keys add after "<line>_<label>".
const lineKeySuffix = "_outTotal"

// checkLines validates a camera's lines, analysis and motion keys, canonicalising labels and
// anchors.
func checkLines(p *problems, key string, cam *Camera, set classes.Set) {
	if a := cam.Analysis; a != nil {
		if cam.Type != TypeRTSP && cam.Type != TypeRPi {
			p.add(key+".analysis", "continuous analysis needs a video stream: it is for rtsp and rpi cameras (this one is %s)", cam.Type)
		}
		if !(a.FPS > 0 && a.FPS <= MaxAnalysisFPS) {
			p.add(key+".analysis.fps", "%v is outside (0, %d]: frames analysed a second, e.g. 5", a.FPS, MaxAnalysisFPS)
		}
	}
	if m := cam.Motion; m != nil {
		switch {
		case m.Refresh < 0:
			p.add(key+".motion.refresh", "%v is negative: how often the model runs on an unchanged scene, e.g. 5m", m.Refresh)
		case m.Refresh == 0:
			m.Refresh = DefaultMotionRefresh
		}
	}
	if len(cam.Lines) > 0 && cam.Analysis == nil {
		p.add(key+".lines", "counting lines follow objects from frame to frame: set analysis: {fps: 5} on this camera (an rtsp or rpi camera)")
	}
	zoneNames := map[string]bool{}
	for _, z := range cam.Zones {
		zoneNames[z.Name] = true
	}
	seen := map[string]int{}
	for i := range cam.Lines {
		l := &cam.Lines[i]
		lk := fmt.Sprintf("%s.lines[%d]", key, i)
		switch {
		case l.Name == "":
			p.add(lk+".name", "missing: name the line; it prefixes the line's telemetry keys (door -> door_person_in)")
		case !zoneNameRE.MatchString(l.Name):
			p.add(lk+".name", "%q is not DTDL-safe: use letters, digits and underscores, starting with a letter and not ending with an underscore (it prefixes telemetry keys: %s_person_in)", l.Name, coco.SafeName(l.Name))
		case zoneNames[l.Name]:
			p.add(lk+".name", "%q is also the name of a zone: give the line its own name", l.Name)
		default:
			if j, dup := seen[l.Name]; dup {
				p.add(lk+".name", "%q is also the name of lines[%d]: every line of a camera needs its own name", l.Name, j)
			} else {
				seen[l.Name] = i
			}
		}
		ok := checkSegment(p, lk+".points", l.Points)
		if l.In == "" {
			p.add(lk+".in", "missing: the movement across the line, in the picture, that counts as in: left or right (a steep line), up or down (a flat one)")
		} else if d, err := crossing.ParseDirection(l.In); err != nil {
			p.add(lk+".in", "%v", err)
		} else if ok {
			a, b := zone.Point{X: l.Points[0][0], Y: l.Points[0][1]}, zone.Point{X: l.Points[1][0], Y: l.Points[1][1]}
			if !crossing.Across(a, b, d) {
				alt := "up or down"
				if d == crossing.Up || d == crossing.Down {
					alt = "left or right"
				}
				p.add(lk+".in", "%s runs along the line from %v to %v rather than across it: use %s", l.In, l.Points[0], l.Points[1], alt)
			}
		}
		checkAnchor(p, lk+".anchor", &l.Anchor)
		canon, err := set.Canonical(l.Labels)
		if err != nil {
			p.addErr(lk+".labels", err)
		}
		l.Labels = canon
		if zoneNameRE.MatchString(l.Name) {
			labels := l.Labels
			if len(labels) == 0 {
				labels = set.Names()
			}
			for _, lb := range labels {
				if k := l.Name + "_" + coco.SafeName(lb) + lineKeySuffix; len(k) > maxKey {
					p.add(lk+".name", "%q counting %q sends the key %q, %d characters, more than DTDL's %d: shorten the line name or list its labels",
						l.Name, lb, k, len(k), maxKey)
					break
				}
			}
		}
	}
}

// checkSegment validates the two points of a line.
func checkSegment(p *problems, key string, pts [][]float64) bool {
	if len(pts) != 2 {
		p.add(key, "has %d point(s): a line is 2 [x, y] points in fractions of the frame, e.g. [[0.5, 0.1], [0.5, 0.9]] for a line down the middle", len(pts))
		return false
	}
	ok := checkPoints(p, key, pts, false)
	if ok && pts[0][0] == pts[1][0] && pts[0][1] == pts[1][1] {
		p.add(key, "both ends are %v: give the two ends of the line", pts[0])
		ok = false
	}
	return ok
}

// CrossingLines returns camera cam's lines for a crossing.Counter. The configuration must have
// been validated.
func CrossingLines(cam *Camera) []crossing.Line {
	var out []crossing.Line
	for _, l := range cam.Lines {
		d, _ := crossing.ParseDirection(l.In)
		a, _ := zone.ParseAnchor(l.Anchor)
		var labels []string
		if len(l.Labels) > 0 {
			labels = l.Labels
		}
		out = append(out, crossing.Line{
			Name: l.Name, In: d, Labels: labels, Anchor: a,
			A: zone.Point{X: l.Points[0][0], Y: l.Points[0][1]},
			B: zone.Point{X: l.Points[1][0], Y: l.Points[1][1]},
		})
	}
	return out
}

// MotionMasks returns camera cam's masks as polygons, for motion detection.
func MotionMasks(cam *Camera) []zone.Polygon {
	var out []zone.Polygon
	for _, m := range cam.Masks {
		out = append(out, polygonOf(m.Polygon))
	}
	return out
}
