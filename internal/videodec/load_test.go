package videodec

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/edgecam/edgecam/internal/testfixture"
)

// envMissingProbe makes TestMissingLibrary, run again as a subprocess of the test binary, point
// Load at a library that does not exist before anything in that process has loaded FFmpeg.
const envMissingProbe = "EDGECAM_VIDEODEC_MISSING_PROBE"

// missingSoname is a libavcodec that no machine has.
const missingSoname = "libavcodec.so.0-edgecam-missing"

// TestMissingLibrary: when a library cannot be loaded, every Last returns an error that names
// the packages to install and dlerror's text; nothing crashes. Load runs once per process (and
// other tests here load FFmpeg), so the decoding runs in a subprocess of this test binary.
func TestMissingLibrary(t *testing.T) {
	if os.Getenv(envMissingProbe) == "1" {
		sonames = []string{defaultSonames[0], defaultSonames[1], missingSoname}
		data, err := os.ReadFile("testdata/tiny.h264")
		if err != nil {
			t.Fatal(err)
		}
		d, err := New(Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		for i := 0; i < 2; i++ {
			m, _, err := d.Last(H264, data, accessUnits(H264, data), 0)
			m.Close()
			want := "videodec: RTSP cameras need FFmpeg's libavcodec59, libavutil57 and libswscale6: apt install libavutil57 libswscale6 libavcodec59, then restart edgecam (" +
				missingSoname + ": cannot open shared object file"
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("decode %d: err %v, want it to start %q", i+1, err, want)
			}
			t.Logf("decode %d: %v", i+1, err)
		}
		if err := Load(); err == nil {
			t.Fatal("Load succeeded after failing")
		}
		return
	}
	testfixture.SkipIfEmulated(t, "runs the test binary again, which cannot be executed here")
	if defaultSonames[2] != "libavcodec.so.59" {
		t.Skipf("built with FFmpeg headers for %s, not FFmpeg 5.1's libavcodec.so.59", defaultSonames[2])
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestMissingLibrary$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), envMissingProbe+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestMissingLibrary") {
		t.Fatalf("subprocess: %v\n%s", err, out)
	}
	t.Logf("subprocess:\n%s", out)
}

// TestLoadMissing: load names the library it could not open and what to install, and leaves the
// decoder working (here, in this process, with FFmpeg loaded or not).
func TestLoadMissing(t *testing.T) {
	for i := range 3 {
		libs := slices.Clone(defaultSonames)
		libs[i] = "libedgecam-missing.so.1"
		err := load(libs)
		if err == nil || !strings.Contains(err.Error(), "apt install ") || !strings.Contains(err.Error(), "(libedgecam-missing.so.1: cannot open shared object file") {
			t.Errorf("%v: err %v", libs, err)
		}
	}
	data, err := os.ReadFile("testdata/tiny.h264")
	if err != nil {
		t.Fatal(err)
	}
	d, _ := New(Options{})
	defer d.Close()
	m, _, err := d.Last(H264, data, accessUnits(H264, data), 0)
	if err != nil || m.Cols() != 32 {
		t.Errorf("after failed loads: %v", err)
	}
	m.Close()
}

// TestLazyLoad: a program that imports videodec (testdata/lazyprobe) has no FFmpeg library in
// its memory map at start nor after New, and all three after Load and its first decode. The
// program is linked like edgecam (scripts/build.sh): gocv's customenv tag with OpenCV's core and
// imgproc only, since gocv's default link (every OpenCV module, this test binary's) loads FFmpeg
// through libopencv_videoio. It logs Load's time and the resident memory it adds.
func TestLazyLoad(t *testing.T) {
	testfixture.SkipIfEmulated(t, "builds and runs a program for this machine")
	if testing.Short() {
		t.Skip("builds a program")
	}
	probe := filepath.Join(t.TempDir(), "lazyprobe")
	build := exec.Command("../../scripts/build.sh", probe)
	build.Env = append(os.Environ(), "PKG=./internal/videodec/testdata/lazyprobe")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the probe with scripts/build.sh: %v\n%s", err, out)
	}
	data, err := os.ReadFile("testdata/tiny.h264")
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"testdata/tiny.h264"}
	for _, u := range accessUnits(H264, data) {
		args = append(args, strconv.Itoa(u))
	}
	out, err := exec.Command(probe, args...).Output()
	if err != nil {
		t.Fatalf("probe: %v %s", err, out)
	}
	var r struct {
		AtStart, AfterNew, AfterLoad, AfterDecode         []string
		LoadMs                                            float64
		RSSBeforeLoadKB, RSSAfterLoadKB, RSSAfterDecodeKB int
		Width, Height                                     int
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("probe said %s: %v", out, err)
	}
	if len(r.AtStart) != 0 || len(r.AfterNew) != 0 {
		t.Errorf("FFmpeg loaded before the first decode: at start %v, after New %v", r.AtStart, r.AfterNew)
	}
	for _, stage := range [][]string{r.AfterLoad, r.AfterDecode} {
		for _, so := range defaultSonames {
			// The files are mapped under their full names: libavcodec.so.59.37.100.
			if !slices.ContainsFunc(stage, func(f string) bool { return f == so || strings.HasPrefix(f, so+".") }) {
				t.Errorf("%s not loaded: %v", so, stage)
			}
		}
	}
	if r.Width != 32 || r.Height != 32 {
		t.Errorf("decoded %dx%d, want 32x32", r.Width, r.Height)
	}
	t.Logf("Load: %.1f ms, resident memory %d -> %d KB (+%d KB); after the first decode %d KB; mapped after Load: %v",
		r.LoadMs, r.RSSBeforeLoadKB, r.RSSAfterLoadKB, r.RSSAfterLoadKB-r.RSSBeforeLoadKB, r.RSSAfterDecodeKB, r.AfterLoad)
}

// TestPackagingDependsOnSonames: the .deb's Depends include the libraries Load opens (they have
// no NEEDED entry to be found by): packaging/main.go lists them in dlopened.
func TestPackagingDependsOnSonames(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "packaging", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	_, list, ok := strings.Cut(string(src), "\nvar dlopened = []string{")
	list, _, _ = strings.Cut(list, "}")
	if !ok {
		t.Fatal("packaging/main.go has no dlopened list")
	}
	for _, so := range defaultSonames {
		if !strings.Contains(list, strconv.Quote(so)) {
			t.Errorf("packaging/main.go's dlopened (%s) does not name %s", list, so)
		}
	}
}
