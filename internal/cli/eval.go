package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/eval"
	"github.com/edgecam/edgecam/internal/markup"
	"github.com/edgecam/edgecam/internal/tally"
	"github.com/edgecam/edgecam/internal/yolo"
)

type evalOptions struct {
	config, camera string
	images         string
	model          string
	labels         []string
	iou            float32
	floor          float32
	threads        int
	json           bool
	suggest        bool
	ortLib         string
	labelSet       string // the argument
	progressEvery  time.Duration
}

func newEvalCmd() *cobra.Command {
	o := &evalOptions{}
	cmd := &cobra.Command{
		Use:   "eval --config FILE --camera ID [flags] LABELS",
		Short: "Measure how well a camera's configuration counts, against labelled frames",
		Long: `eval runs the camera's model on labelled frames, counts them with the camera's whole rule set
(scoreThreshold, per-label filters, masks, zones, labels of interest; tile by tile with its
detection.tiles), as the daemon does, and
compares the counts with the labels. Per label it prints the true count, the count, the count error
(sum over frames of |counted - true| / sum of true), precision and recall (a counted box matches a
labelled one at IoU >= 0.5, best score first) and the score threshold that would have made the
count error least. Per zone too when the camera has zones.

Two figures say how far to trust that: each count error's 95% interval (a bootstrap over the
frames: where the figure of other frames like these would lie; on 20 frames it is wide), and
"on new frames", the count error of frames the thresholds were not tuned on (the frames are
halved at random 100 times: thresholds tuned on one half, counted on the other), as configured,
with one tuned threshold and with per-label thresholds. When tuning does not beat the
configuration there, --suggest says so: label more frames before changing thresholds.

LABELS is what labelling tools export:
  - a COCO instances JSON file (CVAT, Label Studio, Roboflow "COCO"); its file_name entries are
    found beside the JSON file, or in --images DIR; "iscrowd" regions leave their label out of
    that frame's comparison;
  - a YOLO folder: images/, labels/<image>.txt ("class cx cy w h" lines) and names.txt (one class
    name per line) or data.yaml with names;
  - a JSON-lines file, one frame per line, as ../shared/testdata/coco128/truth.jsonl.

Label 20 or so frames of the camera's own scene (edgecam capture), run eval, and apply the
thresholds --suggest prints. The model runs once per frame; thresholds are swept over its
predictions, from just above the detector's own floor (the daemon never sees lower scores).`,
		Example: `  edgecam eval --config /etc/edgecam/config.yaml --camera garage labelled/annotations.json
  edgecam eval --config config.yaml --camera garage --suggest yolo-export/
  edgecam eval --config config.yaml --camera garage --json --labels person,car truth.jsonl`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return errors.New("eval needs one LABELS argument: a COCO JSON file, a YOLO folder or a JSON-lines file")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.labelSet = args[0]
			if !cmd.Flags().Changed("model") {
				o.model = ""
			}
			return runEval(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.config, "config", "c", "", "edgecam configuration `FILE` (required)")
	f.StringVar(&o.camera, "camera", "", "camera `ID` of --config whose rules are measured (required)")
	f.StringVar(&o.images, "images", "", "`DIR` holding the images the labels name (default: beside the labels)")
	f.StringVar(&o.model, "model", "", "YOLO ONNX model `PATH` instead of the configuration's model.path")
	f.StringSliceVar(&o.labels, "labels", nil, "labels to report (default: the camera's labels of interest, minimum and filtered labels, else every label)")
	f.Float32Var(&o.iou, "iou", yolo.DefaultIoU, "NMS overlap of the detector, 0..1 (the daemon's unless changed)")
	f.Float32Var(&o.floor, "floor", config.DetectorFloor, "the detector's score floor, 0..1 (the daemon's unless changed): thresholds are swept above it")
	f.IntVar(&o.threads, "threads", 0, "ONNX Runtime threads (0 = the configuration's model.threads)")
	f.BoolVar(&o.json, "json", false, "print the report as JSON")
	f.BoolVar(&o.suggest, "suggest", false, "print the detection.filters block with each label's best threshold")
	f.StringVar(&o.ortLib, "ort-lib", "", "ONNX Runtime shared library `PATH` (default: found automatically)")
	return cmd
}

func runEval(ctx context.Context, stdout, stderr io.Writer, o *evalOptions) error {
	switch {
	case o.config == "" || o.camera == "":
		return errors.New("eval measures a camera's configuration: give --config FILE and --camera ID")
	case !(o.iou > 0 && o.iou <= 1):
		return fmt.Errorf("--iou %g: want a value between 0 and 1", o.iou)
	case !(o.floor > 0 && o.floor < 1):
		return fmt.Errorf("--floor %g: want a value between 0 and 1", o.floor)
	case o.threads < 0:
		return fmt.Errorf("--threads %d: want 0 or more", o.threads)
	}
	cr, err := loadCameraRules(&detectOptions{config: o.config, camera: o.camera})
	if err != nil {
		return err
	}
	model, threads, rules := cr.Model, cr.Threads, &cr.Rules
	if o.model != "" {
		model = o.model
	}
	if o.threads == 0 {
		o.threads = threads
	}
	set, err := eval.Load(o.labelSet, o.images)
	if err != nil {
		return err
	}
	det, err := openDetector(o.ortLib, yolo.Options{ModelPath: model, Runtime: yolo.RuntimeOptions{Threads: o.threads}, Confidence: o.floor, IoU: o.iou})
	if err != nil {
		return err
	}
	defer det.Close()

	cs := det.ClassSet()
	unknown := map[string]bool{}
	for i := range set.Images {
		im := &set.Images[i]
		for j := range im.Boxes {
			if c, ok := cs.Lookup(im.Boxes[j].Label); ok {
				im.Boxes[j].Label = c
			} else if !unknown[im.Boxes[j].Label] {
				unknown[im.Boxes[j].Label] = true
				fmt.Fprintf(stderr, "edgecam eval: label %q is not a class of the model (%s): it is never counted\n", im.Boxes[j].Label, cs.Source())
			}
		}
		for j, l := range im.Crowd {
			if c, ok := cs.Lookup(l); ok {
				im.Crowd[j] = c
			}
		}
	}
	var want []string
	if len(o.labels) > 0 {
		if want, err = cs.Canonical(o.labels); err != nil {
			return fmt.Errorf("--labels: %w", err)
		}
	}

	var fd encodedDetector = det
	if tiler := cameraTiler(det, rules, cr.Tiles); tiler != nil {
		fd = tiler
	}
	preds, err := evalDetect(ctx, stderr, fd, set, o.progressEvery)
	if err != nil {
		return err
	}
	rep := eval.Evaluate(set, preds, *rules, eval.Options{Labels: want, Floor: float64(o.floor)})
	switch {
	case o.json:
		out := struct {
			Camera string `json:"camera"`
			Model  string `json:"model"`
			Labels string `json:"labels"`
			*eval.Report
		}{o.camera, model, o.labelSet, rep}
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	case o.suggest:
		return rep.Suggest(stdout, *rules, o.camera)
	}
	fmt.Fprintf(stdout, "camera %s, model %s, %d frames (%s)\n\n", o.camera, filepath.Base(model), rep.Frames, o.labelSet)
	return rep.WriteText(stdout)
}

// evalDetect runs the detector on every frame of set as the daemon runs it on a camera's frame
// (tile by tile with the camera's detection.tiles), and returns each frame's predictions (boxes
// in fractions of the frame). A line on stderr reports progress every few seconds.
func evalDetect(ctx context.Context, stderr io.Writer, det encodedDetector, set *eval.Set, every time.Duration) ([][]tally.Prediction, error) {
	if every == 0 {
		every = 5 * time.Second
	}
	start, last := time.Now(), time.Now()
	preds := make([][]tally.Prediction, len(set.Images))
	var res yolo.Result
	var failed []string
	for i := range set.Images {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		im := &set.Images[i]
		data, err := os.ReadFile(im.Path)
		if err == nil {
			err = det.DetectEncoded(data, &res)
		}
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", im.Path, err))
			continue
		}
		if im.Width > 0 && (im.Width != res.Width || im.Height != res.Height) {
			fmt.Fprintf(stderr, "edgecam eval: %s is %dx%d, its labels say %dx%d: the boxes may not fit\n", im.Path, res.Width, res.Height, im.Width, im.Height)
		}
		preds[i] = markup.Predictions(nil, &res)
		if time.Since(last) >= every {
			last = time.Now()
			fmt.Fprintf(stderr, "edgecam eval: %d/%d frames, %.0f s\n", i+1, len(set.Images), time.Since(start).Seconds())
		}
	}
	if len(failed) > 0 {
		return nil, fmt.Errorf("%d of %d frames could not be scored:\n  %s", len(failed), len(set.Images), strings.Join(failed, "\n  "))
	}
	return preds, nil
}
