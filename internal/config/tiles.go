package config

import (
	"strings"
)

// detection.tiles modes (Tiles.Mode).
const (
	TilesOff   = "off"   // the whole frame once (no tiles)
	TilesGrid  = "grid"  // cols x rows overlapping tiles (and the whole frame, with full)
	TilesZones = "zones" // each zone's bounding box (and the whole frame, with full)
)

// Defaults and bounds of detection.tiles.
const (
	DefaultTileOverlap = 0.2
	MaxTileOverlap     = 0.5
	MaxTileGrid        = 8 // cols and rows
)

// Tiles cuts each frame into regions detected one by one at the model's input size, so that
// far-away objects keep enough pixels: a grid of overlapping tiles, or each zone's bounding box.
// In YAML it is a mapping ({cols: 3, rows: 3}) or one of the strings zones and off (the mode).
type Tiles struct {
	// Mode is grid (the default when cols or rows are set), zones or off.
	Mode string `koanf:"mode"`
	// Cols and Rows are the grid's tiles across and down, 1..8 each.
	Cols int `koanf:"cols"`
	Rows int `koanf:"rows"`
	// Overlap is how much neighbouring tiles share, as a fraction of a tile (0..0.5, default
	// 0.2); with zones, how much each zone's box is grown (half of it on every side).
	Overlap *float64 `koanf:"overlap"`
	// Full detects on the whole frame too (default true for a grid, false for zones), so that
	// objects larger than a tile are still found whole.
	Full *bool `koanf:"full"`
}

// On reports whether t cuts frames into tiles (a grid or the zones).
func (t *Tiles) On() bool { return t != nil && (t.Mode == TilesGrid || t.Mode == TilesZones) }

// OverlapOr returns the overlap, or the default when unset.
func (t *Tiles) OverlapOr() float64 {
	if t == nil || t.Overlap == nil {
		return DefaultTileOverlap
	}
	return *t.Overlap
}

// FullOr returns whether the whole frame is detected too: the setting, else true for a grid and
// false for zones.
func (t *Tiles) FullOr() bool {
	if t == nil {
		return true
	}
	if t.Full != nil {
		return *t.Full
	}
	return t.Mode != TilesZones
}

func (t *Tiles) clone() *Tiles {
	if t == nil {
		return nil
	}
	c := *t
	if t.Overlap != nil {
		v := *t.Overlap
		c.Overlap = &v
	}
	if t.Full != nil {
		v := *t.Full
		c.Full = &v
	}
	return &c
}

// normalizeTiles checks t (keys under "tiles") and writes its mode and defaults in full, so that
// config check shows what applies. A nil t stays nil.
func normalizeTiles(p *problems, t *Tiles) {
	if t == nil {
		return
	}
	mode := strings.ToLower(strings.TrimSpace(t.Mode))
	switch mode {
	case "":
		if t.Cols == 0 && t.Rows == 0 {
			p.add("tiles", "set cols and rows (e.g. {cols: 3, rows: 3}), or write tiles: zones to detect on each zone's box, or tiles: off")
			return
		}
		mode = TilesGrid
	case TilesGrid, TilesZones, TilesOff:
	case "none", "false", "no":
		mode = TilesOff
	default:
		p.add("tiles.mode", "%q is not a tiling: use a grid ({cols: 3, rows: 3}), zones (each zone's box) or off", t.Mode)
		return
	}
	t.Mode = mode
	switch mode {
	case TilesGrid:
		if t.Cols == 0 {
			t.Cols = 1
		}
		if t.Rows == 0 {
			t.Rows = 1
		}
		if t.Cols < 1 || t.Cols > MaxTileGrid {
			p.add("tiles.cols", "%d is outside 1..%d: the number of tiles across the frame, e.g. 3", t.Cols, MaxTileGrid)
		}
		if t.Rows < 1 || t.Rows > MaxTileGrid {
			p.add("tiles.rows", "%d is outside 1..%d: the number of tiles down the frame, e.g. 3", t.Rows, MaxTileGrid)
		}
		if t.Cols == 1 && t.Rows == 1 {
			p.add("tiles", "a 1 x 1 grid is the whole frame: set cols and rows (e.g. 3 and 3), or remove tiles")
		}
	case TilesZones:
		if t.Cols != 0 || t.Rows != 0 {
			p.add("tiles", "cols and rows are for a grid; tiles: zones detects on each zone's box whole: remove cols and rows, or the zones mode")
		}
	}
	if t.Overlap != nil && !(*t.Overlap >= 0 && *t.Overlap <= MaxTileOverlap) {
		p.add("tiles.overlap", "%v is outside 0..%v: the fraction of a tile its neighbours share (default %v)", *t.Overlap, MaxTileOverlap, DefaultTileOverlap)
	}
	if mode == TilesOff {
		return
	}
	if t.Overlap == nil {
		v := DefaultTileOverlap
		t.Overlap = &v
	}
	if t.Full == nil {
		v := t.FullOr()
		t.Full = &v
	}
}
