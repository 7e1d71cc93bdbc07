package clip

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgecam/edgecam/internal/videodec"
)

// ffmpeg runs ffmpeg with args and the output file name in a temporary folder last.
func ffmpeg(t *testing.T, name string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed (make deps installs it)")
	}
	out := filepath.Join(t.TempDir(), name)
	cmd := append([]string{"-hide_banner", "-loglevel", "error"}, args...)
	if b, err := exec.Command("ffmpeg", append(cmd, out)...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	return out
}

var testsrc = []string{"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=10:duration=3"}

func hasEncoder(t *testing.T, name string) {
	t.Helper()
	out, _ := exec.Command("ffmpeg", "-hide_banner", "-encoders").CombinedOutput()
	if !strings.Contains(string(out), name) {
		t.Skipf("ffmpeg has no %s", name)
	}
}

// MP4 and MOV files, plain and fragmented, H.264 and H.265, give the 30 pictures with their
// presentation times 0.1 s apart.
func TestMP4(t *testing.T) {
	h264 := []string{"-c:v", "libx264", "-g", "7", "-bf", "0", "-pix_fmt", "yuv420p"}
	for _, c := range []struct {
		name string
		args []string
	}{
		{"plain.mp4", h264},
		{"faststart.mp4", append(h264[:len(h264):len(h264)], "-movflags", "+faststart")},
		{"fragmented.mp4", append(h264[:len(h264):len(h264)], "-movflags", "frag_keyframe+empty_moov+default_base_moof")},
		{"fragmented-plain-offsets.mp4", append(h264[:len(h264):len(h264)], "-movflags", "frag_keyframe+empty_moov")},
		{"clip.mov", h264},
		{"avc3.mp4", append(h264[:len(h264):len(h264)], "-tag:v", "avc3")},
		{"hevc.mp4", []string{"-c:v", "libx265", "-x265-params", "log-level=error:bframes=0:keyint=7", "-pix_fmt", "yuv420p"}},
		{"hev1.mp4", []string{"-c:v", "libx265", "-x265-params", "log-level=error:bframes=0:keyint=7", "-tag:v", "hev1", "-pix_fmt", "yuv420p"}},
		{"audio.mp4", append([]string{"-f", "lavfi", "-i", "sine=duration=3", "-c:a", "aac"}, h264...)},
	} {
		t.Run(c.name, func(t *testing.T) {
			if strings.Contains(strings.Join(c.args, " "), "libx265") {
				hasEncoder(t, "libx265")
			}
			p := ffmpeg(t, c.name, append(testsrc[:len(testsrc):len(testsrc)], c.args...)...)
			decodeAll(t, p)
			clip, err := Open(p)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < clip.Len(); i++ {
				if got, want := clip.Time(i), time.Duration(i)*100*time.Millisecond; got-want > time.Millisecond || want-got > time.Millisecond {
					t.Fatalf("picture %d at %v, want %v", i, got, want)
				}
			}
			if clip.FPS < 9.99 || clip.FPS > 10.01 {
				t.Errorf("FPS %v, want 10", clip.FPS)
			}
		})
	}
}

// A clip of varying frame rate keeps its pictures' times.
func TestMP4VariableRate(t *testing.T) {
	// Pictures 0..29 at 10 fps, shown at 0.1 s steps but the second half twice as slow.
	p := ffmpeg(t, "vfr.mp4", append(testsrc[:len(testsrc):len(testsrc)],
		"-vf", "setpts='if(lt(N,15),N*0.1,1.5+(N-15)*0.2)/TB'", "-fps_mode", "passthrough",
		"-c:v", "libx264", "-g", "7", "-bf", "0", "-pix_fmt", "yuv420p", "-video_track_timescale", "1000")...)
	c, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.Len() != 30 {
		t.Fatalf("%d pictures", c.Len())
	}
	if got := c.Time(20); got != 2500*time.Millisecond {
		t.Errorf("picture 20 at %v, want 2.5s", got)
	}
}

func TestMP4Errors(t *testing.T) {
	h264 := append(testsrc[:len(testsrc):len(testsrc)], "-c:v", "libx264", "-g", "7", "-pix_fmt", "yuv420p")
	plain := ffmpeg(t, "plain.mp4", append(h264, "-bf", "0")...)
	faststart := ffmpeg(t, "faststart.mp4", append(h264, "-bf", "0", "-movflags", "+faststart")...)
	data, err := os.ReadFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	fast, _ := os.ReadFile(faststart)
	fragmented := ffmpeg(t, "fragmented.mp4", append(h264, "-bf", "0", "-movflags", "frag_keyframe+empty_moov+default_base_moof")...)
	frag, _ := os.ReadFile(fragmented)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		path, want string
	}{
		{ffmpeg(t, "audio.mp4", "-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac"), "no video track"},
		{ffmpeg(t, "mjpeg.mov", append(testsrc[:len(testsrc):len(testsrc)], "-c:v", "mjpeg")...), "Motion JPEG"},
		{ffmpeg(t, "mpeg4.mp4", append(testsrc[:len(testsrc):len(testsrc)], "-c:v", "mpeg4")...), "MPEG-4 Part 2"},
		// Cut off: the moov box at the end is lost, or the samples the moov at the start lists.
		{write("cut.mp4", data[:len(data)/2]), "cut off"},
		{write("cutfast.mp4", fast[:len(fast)*2/3]), "cut off"},
		{write("junk.mp4", []byte("this is not a video at all")), "not an MP4/MOV file"},
	}
	if out, _ := exec.Command("ffmpeg", "-hide_banner", "-encoders").CombinedOutput(); strings.Contains(string(out), "libaom-av1") { // optional: no skip
		cases = append(cases, struct{ path, want string }{
			ffmpeg(t, "av1.mp4", "-f", "lavfi", "-i", "testsrc2=size=64x64:rate=5:duration=0.4", "-c:v", "libaom-av1", "-cpu-used", "8"), "AV1"})
	}
	// A fragmented file cut off keeps the pictures before the cut.
	c, err := Open(write("cutfrag.mp4", frag[:len(frag)*2/3]))
	if err != nil {
		t.Errorf("a cut-off fragmented MP4: %v", err)
	} else if c.Len() < 10 || c.Len() >= 30 {
		t.Errorf("a cut-off fragmented MP4 gives %d of its 30 pictures", c.Len())
	}
	for _, c := range cases {
		_, err := Open(c.path)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Open(%s) = %v, want %q", filepath.Base(c.path), err, c.want)
			continue
		}
		t.Logf("%s: %v", filepath.Base(c.path), err)
		if c.want == "Motion JPEG" && !strings.Contains(err.Error(), "ffmpeg -i mjpeg.mov -c:v libx264") {
			t.Errorf("the codec error does not say how to re-encode: %v", err)
		}
		if c.want == "Motion JPEG" && !strings.Contains(err.Error(), "H.264") {
			t.Errorf("the codec error does not say which codecs work: %v", err)
		}
	}
}

// The access units of an MP4 are those of the same pictures as an elementary stream.
func TestMP4MatchesElementaryStream(t *testing.T) {
	es := encode(t, "clip.h264", "-c:v", "libx264")
	mp4 := ffmpeg(t, "clip.mp4", "-i", es, "-c", "copy")
	a, err := Open(es)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(mp4)
	if err != nil {
		t.Fatal(err)
	}
	if a.Len() != b.Len() {
		t.Fatalf("%d pictures in the .h264, %d in the .mp4", a.Len(), b.Len())
	}
	for i := range a.key {
		if a.key[i] != b.key[i] {
			t.Errorf("picture %d: key %v in the .h264, %v in the .mp4", i, a.key[i], b.key[i])
		}
	}
	if a.Codec != videodec.H264 || b.Codec != videodec.H264 {
		t.Errorf("codecs %v %v", a.Codec, b.Codec)
	}
}

// An empty edit first (ffmpeg -itsoffset) delays the pictures as a player shows them.
func TestMP4EditList(t *testing.T) {
	src := ffmpeg(t, "src.mp4", append(testsrc[:len(testsrc):len(testsrc)], "-c:v", "libx264", "-g", "7", "-bf", "0", "-pix_fmt", "yuv420p")...)
	p := ffmpeg(t, "late.mp4", "-itsoffset", "1.5", "-i", src, "-c", "copy")
	c, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Time(0); got != 1500*time.Millisecond {
		t.Errorf("first picture at %v, want 1.5s", got)
	}
	if got := c.Time(10); got != 2500*time.Millisecond {
		t.Errorf("picture 10 at %v, want 2.5s", got)
	}
}
