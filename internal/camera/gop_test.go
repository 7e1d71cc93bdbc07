package camera

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"github.com/edgecam/edgecam/internal/testfixture"
	"github.com/edgecam/edgecam/internal/videodec"
)

// encodedAUs encodes frames pictures of a moving test pattern with a key frame every gop, and
// returns the elementary stream's access units as NAL units (ffmpeg's output: one slice per
// picture, parameter sets and SEI before it).
func encodedAUs(t *testing.T, codec videodec.Codec, frames, gop int) [][][]byte {
	t.Helper()
	testfixture.RequireFFmpeg(t)
	enc, format := []string{"-c:v", "libx264", "-bf", "0"}, "h264"
	if codec == videodec.H265 {
		enc, format = []string{"-c:v", "libx265", "-x265-params", "log-level=error:bframes=0"}, "hevc"
	}
	es := filepath.Join(t.TempDir(), "gop."+format)
	args := append([]string{"-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
		"-frames:v", fmt.Sprint(frames), "-preset", "ultrafast", "-g", fmt.Sprint(gop), "-keyint_min", fmt.Sprint(gop)}, enc...)
	if out, err := exec.Command("ffmpeg", append(args, "-f", format, es)...).CombinedOutput(); err != nil {
		t.Skipf("ffmpeg cannot encode %s: %v\n%s", codec, err, out)
	}
	data, err := os.ReadFile(es)
	if err != nil {
		t.Fatal(err)
	}
	var nalus h264.AnnexB // the same start-code format for H.265
	if err := nalus.Unmarshal(data); err != nil {
		t.Fatal(err)
	}
	var aus [][][]byte
	var au [][]byte
	for _, n := range nalus {
		au = append(au, n)
		vcl := n[0]&0x1F == 1 || n[0]&0x1F == 5
		if codec == videodec.H265 {
			vcl = (n[0]>>1)&0x3F < 32
		}
		if vcl {
			aus, au = append(aus, au), nil
		}
	}
	if len(aus) != frames {
		t.Fatalf("%d access units, want %d", len(aus), frames)
	}
	return aus
}

// TestGOPDecodes: the group the writer keeps (from the last key frame, with the offset of each
// access unit) decodes, every access unit accepted, to the same last picture as the whole
// stream; a group being decoded is left alone when the next key frame arrives.
func TestGOPDecodes(t *testing.T) {
	for _, codec := range []videodec.Codec{videodec.H264, videodec.H265} {
		t.Run(codec.String(), func(t *testing.T) {
			const frames, gopLen = 25, 10
			aus := encodedAUs(t, codec, frames, gopLen)
			s := &rtspSource{id: "t", maxBytes: 1 << 20}
			g := &gopWriter{s: s, codec: codec}
			now := time.Now()
			for _, au := range aus {
				g.add(au, now)
			}
			if s.gop.frames() != frames%gopLen || s.gop.units[0] != 0 || s.gop.width != 320 || s.gop.height != 240 {
				t.Fatalf("group: %d access units at %v, %dx%d", s.gop.frames(), s.gop.units, s.gop.width, s.gop.height)
			}
			d, err := videodec.New(videodec.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			buf, units, c := s.gop.lend()
			last, r, err := d.Last(c, buf, units, 0)
			defer last.Close()
			if err != nil || r.Pictures != frames%gopLen || r.Refused != 0 {
				t.Fatalf("decoding the group: %+v %v", r, err)
			}
			// The whole stream, one access unit after another.
			var all []byte
			var allUnits []int
			for _, au := range aus {
				allUnits = append(allUnits, len(all))
				for _, n := range au {
					all = append(append(all, startCode...), n...)
				}
			}
			want, _, err := d.Last(codec, all, allUnits, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer want.Close()
			a, _ := last.DataPtrUint8()
			b, _ := want.DataPtrUint8()
			if !bytes.Equal(a, b) {
				t.Error("the group's last picture differs from the whole stream's")
			}

			// A key frame and more pictures arrive while the group is lent.
			lent := append([]byte(nil), buf...)
			for _, au := range aus[:3] {
				g.add(au, now)
			}
			if !bytes.Equal(buf, lent) || s.gop.frames() != 3 || &s.gop.buf[0] == &buf[0] {
				t.Errorf("the lent group was overwritten (or the new one not started: %d access units)", s.gop.frames())
			}
			s.gop.giveBack()
			// Not lent: the next group reuses the memory.
			mem := &s.gop.buf[0]
			g.add(aus[0], now)
			if &s.gop.buf[0] != mem || s.gop.frames() != 1 {
				t.Error("a group not lent did not reuse its buffer")
			}
		})
	}
}

// TestGOPAccessUnitCap: a group of more than maxAccessUnits access units (tiny ones, under
// maxBytes) is dropped like one over maxBytes: captures fail saying so, at once, until the
// next key frame starts a group again.
func TestGOPAccessUnitCap(t *testing.T) {
	aus := encodedAUs(t, videodec.H264, 2, 10)
	s := &rtspSource{id: "t", shownURL: "rtsp://cam/x", maxBytes: 32 << 20, timeout: time.Second}
	g := &gopWriter{s: s, codec: videodec.H264}
	now := time.Now()
	g.add(aus[0], now)
	for range maxAccessUnits + 10 {
		g.add(aus[1], now)
	}
	if s.gop.frames() != 0 || s.gop.overflow == "" {
		t.Fatalf("after %d access units: %d held, overflow %q", maxAccessUnits+11, s.gop.frames(), s.gop.overflow)
	}
	start := time.Now()
	_, err := s.Capture(testCtx(t))
	wantErr(t, err, "camera t: rtsp stream rtsp://cam/x: the group of pictures since the last key frame is more than 4096 access units: shorten the camera's key frame interval")
	if took := time.Since(start); took > time.Second {
		t.Errorf("capture took %v", took)
	}
	g.add(aus[0], now)
	if s.gop.frames() != 1 || s.gop.overflow != "" {
		t.Errorf("a key frame after the overflow: %d access units, overflow %q", s.gop.frames(), s.gop.overflow)
	}
}
