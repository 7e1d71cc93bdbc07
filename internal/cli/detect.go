package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/markup"
	"github.com/edgecam/edgecam/internal/tally"
	"github.com/edgecam/edgecam/internal/tile"
	"github.com/edgecam/edgecam/internal/yolo"
	"github.com/edgecam/edgecam/internal/zone"
)

const defaultModel = "models/yolov5n.onnx"

type detectOptions struct {
	model        string
	threshold    float32
	iou          float32
	threads      int
	json         bool
	annotate     string
	bench        int
	ortLib       string
	config       string
	camera       string
	modelSet     bool     // --model was given (else the default model, or --config's)
	thresholdSet bool     // --threshold was given
	images       []string // the arguments

	// set by --config and --camera: the camera's counting rules (zones, masks, filters), its
	// tiling (detection.tiles) and all it holds (its lines, for a clip)
	rules       *tally.Rules
	tiles       *config.Tiles
	cameraRules *cameraRules
	preds       []tally.Prediction
}

// encodedDetector scores encoded images: a *yolo.Detector, or a *tile.Detector with
// detection.tiles.
type encodedDetector interface {
	DetectEncoded(data []byte, res *yolo.Result) error
}

func newDetectCmd() *cobra.Command {
	o := &detectOptions{}
	cmd := &cobra.Command{
		Use:   "detect [flags] IMAGE...  |  detect --config FILE --camera ID [--annotate DIR] IMAGE...|CLIP",
		Short: "Score images (JPEG, PNG, BMP, WebP) with the YOLO model and print what it finds",
		Long: `detect runs the YOLO ONNX model (YOLOv5, YOLOv8/v9/11 or end-to-end layout) on each image and prints the objects found (label, score,
box corners x1,y1,x2,y2 in image pixels, highest score first) and the count per label.

The ONNX Runtime library is found without any setting after ` + "`make build`" + ` (next to the
binary, in the project's lib/onnxruntime, or the system library folders); --ort-lib or
$EDGECAM_ORT_LIB choose another. An image that cannot be read is reported on stderr as
"edgecam: FILE: problem", the other images are still scored, and the exit status is 1.

With --config FILE --camera ID the images are counted as that camera's frames would be: its
model (unless --model), its detection settings (scoreThreshold, per-label filters, labels of
interest and minimum labels), its zones and its masks. The table says for each object why it is
not counted (score below its label's minScore, area outside its bounds, inside a mask) or which
zones hold it, and the tally is the body the daemon would send ("<zone>_<label>" keys for the
zones). --annotate then also outlines the zones and shades the masks, and draws only the counted
objects: check a polygon against a real frame before deploying it. Take the frame with
` + "`edgecam capture --config FILE --camera ID --out frame.jpg`" + `. With the camera's
detection.tiles the image is detected tile by tile as the daemon does (docs/tiling.md): the
output says how many detections ran ("10 tiles"), and --annotate outlines the tiles in cyan.


With --config and --camera, a recorded H.264 or H.265 clip (an MP4 or MOV file: .mp4, .mov, .m4v,
its first video track, plain or fragmented; or an elementary stream: .h264, .264, .h265, .265,
.hevc) runs through the camera's continuous analysis (analysis.fps frames a second: motion, the
model, the tracker, its counting lines) and each line crossing is printed with its time in the clip
(an MP4's presentation times), then the totals; --annotate writes the frame of each crossing with
the lines, their counts and the tracks' IDs (docs/lines.md). Clips with B-frames (phones, exporters)
are analysed in the order their pictures are shown, at their presentation times. Other codecs are
refused with the command that re-encodes them (ffmpeg -i IN -c:v libx264 -an OUT.mp4).`,
		Example: `  edgecam detect photo.jpg
  edgecam detect --model ../shared/models/yolov5n.onnx bus.jpg zidane.jpg
  edgecam detect --threshold 0.5 --json *.jpg           # one JSON object per image per line
  edgecam detect --annotate out/ street.jpg             # writes out/street.annotated.jpg
  edgecam detect --bench 50 --threads 2 bus.jpg         # median and p90 of 50 timed runs
  edgecam detect --config /etc/edgecam/config.yaml --camera garage --annotate out/ frame.jpg
  edgecam detect --config /etc/edgecam/config.yaml --camera door --annotate out/ door.mp4`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return errors.New("detect needs at least one image file, e.g. `edgecam detect photo.jpg`")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.modelSet, o.images = cmd.Flags().Changed("model"), args
			o.thresholdSet = cmd.Flags().Changed("threshold")
			return runDetect(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.model, "model", defaultModel, "YOLO ONNX model `PATH` (class names from PATH without .onnx + .labels, its metadata, or COCO-80)")
	f.Float32Var(&o.threshold, "threshold", yolo.DefaultConfidence, "minimum confidence (objectness x class score), above 0 and below 1; with --config and no --threshold, lowered below the camera's lowest threshold when that is lower (not under 0.1)")
	f.Float32Var(&o.iou, "iou", yolo.DefaultIoU, "NMS overlap above which the weaker box of a label is dropped, 0..1")
	f.IntVar(&o.threads, "threads", 0, "ONNX Runtime threads (0 = one per core)")
	f.BoolVar(&o.json, "json", false, "print one JSON object per image per line")
	f.StringVar(&o.annotate, "annotate", "", "write `DIR`/<name>.annotated.jpg with boxes, labels and scores drawn")
	f.IntVar(&o.bench, "bench", 0, "time `N` runs per image after one warm-up and report median and p90")
	f.StringVar(&o.ortLib, "ort-lib", "", "ONNX Runtime shared library `PATH` (default: found automatically)")
	f.StringVarP(&o.config, "config", "c", "", "edgecam configuration `FILE`: count as --camera's frames would be (zones, masks, filters)")
	f.StringVar(&o.camera, "camera", "", "camera `ID` of --config whose zones, masks and detection settings apply")
	return cmd
}

// loadCameraRules reads --config and returns the model path, threads, counting rules and tiling
// of --camera.
func loadCameraRules(o *detectOptions) (config.CameraRules, error) {
	if o.config == "" || o.camera == "" {
		return config.CameraRules{}, errors.New("--config and --camera go together: give both to count as that camera does")
	}
	cr, err := config.LoadCameraRules(o.config, o.camera)
	var unknown *config.UnknownCameraError
	if errors.As(err, &unknown) {
		return cr, fmt.Errorf("--camera %q: no such camera in %s (cameras: %s)", o.camera, o.config, strings.Join(unknown.Known, ", "))
	}
	if err == nil {
		o.cameraRules = &cameraRules{Rules: &cr.Rules, Lines: cr.Lines, AnalysisFPS: cr.AnalysisFPS}
	}
	return cr, err
}

// lowestThreshold is the lowest score threshold of the rules: the threshold or a filter's minScore.
func lowestThreshold(r *tally.Rules) float64 {
	low := r.Threshold
	for _, f := range r.Filters {
		if f.MinScore > 0 {
			low = min(low, f.MinScore)
		}
	}
	return low
}

func runDetect(ctx context.Context, stdout, stderr io.Writer, o *detectOptions) error {
	modelSet := o.modelSet
	switch {
	case !(o.threshold > 0 && o.threshold < 1):
		return fmt.Errorf("--threshold %g: want a value between 0 and 1", o.threshold)
	case !(o.iou > 0 && o.iou <= 1):
		return fmt.Errorf("--iou %g: want a value between 0 and 1", o.iou)
	case o.threads < 0:
		return fmt.Errorf("--threads %d: want 0 (one per core) or more", o.threads)
	case o.bench < 0:
		return fmt.Errorf("--bench %d: want a number of runs", o.bench)
	}
	isClip, err := clipArgs(o)
	if err != nil {
		return err
	}
	model := o.model
	if !modelSet {
		model = findDefaultModel()
	}
	if o.config != "" || o.camera != "" {
		cr, err := loadCameraRules(o)
		if err != nil {
			return err
		}
		if !modelSet {
			model = cr.Model
		}
		if o.threads == 0 {
			o.threads = cr.Threads
		}
		o.rules, o.tiles = &cr.Rules, cr.Tiles
		if !o.thresholdSet {
			// Scores the camera's rules could count must reach them, as in the daemon (the
			// detector keeps scores above its threshold, the rules those at or above theirs).
			o.threshold = float32(max(config.DetectorFloor, min(float64(o.threshold), lowestThreshold(o.rules)-0.001)))
			if _, on := tile.FromConfig(o.tiles, zonePolygons(o.rules)); on {
				// Tiles' boxes are merged before the thresholds apply, and a weak box cut by a
				// tile edge can join a strong one: detect at the daemon's floor exactly.
				o.threshold = config.DetectorFloor
			}
		}
	}
	det, err := openDetector(o.ortLib, yolo.Options{ModelPath: model, Runtime: yolo.RuntimeOptions{Threads: o.threads}, Confidence: o.threshold, IoU: o.iou})
	if err != nil {
		return err
	}
	defer det.Close()
	if o.annotate != "" {
		if err := os.MkdirAll(o.annotate, 0o755); err != nil {
			return fmt.Errorf("--annotate: %w", err)
		}
	}

	if isClip {
		return runClip(ctx, stdout, det, o)
	}

	var tiler *tile.Detector
	if o.rules != nil {
		tiler = cameraTiler(det, o.rules, o.tiles)
	}

	failed := false
	var res yolo.Result
	for _, path := range o.images {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := detectOne(stdout, det, tiler, o, path, &res); err != nil {
			fmt.Fprintf(stderr, "edgecam: %s: %v\n", path, err)
			failed = true
		}
	}
	if failed {
		return errSilent
	}
	return nil
}

// openDetector finds and loads the ONNX Runtime library (ortLib: the --ort-lib flag, may be
// empty) and opens the detector o, as detect, eval and run do.
func openDetector(ortLib string, o yolo.Options) (*yolo.Detector, error) {
	lib, err := yolo.FindRuntimeLibrary(ortLib)
	if err != nil {
		return nil, err
	}
	if err := yolo.InitRuntime(lib); err != nil {
		return nil, err
	}
	return yolo.New(o)
}

// cameraTiler returns det detecting tile by tile as a camera with tiles and rules' zones does,
// or nil when tiles do not tile.
func cameraTiler(det *yolo.Detector, rules *tally.Rules, tiles *config.Tiles) *tile.Detector {
	to, on := tile.FromConfig(tiles, zonePolygons(rules))
	if !on {
		return nil
	}
	return tile.New(det, to)
}

// zonePolygons returns the polygons of the rules' zones.
func zonePolygons(rules *tally.Rules) []zone.Polygon {
	polys := make([]zone.Polygon, len(rules.Zones))
	for i, z := range rules.Zones {
		polys[i] = z.Polygon
	}
	return polys
}

// findDefaultModel returns models/yolov5n.onnx under the working directory, else beside the
// executable's bin/ folder (so ./bin/edgecam works from anywhere in a built checkout).
func findDefaultModel() string {
	if _, err := os.Stat(defaultModel); err == nil {
		return defaultModel
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "..", defaultModel)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return defaultModel
}

// detectOne scores one image file with det, or with tiler when the camera tiles its frames.
func detectOne(w io.Writer, det *yolo.Detector, tiler *tile.Detector, o *detectOptions, path string, res *yolo.Result) error {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is already in the message
		}
		return err
	}
	var ed encodedDetector = det
	if tiler != nil {
		ed = tiler
	}
	if err := ed.DetectEncoded(data, res); err != nil {
		return err
	}
	var bench *benchStats
	if o.bench > 0 {
		// The first run was the warm-up; timingsMs keeps reporting it, as without --bench.
		runs, err := benchEncoded(ed, data, o.bench, res)
		if err != nil {
			return err
		}
		bench = newBenchStats(runs)
	}
	rep := newReport(filepath.Base(path), res, bench)
	dets := res.Detections
	if o.rules != nil {
		o.preds = markup.Predictions(o.preds[:0], res)
		dets = rep.applyRules(o.rules, o.preds, res.Detections)
	}
	if o.annotate != "" {
		name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)) + ".annotated.jpg"
		if err := writeAnnotated(filepath.Join(o.annotate, name), data, dets, o, tiler); err != nil {
			return err
		}
	}
	if o.json {
		b, err := json.Marshal(rep)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	return rep.writeText(w)
}

// benchEncoded scores data n more times with det, res holding the first run (the warm-up), as
// yolo.Detector.BenchEncoded does for any detector.
func benchEncoded(det encodedDetector, data []byte, n int, res *yolo.Result) ([]yolo.Timings, error) {
	first := res.Timings
	runs := make([]yolo.Timings, n)
	for i := range runs {
		if err := det.DetectEncoded(data, res); err != nil {
			return nil, err
		}
		runs[i] = res.Timings
	}
	res.Timings = first
	return runs, nil
}

// report is one image's line of --json output.
type report struct {
	Image      string         `json:"image"`
	Width      int            `json:"width"`
	Height     int            `json:"height"`
	Detections []detection    `json:"detections"`
	Tally      map[string]int `json:"tally"`
	// Send is set with --config: whether the daemon would send the tally (a label of interest seen).
	Send *bool `json:"send,omitempty"`
	// Tiles is the number of detections run with detection.tiles (tiles, and the whole frame
	// with full); timingsMs then sums their stages.
	Tiles     int         `json:"tiles,omitempty"`
	TimingsMs stageMs     `json:"timingsMs"`
	Bench     *benchStats `json:"bench,omitempty"`
}

type detection struct {
	Label   string     `json:"label"`
	ClassID int        `json:"classId"`
	Score   float64    `json:"score"`
	Box     [4]float64 `json:"box"`
	// With --config: why the object is not counted, or the zones that count it.
	Dropped string   `json:"dropped,omitempty"`
	Zones   []string `json:"zones,omitempty"`
}

// applyRules replaces the plain per-label tally by the camera's: the body the daemon would send,
// each detection marked as dropped (and why) or with its zones. It returns the counted detections.
func (r *report) applyRules(rules *tally.Rules, preds []tally.Prediction, dets []yolo.Detection) []yolo.Detection {
	var c tally.Counter
	send := c.TallyInto(*rules, r.Tally, preds)
	r.Send = &send
	for i, p := range preds {
		r.Detections[i].Dropped, r.Detections[i].Zones = rules.Explain(p)
	}
	return markup.Counted(nil, dets, preds, rules)
}

type stageMs struct {
	Decode      float64 `json:"decode"`
	Preprocess  float64 `json:"preprocess"`
	Inference   float64 `json:"inference"`
	Postprocess float64 `json:"postprocess"`
	Total       float64 `json:"total"`
}

type benchStats struct {
	Runs     int     `json:"runs"`
	MedianMs stageMs `json:"medianMs"`
	P90Ms    stageMs `json:"p90Ms"`
}

func newReport(name string, res *yolo.Result, bench *benchStats) report {
	r := report{
		Image: name, Width: res.Width, Height: res.Height,
		Detections: make([]detection, len(res.Detections)),
		Tally:      map[string]int{},
		Tiles:      res.Tiles,
		TimingsMs:  toMs(res.Timings),
		Bench:      bench,
	}
	for i, d := range res.Detections {
		r.Detections[i] = detection{Label: d.Label, ClassID: d.ClassID, Score: round(float64(d.Score), 3)}
		for k, v := range d.Box {
			r.Detections[i].Box[k] = round(float64(v), 1)
		}
		r.Tally[d.Label]++
	}
	return r
}

func (r report) writeText(w io.Writer) error {
	tiles := ""
	if r.Tiles > 0 {
		tiles = fmt.Sprintf("%d tile%s  ", r.Tiles, plural(r.Tiles))
	}
	fmt.Fprintf(w, "%s  %dx%d  %d object%s  %s%s\n", r.Image, r.Width, r.Height, len(r.Detections),
		plural(len(r.Detections)), tiles, r.TimingsMs.text())
	if len(r.Detections) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		if r.Send == nil {
			fmt.Fprintln(tw, "  label\tscore\tx1\ty1\tx2\ty2\t")
		} else {
			fmt.Fprintln(tw, "  label\tscore\tx1\ty1\tx2\ty2\tcounted\t")
		}
		for _, d := range r.Detections {
			fmt.Fprintf(tw, "  %s\t%.3f\t%.1f\t%.1f\t%.1f\t%.1f\t", d.Label, d.Score, d.Box[0], d.Box[1], d.Box[2], d.Box[3])
			if r.Send != nil {
				switch {
				case d.Dropped != "":
					fmt.Fprintf(tw, "no: %s\t", d.Dropped)
				case len(d.Zones) > 0:
					fmt.Fprintf(tw, "yes, in %s\t", strings.Join(d.Zones, ", "))
				default:
					fmt.Fprint(tw, "yes\t")
				}
			}
			fmt.Fprintln(tw)
		}
		tw.Flush()
	}
	labels := make([]string, 0, len(r.Tally))
	for l := range r.Tally {
		labels = append(labels, l)
	}
	sort.Slice(labels, func(i, j int) bool {
		if r.Tally[labels[i]] != r.Tally[labels[j]] {
			return r.Tally[labels[i]] > r.Tally[labels[j]]
		}
		return labels[i] < labels[j]
	})
	parts := make([]string, len(labels))
	for i, l := range labels {
		parts[i] = fmt.Sprintf("%s %d", l, r.Tally[l])
	}
	if len(parts) == 0 {
		parts = []string{"nothing found"}
	}
	if r.Send != nil {
		what := "sent"
		if !*r.Send {
			what = "not sent: no label of interest counted"
		}
		fmt.Fprintf(w, "  tally: %s (%s)\n", tally.Marshal(r.Tally), what)
	} else {
		fmt.Fprintf(w, "  tally: %s\n", strings.Join(parts, ", "))
	}
	if b := r.Bench; b != nil {
		fmt.Fprintf(w, "  bench: %d runs, median %s\n", b.Runs, b.MedianMs.text())
		fmt.Fprintf(w, "  %*s p90    %s\n", len(fmt.Sprint(b.Runs))+12, "", b.P90Ms.text())
	}
	_, err := fmt.Fprintln(w)
	return err
}

func (s stageMs) text() string {
	return fmt.Sprintf("total %.1f ms (decode %.1f, preprocess %.1f, inference %.1f, postprocess %.1f)",
		s.Total, s.Decode, s.Preprocess, s.Inference, s.Postprocess)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func toMs(t yolo.Timings) stageMs {
	ms := func(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 3) }
	return stageMs{Decode: ms(t.Decode), Preprocess: ms(t.Preprocess), Inference: ms(t.Inference),
		Postprocess: ms(t.Postprocess), Total: ms(t.Total)}
}

func newBenchStats(runs []yolo.Timings) *benchStats {
	med, p90 := yolo.TimingStats(runs)
	return &benchStats{Runs: len(runs), MedianMs: toMs(med), P90Ms: toMs(p90)}
}

func round(v float64, decimals int) float64 {
	p := math.Pow10(decimals)
	return math.Round(v*p) / p
}
