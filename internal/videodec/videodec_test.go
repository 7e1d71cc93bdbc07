package videodec

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/testfixture"
)

// encode makes an Annex-B elementary stream of frames pictures of FFmpeg's moving test pattern
// with ffmpeg's encoder for codec (extra: more encoder options), and returns it with the offset
// of each access unit.
func encode(t testing.TB, codec Codec, w, h, frames int, extra ...string) ([]byte, []int) {
	t.Helper()
	testfixture.RequireFFmpeg(t)
	enc := []string{"-c:v", "libx264"}
	if codec == H265 {
		enc = []string{"-c:v", "libx265", "-x265-params", "log-level=error"}
	}
	return encodeSource(t, codec, fmt.Sprintf("testsrc2=size=%dx%d:rate=25", w, h), "yuv420p", frames, append(enc, extra...)...)
}

// encodeSource encodes frames pictures of the lavfi source in pixel format pix with the
// encoder options enc (-c:v ...), as encode does.
func encodeSource(t testing.TB, codec Codec, source, pix string, frames int, enc ...string) ([]byte, []int) {
	t.Helper()
	testfixture.RequireFFmpeg(t)
	format := map[Codec]string{H264: "h264", H265: "hevc"}[codec]
	es := filepath.Join(t.TempDir(), "gop."+format)
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-f", "lavfi", "-i", source,
		"-frames:v", fmt.Sprint(frames), "-pix_fmt", pix, "-g", "250"}
	args = append(append(args, enc...), "-f", format, es)
	if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Skipf("ffmpeg cannot encode %s: %v\n%s", codec, err, out)
	}
	data, err := os.ReadFile(es)
	if err != nil {
		t.Fatal(err)
	}
	units := accessUnits(codec, data)
	if len(units) != frames {
		t.Fatalf("%s stream: %d access units found, want %d", codec, len(units), frames)
	}
	return data, units
}

// accessUnits splits an Annex-B stream into access units the simple way (enough for ffmpeg's
// single-slice output): a unit starts at a parameter set, delimiter or SEI after a picture's
// slices, or at a picture's first slice after another's.
func accessUnits(codec Codec, data []byte) []int {
	var units []int
	vcl := false // the current unit has a slice
	for i := 0; i+3 < len(data); i++ {
		if data[i] != 0 || data[i+1] != 0 || data[i+2] != 1 {
			continue
		}
		start := i
		if i > 0 && data[i-1] == 0 {
			start = i - 1
		}
		n := data[i+3:]
		var isVCL, first, prefix bool
		if codec == H264 {
			typ := n[0] & 0x1F
			isVCL = typ == 1 || typ == 5
			first = isVCL && len(n) > 1 && n[1]&0x80 != 0
			prefix = typ == 6 || typ == 7 || typ == 8 || typ == 9
		} else if len(n) > 1 {
			typ := (n[0] >> 1) & 0x3F
			isVCL = typ < 32
			first = isVCL && len(n) > 2 && n[2]&0x80 != 0
			prefix = typ >= 32 && typ <= 39
		}
		if len(units) == 0 || (vcl && (prefix || first)) {
			units = append(units, start)
			vcl = false
		}
		vcl = vcl || isVCL
		i += 2
	}
	return units
}

// ffmpegLast is the last picture of the stream as the ffmpeg command converts it to BGR.
func ffmpegLast(t *testing.T, codec Codec, data []byte, w, h int) []byte {
	t.Helper()
	all := ffmpegAll(t, codec, data, w, h)
	return all[len(all)-1]
}

// ffmpegAll is every picture of the stream, in presentation order, as the ffmpeg command
// converts them to BGR.
func ffmpegAll(t *testing.T, codec Codec, data []byte, w, h int) [][]byte {
	t.Helper()
	format := map[Codec]string{H264: "h264", H265: "hevc"}[codec]
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-f", format, "-i", "-", "-f", "rawvideo", "-pix_fmt", "bgr24", "-")
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffmpeg decoding the reference: %v", err)
	}
	size := w * h * 3
	if len(out) < size || len(out)%size != 0 {
		t.Fatalf("ffmpeg gave %d bytes, not whole %dx%d BGR pictures", len(out), w, h)
	}
	var all [][]byte
	for ; len(out) > 0; out = out[size:] {
		all = append(all, out[:size])
	}
	return all
}

// conversionTolerance is the difference per channel allowed between a picture and the ffmpeg
// command's: none, but 3 under CPU emulation (make test-arm64), where the ffmpeg command is the
// host's, whose x86 YUV-to-BGR conversion rounds differently from the arm64 one.
func conversionTolerance() int {
	if os.Getenv(testfixture.EnvEmulated) == "1" {
		return 3
	}
	return 0
}

// maxDiff is the largest difference between two equally long byte strings.
func maxDiff(a, b []byte) int {
	if len(a) != len(b) {
		return 256
	}
	d := 0
	for i := range a {
		d = max(d, int(a[i])-int(b[i]), int(b[i])-int(a[i]))
	}
	return d
}

func matBytes(t *testing.T, m gocv.Mat) []byte {
	t.Helper()
	b, err := m.DataPtrUint8()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLastPicture: the last picture of H.264 and H.265 groups (with and without B-frames, a
// width that is not a multiple of 8, every option) is the one the ffmpeg command decodes, byte
// for byte, also from a decoder used before. Under CPU emulation (make test-arm64) the ffmpeg
// command is the host's, whose x86 YUV-to-BGR conversion rounds differently from the arm64 one:
// there a difference of 3 per channel is allowed.
func TestLastPicture(t *testing.T) {
	tolerance := conversionTolerance()
	for _, c := range []struct {
		name  string
		codec Codec
		w, h  int
		extra []string
	}{
		{"h264", H264, 320, 240, []string{"-preset", "ultrafast", "-bf", "0"}},
		{"h264-bframes", H264, 320, 240, []string{"-preset", "veryfast", "-bf", "3"}},
		{"h264-odd-size", H264, 330, 186, []string{"-preset", "ultrafast", "-bf", "0"}},
		{"h265", H265, 320, 240, []string{"-preset", "ultrafast"}},
		{"h265-bframes", H265, 320, 240, []string{"-preset", "veryfast", "-x265-params", "log-level=error:bframes=3"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			const frames = 20
			data, units := encode(t, c.codec, c.w, c.h, frames, c.extra...)
			want := ffmpegLast(t, c.codec, data, c.w, c.h)
			for _, o := range []Options{{}, {Threads: -1}, {DecodeNonRef: true}, {KeepDecoder: true, Threads: 2}} {
				d, err := New(o)
				if err != nil {
					t.Fatal(err)
				}
				for round := 0; round < 2; round++ {
					m, r, err := d.Last(c.codec, data, units, 0)
					if err != nil {
						t.Fatalf("%+v: %v", o, err)
					}
					if m.Cols() != c.w || m.Rows() != c.h || m.Type() != gocv.MatTypeCV8UC3 || !m.IsContinuous() {
						t.Fatalf("%+v: %dx%d type %v", o, m.Cols(), m.Rows(), m.Type())
					}
					if d := maxDiff(matBytes(t, m), want); d > tolerance {
						t.Errorf("%+v: the last picture differs from ffmpeg's by up to %d per channel (allowed: %d)", o, d, tolerance)
					}
					m.Close()
					if r.Refused != 0 || r.Pictures == 0 || (o.DecodeNonRef && r.Pictures != frames) {
						t.Errorf("%+v: %+v", o, r)
					}
					t.Logf("%+v: %+v", o, r)
				}
				d.Close()
			}
		})
	}
}

// TestBadInput: garbage, truncated and cut-off streams, bad offsets and a picture over the pixel
// limit give clear errors; a decoder keeps working after each.
func TestBadInput(t *testing.T) {
	data, units := encode(t, H264, 320, 240, 10, "-preset", "ultrafast", "-bf", "0")
	d, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, c := range []struct {
		name  string
		codec Codec
		data  []byte
		units []int
		max   int64
		want  string
	}{
		{"garbage", H264, []byte("not a video at all"), []int{0}, 0, "H.264: no picture decoded from 1 access units (18 bytes)"},
		{"empty", H264, nil, nil, 0, "no data"},
		{"offsets", H264, data, []int{0, 5, 5}, 0, "offset 5 out of order"},
		{"offset past end", H264, data, []int{0, len(data)}, 0, "past the"},
		{"no parameter sets", H264, data[units[1]:], []int{0}, 0, "no picture decoded"},
		{"wrong codec", H265, data, units, 0, "H.265: no picture decoded"},
		{"too many pixels", H264, data, units, 320 * 239, "H.264: image is 320x240 (0.1 megapixels), more than the limit"},
		{"unknown codec", Codec(7), data, units, 0, "unknown codec 7"},
	} {
		m, _, err := d.Last(c.codec, c.data, c.units, c.max)
		m.Close()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want it to say %q", c.name, err, c.want)
		} else {
			t.Logf("%s: %v", c.name, err)
		}
	}
	// Truncated in the middle of the last picture: the pictures before it still decode.
	cut := data[:units[len(units)-1]+40]
	m, r, err := d.Last(H264, cut, units, 0)
	if err != nil || r.Pictures == 0 {
		t.Errorf("cut stream: %+v %v", r, err)
	}
	m.Close()
	m, _, err = d.Last(H264, data, units, 0)
	if err != nil || m.Cols() != 320 {
		t.Errorf("after bad input: %v", err)
	}
	m.Close()
	d.Close()
	if _, _, err := d.Last(H264, data, units, 0); err == nil {
		t.Error("a closed decoder decoded")
	}
}

// TestSmallPictures: pictures under MinSide pixels a side (2x2 and 6x4, which libswscale wrote
// past their buffer; 16x8, 8x16, 34x12) are refused with a clear error, and the decoder goes on; every width
// from 16 to 50, in 4:2:0, 4:2:2 and grey, has every pixel converted (a one-colour stream comes
// out one colour: the last columns of a 34-pixel-wide picture were left unwritten). 4:2:2 and
// grey take a few widths each: an ffmpeg run per picture costs ~0.3 s.
func TestSmallPictures(t *testing.T) {
	d, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	good, goodUnits := encode(t, H264, 64, 48, 3, "-preset", "ultrafast")
	x264 := []string{"-c:v", "libx264", "-preset", "ultrafast"}
	for _, size := range []string{"2x2", "6x4", "16x8", "8x16", "34x12"} {
		data, units := encodeSource(t, H264, "testsrc2=size="+size+":rate=25", "yuv420p", 5, x264...)
		m, _, err := d.Last(H264, data, units, 0)
		m.Close()
		if err == nil || !strings.Contains(err.Error(), "picture is "+size+", smaller than 16x16") {
			t.Errorf("%s: err %v, want it refused as smaller than 16x16", size, err)
		} else {
			t.Logf("%s: %v", size, err)
		}
		m, _, err = d.Last(H264, good, goodUnits, 0)
		if err != nil || m.Cols() != 64 {
			t.Errorf("after %s: %v", size, err)
		}
		m.Close()
	}
	widths := map[string][]int{"yuv420p": {16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36, 38, 40, 44, 46, 48, 50}, "yuv422p": {18, 22, 34, 38}, "gray": {18, 22, 34, 38}}
	for _, pix := range []string{"yuv420p", "yuv422p", "gray"} {
		for _, w := range widths[pix] {
			h := 18
			// A colour whose BGR is far from black and from grey, so unwritten or
			// half-converted pixels show.
			data, units := encodeSource(t, H264, fmt.Sprintf("color=c=0x3080E0:size=%dx%d:rate=25", w, h), pix, 3, x264...)
			m, _, err := d.Last(H264, data, units, 0)
			if err != nil {
				t.Fatalf("%s %dx%d: %v", pix, w, h, err)
			}
			if m.Cols() != w || m.Rows() != h || !m.IsContinuous() {
				t.Fatalf("%s %dx%d: a %dx%d Mat (continuous %v)", pix, w, h, m.Cols(), m.Rows(), m.IsContinuous())
			}
			b := matBytes(t, m)
			first := [3]byte(b[:3])
			if int(first[0])+int(first[1])+int(first[2]) < 100 {
				t.Errorf("%s %dx%d: first pixel %v is nearly black", pix, w, h, first)
			}
			for i := 0; i < len(b); i += 3 {
				if [3]byte(b[i:i+3]) != first {
					t.Errorf("%s %dx%d: pixel (%d,%d) is %v, not %v like the first", pix, w, h, i/3%w, i/3/w, b[i:i+3], first)
					break
				}
			}
			m.Close()
		}
	}
}
