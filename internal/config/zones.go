package config

import (
	"fmt"
	"regexp"
	"sort"

	"github.com/edgecam/edgecam/internal/classes"
	"github.com/edgecam/edgecam/internal/coco"
	"github.com/edgecam/edgecam/internal/tally"
	"github.com/edgecam/edgecam/internal/zone"
)

// Zone is a region of one camera's frame with its own tally, sent as "<name>_<label>" keys.
type Zone struct {
	// Name prefixes the zone's telemetry keys: letters, digits and underscores, starting with a
	// letter (DTDL-safe), unique within the camera.
	Name string `koanf:"name"`
	// Polygon is at least 3 [x, y] points in fractions of the frame width and height (0..1,
	// from the top-left corner), in order around the zone; it must not cross itself.
	Polygon [][]float64 `koanf:"polygon"`
	// Labels, when set, are the only labels counted in the zone (and padded with 0 in its
	// tally); when empty every label is counted and labelsMinimum is padded.
	Labels []string `koanf:"labels"`
	// Anchor is the point of a box that must be inside: bottom-center (default) or center.
	Anchor string `koanf:"anchor"`
}

// MaskArea is a region of one camera's frame whose objects are ignored everywhere (a tree that moves,
// a TV that shows people).
type MaskArea struct {
	// Name is optional, shown on annotated frames.
	Name    string      `koanf:"name"`
	Polygon [][]float64 `koanf:"polygon"`
	Anchor  string      `koanf:"anchor"`
}

// Filter is one label's own acceptance rule, applied before counting.
type Filter struct {
	// MinScore replaces scoreThreshold for this label when set (0 = use scoreThreshold).
	MinScore float64 `koanf:"minScore" json:"minScore,omitempty"`
	// MinArea and MaxArea bound the box area in fractions of the frame (0.01 = 1 % of it);
	// MaxArea 0 means no upper bound.
	MinArea float64 `koanf:"minArea" json:"minArea,omitempty"`
	MaxArea float64 `koanf:"maxArea" json:"maxArea,omitempty"`
}

// maxKey is DTDL's limit on a telemetry name, which a zone's keys must keep.
const maxKey = 64

// MaxZoneName bounds a zone name so that "<zone>_<label>" stays within DTDL's 64 characters for
// labels of up to 31.
const MaxZoneName = 32

var zoneNameRE = regexp.MustCompile(`^[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?$`)

// polygonOf returns the validated polygon p as zone geometry.
func polygonOf(p [][]float64) zone.Polygon {
	pg := make(zone.Polygon, len(p))
	for i, pt := range p {
		if len(pt) == 2 {
			pg[i] = zone.Point{X: pt[0], Y: pt[1]}
		}
	}
	return pg
}

// checkPoints explains every point of pts, keyed key[i], that is not an [x, y] pair of
// fractions of the frame; pixelHint adds, for a value over 1, that a pixel is to be divided by
// the frame's width or height. It reports whether all points are good.
func checkPoints(p *problems, key string, pts [][]float64, pixelHint bool) bool {
	ok := true
	for i, pt := range pts {
		k := fmt.Sprintf("%s[%d]", key, i)
		if len(pt) != 2 {
			p.add(k, "has %d value(s): write each point as [x, y]", len(pt))
			ok = false
			continue
		}
		for j, v := range pt {
			if !(v >= 0 && v <= 1) {
				axis := [...]string{"x", "y"}[j]
				hint := ""
				if pixelHint && v > 1 {
					hint = fmt.Sprintf("; if %v is a pixel, divide it by the frame %s", v, [...]string{"width", "height"}[j])
				}
				p.add(k, "%s = %v is outside 0..1: points are fractions of the frame width and height (0 = left/top edge, 1 = right/bottom edge)%s",
					axis, v, hint)
				ok = false
			}
		}
	}
	return ok
}

// checkPolygon explains every problem of a zone or mask polygon, keyed under key.
func checkPolygon(p *problems, key string, pts [][]float64, what string) {
	if len(pts) < 3 {
		p.add(key, "has %d point(s): a %s needs at least 3 [x, y] points, in fractions of the frame (e.g. [[0, 0], [0.5, 0], [0.5, 1], [0, 1]] for the left half)", len(pts), what)
		return
	}
	if !checkPoints(p, key, pts, true) {
		return
	}
	pg := polygonOf(pts)
	if pg.Collinear() {
		p.add(key, "encloses no area (the points are on one line): give the corners of the %s in order around it", what)
		return
	}
	if e1, e2, bad := pg.SelfIntersection(); bad {
		if e1 == e2 {
			p.add(key, "point %d repeats the point before it: remove it", e1%len(pts))
		} else {
			p.add(key, "crosses itself (edge %d, from point %d, meets edge %d, from point %d; points are numbered from 0): list the points in order around the %s, and draw a figure-of-eight as two %ss",
				e1, e1-1, e2, e2-1, what, what)
		}
	}
}

func checkAnchor(p *problems, key string, a *string) {
	an, err := zone.ParseAnchor(*a)
	if err != nil {
		p.add(key, "%v", err)
		return
	}
	*a = an.String()
}

// checkZones validates a camera's zones and masks, canonicalising labels and anchors.
func checkZones(p *problems, key string, zones []Zone, masks []MaskArea, set classes.Set) {
	seen := map[string]int{}
	for i := range zones {
		z := &zones[i]
		zk := fmt.Sprintf("%s.zones[%d]", key, i)
		switch {
		case z.Name == "":
			p.add(zk+".name", "missing: name the zone; it prefixes the zone's telemetry keys (left -> left_person)")
		case !zoneNameRE.MatchString(z.Name):
			p.add(zk+".name", "%q is not DTDL-safe: use letters, digits and underscores, starting with a letter and not ending with an underscore (it prefixes telemetry keys: %s_person)", z.Name, coco.SafeName(z.Name))
		case len(z.Name) > MaxZoneName:
			p.add(zk+".name", "%q is longer than %d characters (its telemetry keys \"<zone>_<label>\" must stay within 64)", z.Name, MaxZoneName)
		default:
			if j, dup := seen[z.Name]; dup {
				p.add(zk+".name", "%q is also the name of zones[%d]: every zone of a camera needs its own name", z.Name, j)
			} else {
				seen[z.Name] = i
			}
		}
		checkPolygon(p, zk+".polygon", z.Polygon, "zone")
		checkAnchor(p, zk+".anchor", &z.Anchor)
		canon, err := set.Canonical(z.Labels)
		if err != nil {
			p.addErr(zk+".labels", err)
		}
		z.Labels = canon
	}
	checkZoneKeys(p, key, zones, set)
	for i := range masks {
		m := &masks[i]
		mk := fmt.Sprintf("%s.masks[%d]", key, i)
		checkPolygon(p, mk+".polygon", m.Polygon, "mask")
		checkAnchor(p, mk+".anchor", &m.Anchor)
	}
}

// checkZoneKeys reports a zone whose telemetry key "<zone>_<label>" is also a label's own key
// (zone "hot" counting "dog" is "hot_dog") or another zone's: the hub would get the two counts
// added up, and the DTDL model would declare one name twice. Keys are compared in their
// DTDL-safe form, which is what the hub gets once azure.modelId is set.
func checkZoneKeys(p *problems, key string, zones []Zone, set classes.Set) {
	all := set.Names()
	owner := make(map[string]string, len(all))
	for _, l := range all {
		owner[coco.SafeName(l)] = fmt.Sprintf("the key of the label %q", l)
	}
	named := map[string]bool{}
	for i, z := range zones {
		if !zoneNameRE.MatchString(z.Name) || len(z.Name) > MaxZoneName || named[z.Name] {
			continue // reported by checkZones
		}
		named[z.Name] = true
		labels := z.Labels
		if len(labels) == 0 {
			labels = all
		}
		for _, l := range labels {
			k := tally.ZoneKey(z.Name, coco.SafeName(l))
			if len(k) > maxKey {
				p.add(fmt.Sprintf("%s.zones[%d].name", key, i), "%q counting %q sends the key %q, %d characters, more than DTDL's %d: shorten the zone name to at most %d characters",
					z.Name, l, k, len(k), maxKey, maxKey-1-len(coco.SafeName(l)))
				break
			}
			if o, clash := owner[k]; clash {
				p.add(fmt.Sprintf("%s.zones[%d].name", key, i), "%q counting %q sends the key %q, which is also %s: rename the zone", z.Name, l, k, o)
				break
			}
			owner[k] = fmt.Sprintf("the key of zones[%d] (%q) counting %q", i, z.Name, l)
		}
	}
}

// NormalizeFilters checks per-label filters and returns them keyed by canonical label. Errors
// are *FieldError values keyed "<label>.<key>" (or "<label>" for an unknown label).
func NormalizeFilters(set classes.Set, filters map[string]Filter) (map[string]Filter, error) {
	if len(filters) == 0 {
		return nil, nil
	}
	var p problems
	out := make(map[string]Filter, len(filters))
	labels := make([]string, 0, len(filters))
	for l := range filters {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	for _, l := range labels {
		f := filters[l]
		canon, err := set.Canonical([]string{l})
		if err != nil {
			p.addErr(l, err)
			continue
		}
		if !(f.MinScore >= 0 && f.MinScore <= 1) {
			p.add(l+".minScore", "%v is outside 0..1: use a score such as 0.6 (0 = detection.scoreThreshold)", f.MinScore)
		}
		if !(f.MinArea >= 0 && f.MinArea <= 1) {
			p.add(l+".minArea", "%v is outside 0..1: areas are fractions of the frame (0.01 = 1 %% of it)", f.MinArea)
		}
		if !(f.MaxArea >= 0 && f.MaxArea <= 1) {
			p.add(l+".maxArea", "%v is outside 0..1: areas are fractions of the frame (0.5 = half of it; 0 = no limit)", f.MaxArea)
		} else if f.MaxArea > 0 && f.MaxArea < f.MinArea {
			p.add(l+".maxArea", "%v is below minArea %v: no box could pass", f.MaxArea, f.MinArea)
		}
		if _, dup := out[canon[0]]; dup {
			p.add(l, "names the same label as another filter (%q)", canon[0])
		}
		out[canon[0]] = f
	}
	return out, p.join()
}

// TallyRules are the counting rules of a camera: its effective detection settings d (see
// CameraDetection), its zones and masks. safeNames writes DTDL-safe keys (with azure.modelId).
// The configuration must have been validated.
func TallyRules(d Detection, cam *Camera, safeNames bool) tally.Rules {
	r := tally.Rules{
		Threshold: d.ScoreThreshold,
		Interest:  d.LabelsOfInterest,
		Minimum:   d.LabelsMinimum,
		SafeNames: safeNames,
	}
	if len(d.Filters) > 0 {
		r.Filters = make(map[string]tally.Filter, len(d.Filters))
		for l, f := range d.Filters {
			r.Filters[l] = tally.Filter{MinScore: f.MinScore, MinArea: f.MinArea, MaxArea: f.MaxArea}
		}
	}
	if cam == nil {
		return r
	}
	for _, z := range cam.Zones {
		a, _ := zone.ParseAnchor(z.Anchor)
		r.Zones = append(r.Zones, tally.Zone{Name: z.Name, Polygon: polygonOf(z.Polygon), Anchor: a, Labels: z.Labels})
	}
	for _, m := range cam.Masks {
		a, _ := zone.ParseAnchor(m.Anchor)
		r.Masks = append(r.Masks, tally.Mask{Polygon: polygonOf(m.Polygon), Anchor: a})
	}
	return r
}
