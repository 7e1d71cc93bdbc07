package eval

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Box is one labelled object. The corners are in fractions of the image's width and height
// (0..1), like tally.Prediction boxes, so YOLO labels need no image size and IoU is unchanged.
type Box struct {
	Label string
	Box   [4]float64 // x1, y1, x2, y2
}

// Image is one labelled frame.
type Image struct {
	// Path is the image file.
	Path string
	// Width and Height are the image's size as the labels give it (0 when they do not: YOLO).
	Width, Height int
	Boxes         []Box
	// Crowd lists the labels outlined as a crowd region on this image (COCO "iscrowd"): the
	// objects inside are not boxed one by one, so counts of those labels are not compared here.
	Crowd []string
}

// Set is a labelled set of frames.
type Set struct {
	// Format is "coco", "yolo" or "jsonl".
	Format string
	Images []Image
}

// Load reads a labelled set: a COCO instances JSON file (images resolved relative to the file,
// or to imagesDir), a JSON-lines file as coco128's truth.jsonl (one image per line: file, width,
// height, boxes in pixels, crowd), or a YOLO folder (images/, labels/*.txt and names.txt or
// data.yaml's names).
func Load(path, imagesDir string) (*Set, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, unwrapPath(err)
	}
	if st.IsDir() {
		return LoadYOLO(path, imagesDir)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, unwrapPath(err)
	}
	if strings.HasSuffix(strings.ToLower(path), ".jsonl") || isJSONLines(data) {
		return LoadJSONL(path, imagesDir)
	}
	return LoadCOCO(path, imagesDir)
}

// isJSONLines reports whether data holds more than one JSON value, one per line, rather than
// one JSON document.
func isJSONLines(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	var v json.RawMessage
	if dec.Decode(&v) != nil {
		return false
	}
	return dec.More()
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}

// imageDir is where image file names in a label file are resolved: imagesDir, else the label
// file's folder.
func imageDir(labelFile, imagesDir string) string {
	if imagesDir != "" {
		return imagesDir
	}
	return filepath.Dir(labelFile)
}

// resolve finds an image named in a label file: under dir as written, else its base name under
// dir and dir/images (COCO exports write bare names or paths of the exporting machine).
func resolve(dir, name string) string {
	cands := []string{filepath.Join(dir, name), filepath.Join(dir, filepath.Base(name)), filepath.Join(dir, "images", filepath.Base(name))}
	if filepath.IsAbs(name) {
		cands = append([]string{name}, cands...)
	}
	for _, c := range cands {
		if _, err := os.Stat(c); err == nil {
			return c
		}
	}
	return cands[0]
}

type cocoFile struct {
	Images []struct {
		ID       int64  `json:"id"`
		FileName string `json:"file_name"`
		Width    int    `json:"width"`
		Height   int    `json:"height"`
	} `json:"images"`
	Annotations []struct {
		ImageID    int64     `json:"image_id"`
		CategoryID int64     `json:"category_id"`
		BBox       []float64 `json:"bbox"` // x, y, w, h in pixels
		IsCrowd    int       `json:"iscrowd"`
	} `json:"annotations"`
	Categories []struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	} `json:"categories"`
}

// LoadCOCO reads a COCO instances JSON file (what CVAT, Label Studio and Roboflow export as
// "COCO"): every image in "images" is a frame, even one without annotations (it has nothing to
// count); "iscrowd" annotations mark their label as a crowd on that image.
func LoadCOCO(path, imagesDir string) (*Set, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, unwrapPath(err)
	}
	var f cocoFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: not a COCO instances JSON file: %v", path, err)
	}
	if len(f.Images) == 0 {
		return nil, fmt.Errorf("%s: no \"images\": a COCO instances file lists its images with id, file_name, width and height", path)
	}
	cats := make(map[int64]string, len(f.Categories))
	for _, c := range f.Categories {
		cats[c.ID] = c.Name
	}
	dir := imageDir(path, imagesDir)
	set := &Set{Format: "coco", Images: make([]Image, len(f.Images))}
	byID := make(map[int64]int, len(f.Images))
	for i, im := range f.Images {
		if im.Width <= 0 || im.Height <= 0 {
			return nil, fmt.Errorf("%s: image %d (%s) has no width and height", path, im.ID, im.FileName)
		}
		if _, dup := byID[im.ID]; dup {
			return nil, fmt.Errorf("%s: image id %d appears twice", path, im.ID)
		}
		byID[im.ID] = i
		set.Images[i] = Image{Path: resolve(dir, im.FileName), Width: im.Width, Height: im.Height}
	}
	for k, a := range f.Annotations {
		i, ok := byID[a.ImageID]
		if !ok {
			return nil, fmt.Errorf("%s: annotations[%d]: image_id %d is not in \"images\"", path, k, a.ImageID)
		}
		name, ok := cats[a.CategoryID]
		if !ok {
			return nil, fmt.Errorf("%s: annotations[%d]: category_id %d is not in \"categories\"", path, k, a.CategoryID)
		}
		im := &set.Images[i]
		if a.IsCrowd != 0 {
			im.Crowd = appendOnce(im.Crowd, name)
			continue
		}
		if len(a.BBox) != 4 {
			return nil, fmt.Errorf("%s: annotations[%d]: bbox has %d values, want [x, y, width, height]", path, k, len(a.BBox))
		}
		w, h := float64(im.Width), float64(im.Height)
		b := a.BBox
		im.Boxes = append(im.Boxes, Box{Label: name, Box: [4]float64{b[0] / w, b[1] / h, (b[0] + b[2]) / w, (b[1] + b[3]) / h}})
	}
	return set, nil
}

// LoadJSONL reads one image per line: {"file", "width", "height", "boxes": [{"label", "x1",
// "y1", "x2", "y2"}], "crowd": [{"label", ...}]} with pixel corners (coco128's truth.jsonl).
func LoadJSONL(path, imagesDir string) (*Set, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, unwrapPath(err)
	}
	defer fh.Close()
	type box struct {
		Label          string
		X1, Y1, X2, Y2 float64
	}
	dir := imageDir(path, imagesDir)
	set := &Set{Format: "jsonl"}
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var rec struct {
			File          string
			Width, Height int
			Boxes, Crowd  []box
		}
		if err := json.Unmarshal(line, &rec); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, n, err)
		}
		if rec.File == "" || rec.Width <= 0 || rec.Height <= 0 {
			return nil, fmt.Errorf("%s:%d: want \"file\", \"width\" and \"height\"", path, n)
		}
		im := Image{Path: resolve(dir, rec.File), Width: rec.Width, Height: rec.Height}
		w, h := float64(rec.Width), float64(rec.Height)
		for _, b := range rec.Boxes {
			im.Boxes = append(im.Boxes, Box{Label: b.Label, Box: [4]float64{b.X1 / w, b.Y1 / h, b.X2 / w, b.Y2 / h}})
		}
		for _, c := range rec.Crowd {
			im.Crowd = appendOnce(im.Crowd, c.Label)
		}
		set.Images = append(set.Images, im)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if len(set.Images) == 0 {
		return nil, fmt.Errorf("%s: no images", path)
	}
	return set, nil
}

var imageExts = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".bmp": true, ".webp": true}

// LoadYOLO reads a YOLO folder: images in images/ (or imagesDir), one labels/<image
// name>.txt per image with "class cx cy w h" lines (normalised), and the class names from
// names.txt (one per line) or data.yaml's names (a list, or a map of index to name). An image
// without a labels file has nothing on it.
func LoadYOLO(dir, imagesDir string) (*Set, error) {
	names, err := yoloNames(dir)
	if err != nil {
		return nil, err
	}
	if imagesDir == "" {
		imagesDir = filepath.Join(dir, "images")
	}
	entries, err := os.ReadDir(imagesDir)
	if err != nil {
		return nil, fmt.Errorf("YOLO folder %s: %v (want images/ and labels/ in it)", dir, unwrapPath(err))
	}
	set := &Set{Format: "yolo"}
	for _, e := range entries {
		if e.IsDir() || !imageExts[strings.ToLower(filepath.Ext(e.Name()))] {
			continue
		}
		im := Image{Path: filepath.Join(imagesDir, e.Name())}
		lf := filepath.Join(dir, "labels", strings.TrimSuffix(e.Name(), filepath.Ext(e.Name()))+".txt")
		data, err := os.ReadFile(lf)
		if errors.Is(err, fs.ErrNotExist) {
			set.Images = append(set.Images, im)
			continue
		} else if err != nil {
			return nil, unwrapPath(err)
		}
		for n, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) == 0 {
				continue
			}
			if len(f) != 5 {
				return nil, fmt.Errorf("%s:%d: %d fields, want \"class cx cy w h\" (a segmentation or pose label file is not a detection one)", lf, n+1, len(f))
			}
			cls, err := strconv.Atoi(f[0])
			if err != nil || cls < 0 || cls >= len(names) {
				return nil, fmt.Errorf("%s:%d: class %q is not 0..%d (the names list has %d names)", lf, n+1, f[0], len(names)-1, len(names))
			}
			var v [4]float64
			for k := range v {
				if v[k], err = strconv.ParseFloat(f[k+1], 64); err != nil {
					return nil, fmt.Errorf("%s:%d: %q is not a number", lf, n+1, f[k+1])
				}
			}
			im.Boxes = append(im.Boxes, Box{Label: names[cls], Box: [4]float64{v[0] - v[2]/2, v[1] - v[3]/2, v[0] + v[2]/2, v[1] + v[3]/2}})
		}
		set.Images = append(set.Images, im)
	}
	if len(set.Images) == 0 {
		return nil, fmt.Errorf("YOLO folder %s: no images in %s", dir, imagesDir)
	}
	return set, nil
}

// yoloNames reads names.txt, else data.yaml's names.
func yoloNames(dir string) ([]string, error) {
	if data, err := os.ReadFile(filepath.Join(dir, "names.txt")); err == nil {
		var names []string
		for _, l := range strings.Split(string(data), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				names = append(names, l)
			}
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("%s: no names", filepath.Join(dir, "names.txt"))
		}
		return names, nil
	}
	for _, f := range []string{"data.yaml", "data.yml"} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err == nil {
			names, err := yamlNames(data)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", filepath.Join(dir, f), err)
			}
			return names, nil
		}
	}
	return nil, fmt.Errorf("YOLO folder %s: no names.txt or data.yaml with the class names", dir)
}

// yamlNames reads the names key of an Ultralytics data.yaml: a flow list ([a, b]), a block
// list (- a), or a map of index to name (0: a).
func yamlNames(data []byte) ([]string, error) {
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		rest, ok := strings.CutPrefix(strings.TrimRight(l, "\r"), "names:")
		if !ok {
			continue
		}
		rest = strings.TrimSpace(stripComment(rest))
		if strings.HasPrefix(rest, "[") {
			// A flow list, possibly over several lines.
			flow := rest
			for j := i + 1; !strings.Contains(flow, "]") && j < len(lines); j++ {
				flow += " " + strings.TrimSpace(stripComment(lines[j]))
			}
			end := strings.Index(flow, "]")
			if end < 0 {
				return nil, errors.New("names: unterminated [list]")
			}
			var names []string
			for _, n := range strings.Split(flow[1:end], ",") {
				if n = unquote(strings.TrimSpace(n)); n != "" {
					names = append(names, n)
				}
			}
			return checkYAMLNames(names)
		}
		if rest != "" {
			return nil, fmt.Errorf("names: %q: want a list or a map of index: name", rest)
		}
		var list []string
		byIndex := map[int]string{}
		for _, bl := range lines[i+1:] {
			t := strings.TrimSpace(stripComment(bl))
			if t == "" {
				continue
			}
			if !strings.HasPrefix(bl, " ") && !strings.HasPrefix(bl, "\t") && !strings.HasPrefix(bl, "-") {
				break // the next top-level key
			}
			if item, ok := strings.CutPrefix(t, "-"); ok {
				list = append(list, unquote(strings.TrimSpace(item)))
				continue
			}
			k, v, ok := strings.Cut(t, ":")
			idx, err := strconv.Atoi(strings.TrimSpace(k))
			if !ok || err != nil {
				return nil, fmt.Errorf("names: %q: want \"- name\" or \"index: name\"", t)
			}
			byIndex[idx] = unquote(strings.TrimSpace(v))
		}
		if len(byIndex) > 0 {
			keys := make([]int, 0, len(byIndex))
			for k := range byIndex {
				keys = append(keys, k)
			}
			sort.Ints(keys)
			for want, k := range keys {
				if k != want {
					return nil, fmt.Errorf("names: indexes are not 0..%d", len(keys)-1)
				}
				list = append(list, byIndex[k])
			}
		}
		return checkYAMLNames(list)
	}
	return nil, errors.New("no names key")
}

func checkYAMLNames(names []string) ([]string, error) {
	if len(names) == 0 {
		return nil, errors.New("names is empty")
	}
	return names, nil
}

func stripComment(s string) string {
	if i := strings.Index(s, " #"); i >= 0 {
		return s[:i]
	}
	if strings.HasPrefix(strings.TrimSpace(s), "#") {
		return ""
	}
	return s
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '\'' || s[0] == '"') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

func appendOnce(list []string, s string) []string {
	for _, l := range list {
		if l == s {
			return list
		}
	}
	return append(list, s)
}
