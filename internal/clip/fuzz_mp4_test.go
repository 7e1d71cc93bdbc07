package clip

import (
	"os"
	"os/exec"
	"runtime"
	"testing"
)

// ParseMP4 never panics on hostile data, allocates in proportion to the file, and its access
// units lie in the stream it builds, a key frame first, their times never going back.
func FuzzParseMP4(f *testing.F) {
	f.Add([]byte("\x00\x00\x00\x08ftyp"))
	f.Add([]byte("\x00\x00\x00\x10moov\x00\x00\x00\x08trak"))
	if _, err := exec.LookPath("ffmpeg"); err == nil {
		dir := f.TempDir()
		for name, args := range map[string][]string{
			"plain.mp4":      {"-movflags", "+faststart"},
			"fragmented.mp4": {"-movflags", "frag_keyframe+empty_moov+default_base_moof"},
		} {
			out := dir + "/" + name
			cmd := append([]string{"-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=16x16:rate=5:duration=0.6",
				"-c:v", "libx264", "-g", "2", "-bf", "0", "-pix_fmt", "yuv420p"}, args...)
			if b, err := exec.Command("ffmpeg", append(cmd, out)...).CombinedOutput(); err != nil {
				f.Fatalf("ffmpeg: %v\n%s", err, b)
			}
			data, err := os.ReadFile(out)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	var before, after runtime.MemStats
	f.Fuzz(func(t *testing.T, data []byte) {
		runtime.ReadMemStats(&before)
		c, err := ParseMP4(data)
		runtime.ReadMemStats(&after)
		// go-mp4 reflects over each table entry: a few hundred bytes each, at most one entry
		// per 4 bytes of the file.
		if a, limit := after.TotalAlloc-before.TotalAlloc, uint64(256*len(data)+1<<20); a > limit {
			t.Fatalf("%d bytes allocated for a %d-byte file", a, len(data))
		}
		if err != nil {
			return
		}
		prev := -1
		for i, u := range c.units {
			if u <= prev || u >= len(c.data) {
				t.Fatalf("unit %d at %d (previous %d, %d bytes)", i, u, prev, len(c.data))
			}
			prev = u
			if i > 0 && c.times[i] < c.times[i-1] {
				t.Fatalf("unit %d at %v before unit %d at %v", i, c.times[i], i-1, c.times[i-1])
			}
		}
		if !c.key[0] {
			t.Fatal("first unit is not a key frame")
		}
	})
}
