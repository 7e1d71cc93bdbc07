package eval

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/edgecam/edgecam/internal/tally"
)

// WriteText writes the report as tables: the frame's labels, then each zone's.
func (r *Report) WriteText(w io.Writer) error {
	writeScope(w, r.Frame, r.Floor)
	for _, z := range r.Zones {
		fmt.Fprintf(w, "\nzone %s\n", z.Zone)
		writeScope(w, z, r.Floor)
	}
	if cv := r.OnNewFrames; cv != nil {
		fmt.Fprintf(w, "\non new frames (thresholds tuned on half of these frames, count error measured on the other half, %d random halvings):\n"+
			"  as configured %.2f; one threshold tuned %.2f; per-label thresholds tuned (--suggest) %.2f\n",
			cv.Splits, cv.Current, cv.SingleThreshold, cv.PerLabel)
	}
	if r.Sent != nil {
		fmt.Fprintf(w, "\ntallies sent: %d of %d frames (%d with a labelled object of interest not sent, %d sent with none labelled)\n",
			*r.Sent, r.Frames, *r.Missed, *r.Spurious)
	}
	_, err := fmt.Fprintf(w, "\ncount error = sum over frames of |counted - true| / sum of true; precision and recall at IoU %.1f;\n"+
		"95%% interval: where the count error of other frames like these would lie (a bootstrap over the frames);\n"+
		"best threshold: the score threshold with the least count error on these frames (swept from %.2f)\n", DefaultIoU, r.Floor+0.01)
	return err
}

func writeScope(w io.Writer, s Scope, floor float64) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "label\ttrue\tcounted\tcount error\t95% interval\tprecision\trecall\tminScore\tbest threshold\t(its count error)\t")
	rows := append(append([]Result(nil), s.Labels...), s.All)
	for _, res := range rows {
		ms := strconv.FormatFloat(res.MinScore, 'g', -1, 64)
		if res.Label == "all" && len(s.Labels) > 0 {
			ms = "-"
		}
		crowd := ""
		if res.CrowdFrames > 0 {
			crowd = fmt.Sprintf(" (%d crowd frame%s left out)", res.CrowdFrames, plural(res.CrowdFrames))
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", res.Label, res.True, res.Counted,
			f2(res.CountError), interval(res.CountErrorInterval), f2(res.Precision), f2(res.Recall), ms, f2(res.BestThreshold), f2(res.BestCountError), crowd)
	}
	tw.Flush()
}

func interval(v *[2]float64) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatFloat(v[0], 'f', 2, 64) + "-" + strconv.FormatFloat(v[1], 'f', 2, 64)
}

func f2(v *float64) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatFloat(*v, 'f', 2, 64)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// Suggest writes the detection.filters block that sets each labelled label's minScore to its
// best threshold, keeping the area bounds of the rules' filters.
func (r *Report) Suggest(w io.Writer, rules tally.Rules, camera string) error {
	var lines []string
	before, after, truth := 0, 0, 0
	for _, res := range r.Frame.Labels {
		if res.BestThreshold == nil {
			continue
		}
		before += res.AbsError
		after += int(*res.BestCountError*float64(res.True) + 0.5)
		truth += res.True
		kv := []string{"minScore: " + strconv.FormatFloat(*res.BestThreshold, 'f', 2, 64)}
		for l, f := range rules.Filters {
			if sameLabel(l, res.Label) {
				if f.MinArea > 0 {
					kv = append(kv, "minArea: "+strconv.FormatFloat(f.MinArea, 'g', -1, 64))
				}
				if f.MaxArea > 0 {
					kv = append(kv, "maxArea: "+strconv.FormatFloat(f.MaxArea, 'g', -1, 64))
				}
			}
		}
		lines = append(lines, fmt.Sprintf("    %s: {%s}", yamlKey(res.Label), strings.Join(kv, ", ")))
	}
	if len(lines) == 0 {
		_, err := fmt.Fprintln(w, "# nothing to suggest: no labelled object of the reported labels")
		return err
	}
	sort.Strings(lines)
	fmt.Fprintf(w, "# edgecam eval --suggest, camera %s, %d frames: count error %.2f -> %.2f on these frames.\n", camera, r.Frames,
		float64(before)/float64(truth), float64(after)/float64(truth))
	if cv := r.OnNewFrames; cv != nil {
		fmt.Fprintf(w, "# On new frames (cross-validated, %d halvings of these frames): %.2f as configured, %.2f with thresholds tuned like these.\n",
			cv.Splits, cv.Current, cv.PerLabel)
		if cv.PerLabel >= cv.Current {
			fmt.Fprintf(w, "# These thresholds are fitted to these frames and are not expected to count better on new ones: label more frames\n"+
				"# (the count error of frames like these lies in %s) before you adopt them.\n", interval(r.Frame.All.CountErrorInterval))
		}
	}
	fmt.Fprintf(w, "# Put it under detection: (every camera) or under this camera's detection: in cameras[].\n")
	fmt.Fprintln(w, "detection:")
	fmt.Fprintln(w, "  filters:")
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	return nil
}

// yamlKey quotes a label that YAML would not read back as the same plain string.
func yamlKey(l string) string {
	for _, c := range l {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ' ' || c == '_' || c == '-') {
			return strconv.Quote(l)
		}
	}
	return l
}
