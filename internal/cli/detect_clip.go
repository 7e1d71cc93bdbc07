package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/edgecam/edgecam/internal/analysis"
	"github.com/edgecam/edgecam/internal/clip"
	"github.com/edgecam/edgecam/internal/crossing"
	"github.com/edgecam/edgecam/internal/imagecodec"
	"github.com/edgecam/edgecam/internal/markup"
	"github.com/edgecam/edgecam/internal/tally"
	"github.com/edgecam/edgecam/internal/tile"
	"github.com/edgecam/edgecam/internal/videodec"
	"github.com/edgecam/edgecam/internal/yolo"
)

// clipArgs checks the arguments naming a clip: one clip, with --config and --camera.
func clipArgs(o *detectOptions) (isClip bool, err error) {
	n := 0
	for _, p := range o.images {
		if clip.IsVideo(p) {
			n++
		}
	}
	switch {
	case n == 0:
		return false, nil
	case n > 1 || len(o.images) > 1:
		return true, errors.New("give one clip at a time (and no images with it)")
	case o.config == "" || o.camera == "":
		return true, errors.New("a clip is analysed as a camera's stream: give --config FILE --camera ID (its lines, zones, masks and detection settings)")
	case o.json || o.bench > 0:
		return true, errors.New("--json and --bench are for images, not clips")
	}
	return true, nil
}

// runClip analyses a recorded clip as camera o.camera's stream would be (motion, model,
// tracker, counting lines) and prints each crossing with its time in the clip, then the totals.
// With --annotate it writes the frame of each crossing there.
func runClip(ctx context.Context, w io.Writer, det *yolo.Detector, o *detectOptions) error {
	path := o.images[0]
	c, err := clip.Open(path)
	if err != nil {
		return err
	}
	cr := o.cameraRules
	if len(cr.Lines) == 0 {
		fmt.Fprintf(w, "camera %q has no counting lines: only the tally of the last frame is shown\n", o.camera)
	}
	fps := c.FPS
	if fps <= 0 {
		fps = clip.DefaultFPS
	}
	rate := cr.AnalysisFPS
	if rate <= 0 || rate > fps {
		rate = fps
	}
	dec, err := videodec.New(videodec.Options{})
	if err != nil {
		return err
	}
	defer dec.Close()
	a := analysis.New(det, analysis.Options{Rules: *cr.Rules, Lines: cr.Lines})
	defer a.Close()
	counts := analysis.NewCounts(cr.Lines)
	fmt.Fprintf(w, "%s  %d pictures at %g fps, analysed at %g fps\n", filepath.Base(path), c.Len(), fps, rate)
	start := time.Time{}
	next := 0.0 // clip time of the next picture to analyse, in seconds
	analysed := 0
	for i := 0; i < c.Len(); i++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t := c.Time(i).Seconds()
		if t+1e-4 < next { // 0.1 ms: times in whole nanoseconds or timescale ticks
			continue
		}
		next = max(next+1/rate, t+0.5/rate) // after a gap in the clip, the rate starts again
		img, err := c.Picture(dec, i, 0)
		if err != nil {
			fmt.Fprintf(w, "%s  picture %d: %v\n", clipTime(t), i, err)
			continue
		}
		f, err := a.Analyze(img, start.Add(time.Duration(t*float64(time.Second))))
		analysed++
		if err != nil {
			img.Close()
			return err
		}
		counts.Add(f.Events)
		for _, e := range f.Events {
			dir := "out"
			if e.In {
				dir = "in"
			}
			fmt.Fprintf(w, "%s  %s  %s  %-3s  track %d\n", clipTime(t), cr.Lines[e.Line].Name, e.Label, dir, e.Track)
		}
		if o.annotate != "" && len(f.Events) > 0 {
			analysis.Annotate(&img, cr.Lines, counts, f.Tracks)
			name := fmt.Sprintf("%s.%s.jpg", strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)), strings.ReplaceAll(clipTime(t), ":", "-"))
			if err := imagecodec.WriteFile(filepath.Join(o.annotate, name), img); err != nil {
				img.Close()
				return err
			}
		}
		img.Close()
	}
	for i, l := range cr.Lines {
		in, out := counts.Line(i)
		fmt.Fprintf(w, "%s: in %d, out %d", l.Name, in, out)
		labels := l.Labels
		if len(labels) > 1 {
			var parts []string
			for _, lb := range labels {
				li, lo := counts.Get(i, lb)
				parts = append(parts, fmt.Sprintf("%s %d/%d", lb, li, lo))
			}
			fmt.Fprintf(w, " (%s)", strings.Join(parts, ", "))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "the model ran on %d of %d analysed pictures (motion or tracks alive)\n", a.Inferences, analysed)
	return nil
}

// clipTime writes seconds into a clip as 00:01:02.400.
func clipTime(s float64) string {
	d := time.Duration(s * float64(time.Second)).Round(time.Millisecond)
	return fmt.Sprintf("%02d:%02d:%02d.%03d", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60, d.Milliseconds()%1000)
}

// cameraRules is what a clip's analysis needs of the camera.
type cameraRules struct {
	Rules       *tally.Rules
	Lines       []crossing.Line
	AnalysisFPS float64
}

// writeAnnotated is markup.WriteFile, with the tiles outlined under the boxes (detection.tiles)
// and the camera's counting lines drawn on top (their in arrows, no counts): tiles and a line
// checked against a still frame.
func writeAnnotated(out string, data []byte, dets []yolo.Detection, o *detectOptions, tiler *tile.Detector) error {
	lines := o.cameraRules != nil && len(o.cameraRules.Lines) > 0
	if tiler == nil && !lines {
		return markup.WriteFile(out, data, dets, o.rules)
	}
	img, err := imagecodec.DecodeMax(data, yolo.MaxPixels)
	if err != nil {
		return err
	}
	defer img.Close()
	if tiler != nil {
		tile.Draw(&img, tiler.Regions(img.Cols(), img.Rows()))
	}
	markup.Frame(&img, dets, o.rules)
	if lines {
		analysis.Annotate(&img, o.cameraRules.Lines, nil, nil)
	}
	return imagecodec.WriteFile(out, img)
}
