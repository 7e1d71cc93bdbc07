package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/testfixture/footfall"
)

// footfallConfig writes a configuration whose camera door counts the footfall clip's line.
func footfallConfig(t *testing.T, dir string) string {
	t.Helper()
	cfg := configFile(t, dir, fmt.Sprintf(`
model: {path: %q}
detection:
  scoreThreshold: 0.5
cameras:
  - id: door
    type: rtsp
    url: rtsp://127.0.0.1:8554/door
    analysis: {fps: 5}
`, testModel(t))+footfall.LineYAML)
	return cfg
}

// detect --config --camera CLIP counts the footfall clip's crossings exactly: three in, three out
// (two of them at once), nobody for the person stopping on the line or walking along it. The
// same stream in an MP4 file (ffmpeg -c copy) gives the same crossings at the same times, and so
// does the clip re-encoded with B-frames.
func TestDetectClipCountsCrossings(t *testing.T) {
	dir := t.TempDir()
	clipFile := footfall.Make(t, dir, "door.h264")
	cfg := footfallConfig(t, dir)
	annotated := filepath.Join(dir, "out")
	out, errOut, code := detect(t, "--config", cfg, "--camera", "door", "--annotate", annotated, clipFile)
	t.Logf("detect output:\n%s", out)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	crossings := checkFootfall(t, out)
	shots, _ := filepath.Glob(filepath.Join(annotated, "door.*.jpg"))
	if len(shots) == 0 {
		t.Errorf("--annotate wrote no frame of a crossing")
	}

	mp4 := filepath.Join(dir, "door.mp4")
	if b, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-r", strconv.Itoa(footfall.FPS), "-i", clipFile, "-c", "copy", mp4).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, b)
	}
	out, errOut, code = detect(t, "--config", cfg, "--camera", "door", mp4)
	t.Logf("detect output of the MP4:\n%s", out)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if got := checkFootfall(t, out); strings.Join(got, "\n") != strings.Join(crossings, "\n") {
		t.Errorf("the MP4's crossings:\n%s\nwant the .h264's:\n%s", strings.Join(got, "\n"), strings.Join(crossings, "\n"))
	}

	// The clip re-encoded with B-frames (as phones and exporters make them), in an MP4 and as an
	// elementary stream: its pictures are handed on in presentation order, at their presentation
	// times, so the crossings are the same at the same times.
	for _, name := range []string{"door-bframes.mp4", "door-bframes.h264"} {
		p := filepath.Join(dir, name)
		if b, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-r", strconv.Itoa(footfall.FPS), "-i", clipFile,
			"-c:v", "libx264", "-preset", "veryfast", "-crf", "16", "-g", "10", "-bf", "3", "-pix_fmt", "yuv420p", p).CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg: %v: %s", err, b)
		}
		types, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=pict_type", "-of", "csv=p=0", p).Output()
		if err != nil {
			t.Fatalf("ffprobe: %v", err)
		}
		if n := strings.Count(string(types), "B"); n == 0 {
			t.Fatalf("%s has no B-frames", name)
		}
		out, errOut, code = detect(t, "--config", cfg, "--camera", "door", p)
		t.Logf("detect output of %s:\n%s", name, out)
		if code != 0 {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		if got := checkFootfall(t, out); strings.Join(got, "\n") != strings.Join(crossings, "\n") {
			t.Errorf("the crossings of %s:\n%s\nwant those without B-frames:\n%s", name, strings.Join(got, "\n"), strings.Join(crossings, "\n"))
		}
	}
}

// checkFootfall checks detect's output for the footfall clip and returns its crossing lines.
func checkFootfall(t *testing.T, out string) []string {
	t.Helper()
	want := fmt.Sprintf("door: in %d, out %d\n", footfall.In, footfall.Out)
	if !strings.Contains(out, want) {
		t.Fatalf("output lacks %q", want)
	}
	crossings := regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d\.\d{3}  door  person  (in |out)  track \d+$`).FindAllString(out, -1)
	if len(crossings) != footfall.In+footfall.Out {
		t.Fatalf("%d crossing lines, want %d", len(crossings), footfall.In+footfall.Out)
	}
	// The two crossing at once in opposite directions are counted in the same picture.
	if a, b := strings.Fields(crossings[2]), strings.Fields(crossings[3]); a[0] != b[0] || a[3] == b[3] {
		t.Errorf("the two crossing at once: %q and %q, want one in and one out at the same time", a, b)
	}
	return crossings
}

func TestDetectClipArguments(t *testing.T) {
	dir := t.TempDir()
	cfg := footfallConfig(t, dir)
	junk := filepath.Join(dir, "junk.mp4")
	if err := os.WriteFile(junk, []byte("not a video"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{filepath.Join(dir, "a.h264")}, "give --config FILE --camera ID"},
		{[]string{"--config", cfg, "--camera", "door", filepath.Join(dir, "a.h264"), filepath.Join(dir, "b.h264")}, "one clip at a time"},
		{[]string{"--config", cfg, "--camera", "door", "--json", filepath.Join(dir, "a.h264")}, "--json and --bench are for images"},
		{[]string{"--config", cfg, "--camera", "door", filepath.Join(dir, "a.mkv")}, "remux it into MP4 first"},
		{[]string{"--config", cfg, "--camera", "door", junk}, "not an MP4/MOV file"},
	} {
		_, errOut, code := detect(t, c.args...)
		if code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("detect %v: exit %d, stderr %q; want %q", c.args, code, errOut, c.want)
		}
	}
}

// detect --config --camera --annotate on a still frame draws the camera's lines.
func TestDetectImageDrawsLines(t *testing.T) {
	dir := t.TempDir()
	cfg := footfallConfig(t, dir)
	out := filepath.Join(dir, "out")
	if _, errOut, code := detect(t, "--config", cfg, "--camera", "door", "--annotate", out, testPhoto(t, "bus.jpg")); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	img := gocv.IMRead(filepath.Join(out, "bus.annotated.jpg"), gocv.IMReadColor)
	defer img.Close()
	// The line x = 0.5 of the 810-pixel-wide frame, yellow (BGR 255, 224, 0), halfway down.
	v := img.GetVecbAt(img.Rows()/2+40, 405)
	if v[0] < 200 || v[1] < 180 || v[2] > 80 {
		t.Fatalf("pixel on the line is BGR %v, want the line's yellow", v)
	}
}
