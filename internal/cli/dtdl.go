package cli

import (
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/spf13/cobra"

	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/dtdl"
)

type dtdlOptions struct {
	modelID    string
	labels     string
	configFile string
	check      string
}

func newDTDLCmd() *cobra.Command {
	o := &dtdlOptions{}
	cmd := &cobra.Command{
		Use:   "dtdl --model-id dtmi:...;1 [--labels all|minimum|interest] [--config FILE]",
		Short: "Print the DTDL v2 device model to import into IoT Central as a device template",
		Long: `dtdl prints the DTDL v2 Interface of an edgecam camera: one integer telemetry per label
(the 80 COCO labels, or with --config the model's classes; named as edgecam sends it, e.g.
traffic_light, displayed as "traffic light"), the writable properties IoT Central can change at
run time (ImageTimerDue, ImageTimerPeriod as ISO 8601
durations such as PT30S, PredictionScoreThreshold, PredictionLabelsOfInterest and
PredictionLabelsMinimum as comma-separated labels, PredictionFilters as per-label filters such as
"bus: minScore=0.6; person: minArea=0.01, maxArea=0.5"), the read-only properties edgecam
reports at start, and the commands ImageTimerStart, ImageTimerStop and CaptureNow (which answers
the tally).

With --config, the zones of every camera get their telemetry too, named "<zone>_<label>" as
edgecam sends it: for the zone's own labels, or else for the labels chosen by --labels; and so do
the counting lines, "<line>_<label>_in", "_out" (crossings since the previous message),
"_inTotal" and "_outTotal" (running totals). The
labels are the model's classes (its ONNX metadata or labels file; COCO-80 by default). DTDL
allows 300 contents in an interface: with zones, choose --labels minimum or interest, or give
the zones their labels.

Labels:
  all       every label of the model (default): every key edgecam can send is modeled
  minimum   the labels of detection.labelsMinimum, over every camera of --config
  interest  the labels of detection.labelsOfInterest and labelsMinimum, over every camera of
            --config (every label if a camera has no labels of interest, as it then reports any label)
With minimum or interest, labels outside the set still arrive, as IoT Central's unmodeled data.

Import into IoT Central:
  1. edgecam dtdl --model-id 'dtmi:com:example:edgecam;1' > edgecam.json
  2. Device templates > + New > IoT device > Next: Customize, name it, Next: Review > Create.
  3. Import a model, choose edgecam.json, then Publish.
  4. Put the same model ID in edgecam's configuration (azure.modelId) with azure.dps.idScope and
     azure.dps.groupEnrollmentKey from Permissions > Device connection groups: each camera then
     joins IoT Central and is assigned this template on its own.
The model ID is a DTMI: "dtmi:", colon-separated segments (letters, digits, underscores, starting
with a letter), ";" and a version. Raise the version whenever you change the labels and import
the new document as a new template version.

To validate a DTDL document (e.g. one exported from IoT Central): edgecam-emulator check-dtdl FILE
(a development tool built by make, not installed with the package).`,
		Example: `  edgecam dtdl --model-id 'dtmi:com:example:edgecam;1' > edgecam.json
  edgecam dtdl --config /etc/edgecam/config.yaml --labels interest > edgecam.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.check != "" {
				return fmt.Errorf("--check moved out of the device binary: run edgecam-emulator check-dtdl %s (make builds bin/edgecam-emulator)", o.check)
			}
			return runDTDL(cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.modelID, "model-id", "", "model ID (DTMI) of the Interface, e.g. dtmi:com:example:edgecam;1 (default: azure.modelId of --config)")
	f.StringVar(&o.labels, "labels", "all", "labels that get a telemetry: all, minimum or interest (these two read --config)")
	f.StringVarP(&o.configFile, "config", "c", "", "edgecam configuration file (YAML), for the zones, the model's classes, --labels minimum|interest and the model ID")
	f.StringVar(&o.check, "check", "", "moved: edgecam-emulator check-dtdl FILE")
	_ = f.MarkHidden("check")
	return cmd
}

func runDTDL(stdout, stderr io.Writer, o *dtdlOptions) error {
	var cfg *config.Config
	if o.configFile != "" {
		var err error
		cfg, err = config.Load(config.LoadOptions{File: o.configFile, Only: []string{"model", "detection", "cameras", "azure.modelId"}})
		if err != nil {
			return err
		}
	}
	var labels []string
	switch o.labels {
	case "all", "":
	case "minimum", "interest":
		if cfg == nil {
			return fmt.Errorf("--labels %s reads the labels from the configuration: add --config FILE", o.labels)
		}
		var all bool
		labels, all = configLabels(cfg, o.labels == "interest")
		if all {
			fmt.Fprintln(stderr, "edgecam dtdl: a camera has no detection.labelsOfInterest, so it reports any label: modeling all 80")
			labels = nil
		} else if len(labels) == 0 {
			return fmt.Errorf("--labels %s: the configuration sets no detection.labelsMinimum for any camera; set some, or use --labels all", o.labels)
		}
	default:
		return fmt.Errorf("--labels %q: use all, minimum or interest", o.labels)
	}

	modelID := o.modelID
	if modelID == "" && cfg != nil {
		modelID = cfg.Azure.ModelID
	}
	if modelID == "" {
		return errors.New(`--model-id is required (or azure.modelId in --config): a DTMI such as "dtmi:com:example:edgecam;1"`)
	}

	opts := dtdl.Options{ModelID: modelID, Labels: labels}
	if cfg != nil {
		opts.Classes = cfg.Classes
		for _, cam := range cfg.Cameras {
			for _, z := range cam.Zones {
				opts.Zones = append(opts.Zones, dtdl.Zone{Name: z.Name, Labels: z.Labels})
			}
			for _, l := range cam.Lines {
				opts.Lines = append(opts.Lines, dtdl.Zone{Name: l.Name, Labels: l.Labels})
			}
		}
	}
	doc, err := dtdl.Interface(opts)
	if err != nil {
		return err
	}
	_, err = stdout.Write(doc)
	return err
}

// configLabels returns the union, over every camera's effective detection settings (or the
// global ones without cameras), of labelsMinimum and, with interest, labelsOfInterest. all is
// true when interest is asked and some camera has no labels of interest (it reports any label).
func configLabels(cfg *config.Config, interest bool) (labels []string, all bool) {
	dets := []config.Detection{cfg.Detection}
	if len(cfg.Cameras) > 0 {
		dets = dets[:0]
		for i := range cfg.Cameras {
			dets = append(dets, cfg.CameraDetection(i))
		}
	}
	for _, d := range dets {
		if interest {
			if len(d.LabelsOfInterest) == 0 {
				return nil, true
			}
			labels = append(labels, d.LabelsOfInterest...)
		}
		labels = append(labels, d.LabelsMinimum...)
	}
	// Canonical names in model order, once each.
	var out []string
	for _, n := range cfg.Classes.Names() {
		if slices.Contains(labels, n) {
			out = append(out, n)
		}
	}
	return out, false
}
