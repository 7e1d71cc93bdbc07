package jpeg

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/testfixture"
)

// childEnv makes the test binary a one-shot decoder (TestDecodeChild): a file, a pixel limit.
const childEnv = "EDGECAM_JPEG_CHILD"

// TestDecodeChild decodes the file childEnv names with the limit after it and prints the
// error; it runs only in the process decodeInChild starts, so that process's peak RSS is the
// decode's.
func TestDecodeChild(t *testing.T) {
	spec := os.Getenv(childEnv)
	if spec == "" {
		t.Skip("only in a child process")
	}
	path, limit, _ := strings.Cut(spec, "|")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	max, _ := strconv.ParseInt(limit, 10, 64)
	d := Decoder{MaxPixels: max}
	m := gocv.NewMat()
	err = d.Decode(data, 1, &m)
	fmt.Printf("\nRESULT %dx%d %v\n", m.Cols(), m.Rows(), err)
	m.Close()
	d.Close()
}

// decodeInChild decodes data in a new process and returns what it printed (the decode's
// error), its peak RSS and how long it ran. Under CPU emulation the test binary cannot run
// itself: the decode runs in this process and the RSS is 0.
func decodeInChild(t *testing.T, data []byte, maxPixels int64) (result string, maxRSS int64, took time.Duration) {
	t.Helper()
	if os.Getenv(testfixture.EnvEmulated) == "1" {
		d := Decoder{MaxPixels: maxPixels}
		defer d.Close()
		m := gocv.NewMat()
		defer m.Close()
		start := time.Now()
		err := d.Decode(data, 1, &m)
		return fmt.Sprintf("%dx%d %v", m.Cols(), m.Rows(), err), 0, time.Since(start)
	}
	path := filepath.Join(t.TempDir(), "in.jpg")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestDecodeChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%d", childEnv, path, maxPixels))
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took = time.Since(start)
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	_, res, ok := strings.Cut(string(out), "\nRESULT ")
	if !ok {
		t.Fatalf("child printed no result:\n%s", out)
	}
	res, _, _ = strings.Cut(res, "\n")
	return res, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10, took
}

// A frame header hidden from other header parsers (behind FF 00 read as a segment) or simply
// over the limit is refused from the size libjpeg itself reads, before anything is allocated:
// 65500x65500 (12.6 GB decoded; `edgecam detect` ran 129 s before failing) and 8000x8000
// (decoded without error before) each end at once in a process that stays small.
func TestDecodeHiddenAndHugeFrames(t *testing.T) {
	small := testfixture.SmallJPEG(150, 103)
	var d Decoder
	defer d.Close()
	m := gocv.NewMat()
	defer m.Close()
	for _, tc := range []struct {
		name   string
		data   []byte
		max    int64
		want   string
		rssCap int64
	}{
		{"hidden 65500x65500", testfixture.HiddenFrameJPEG(65500, 65500), 0, "decode JPEG: ", 300 << 20},
		{"hidden 8000x8000", testfixture.HiddenFrameJPEG(8000, 8000), 0, "decode JPEG: ", 200 << 20},
		{"65500x65500", testfixture.PatchJPEGSize(small, 65500, 65500), 0, "image is 65500x65500 (4290.3 megapixels), more than the limit of 40 megapixels", 300 << 20},
		{"8000x8000", testfixture.PatchJPEGSize(small, 8000, 8000), 0, "image is 8000x8000 (64 megapixels), more than the limit of 40 megapixels", 200 << 20},
	} {
		res, rss, took := decodeInChild(t, tc.data, tc.max)
		t.Logf("%s (%d bytes): %s in %v, peak RSS %.1f MB", tc.name, len(tc.data), res, took.Round(time.Millisecond), float64(rss)/(1<<20))
		if !strings.Contains(res, tc.want) || strings.HasSuffix(res, "<nil>") {
			t.Errorf("%s: %s, want an error saying %q", tc.name, res, tc.want)
		}
		if rss > tc.rssCap {
			t.Errorf("%s: peak RSS %.1f MB, want under %d MB", tc.name, float64(rss)/(1<<20), tc.rssCap>>20)
		}
	}
	// The hidden frame is refused for what libjpeg finds before it: bytes where a marker should
	// be, no longer skipped.
	err := d.Decode(testfixture.HiddenFrameJPEG(8000, 8000), 1, &m)
	if err == nil || !strings.Contains(err.Error(), "extraneous bytes before marker 0xc0") {
		t.Errorf("hidden frame: %v, want libjpeg's extraneous-bytes error", err)
	}
}

// A progressive JPEG of 100,000 scans (1.3 MB, 1024x1024) stops at MaxScans with an error
// instead of holding the decode for seconds; one with a few scans decodes to OpenCV's pixels.
func TestDecodeManyScans(t *testing.T) {
	var d Decoder
	defer d.Close()
	m := gocv.NewMat()
	defer m.Close()
	few := testfixture.ManyScansJPEG(64, 48, 20)
	if err := d.Decode(few, 1, &m); err != nil {
		t.Fatalf("20 scans: %v", err)
	}
	want := reference(t, few, 1)
	sameMat(t, "20 scans", m, want)
	want.Close()
	for _, scans := range []int{MaxScans, MaxScans + 1, 100_000} {
		data := testfixture.ManyScansJPEG(1024, 1024, scans)
		start := time.Now()
		err := d.Decode(data, 1, &m)
		t.Logf("%d scans (%d bytes): %v in %v", scans, len(data), err, time.Since(start).Round(time.Millisecond))
		if scans <= MaxScans {
			if err != nil {
				t.Errorf("%d scans: %v", scans, err)
			}
			continue
		}
		if !errors.Is(err, ErrTooManyScans) || !strings.Contains(err.Error(), "progressive JPEG with more than 500 scans") {
			t.Errorf("%d scans: %v, want ErrTooManyScans", scans, err)
		}
	}
}

// libjpeg's corrupt-data warnings are errors: a JPEG cut short with FFD9 appended decoded
// without error and grey below the cut.
func TestDecodeCutWithEOI(t *testing.T) {
	var d Decoder
	defer d.Close()
	m := gocv.NewMat()
	defer m.Close()
	err := d.Decode(testfixture.CutJPEG(320, 240), 1, &m)
	if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "premature end of data segment") {
		t.Errorf("cut JPEG with FFD9: %v, want a truncated error", err)
	}
	t.Log(err)
}
