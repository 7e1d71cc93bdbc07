package videodec

import (
	"errors"
	"testing"
)

// TestFeedUntilBFrames: H.264 and H.265 streams with B-frames fed in decoding order, one access
// unit at a time and drained at the end, give every picture in presentation order, each the one
// the ffmpeg command decodes, also when pictures are skipped; Feed alone, which hands on the
// newest picture, gives them some access units late and never the last ones.
func TestFeedUntilBFrames(t *testing.T) {
	tolerance := conversionTolerance()
	for codec, extra := range map[Codec][]string{
		H264: {"-preset", "veryfast", "-bf", "3"},
		H265: {"-preset", "veryfast", "-x265-params", "log-level=error:bframes=3"},
	} {
		t.Run(codec.String(), func(t *testing.T) {
			const frames = 20
			data, units := encode(t, codec, 320, 240, frames, extra...)
			want := ffmpegAll(t, codec, data, 320, 240)
			if len(want) != frames {
				t.Fatalf("ffmpeg decoded %d pictures, want %d", len(want), frames)
			}
			for _, step := range []int{1, 3} {
				d, _ := New(Options{})
				next, base := 0, int64(0) // the next access unit to give, the next picture's index
				for i := 0; i < frames; i += step {
					for {
						w := Want{Index: int64(i), Base: base, Drain: next == len(units)}
						var stream []byte
						var offs []int
						if next < len(units) {
							end := len(data)
							if next+1 < len(units) {
								end = units[next+1]
							}
							stream, offs = data[units[next]:end], []int{0}
						}
						m, f, err := d.FeedUntil(codec, stream, offs, 0, w)
						next += f.Units
						base += int64(f.Pictures)
						if errors.Is(err, ErrNoPicture) && !w.Drain {
							continue
						}
						if err != nil {
							t.Fatalf("step %d, picture %d: %v (%+v)", step, i, err, f)
						}
						if f.Index != int64(i) {
							t.Fatalf("step %d: picture %d came as %d", step, i, f.Index)
						}
						if diff := maxDiff(matBytes(t, m), want[i]); diff > tolerance {
							t.Errorf("step %d: picture %d differs from ffmpeg's by up to %d per channel", step, i, diff)
						}
						m.Close()
						break
					}
				}
				if _, f, err := d.FeedUntil(codec, nil, nil, 0, Want{Index: frames, Base: base, Drain: true}); !errors.Is(err, ErrNoPicture) {
					t.Errorf("step %d: a picture past the end: %v (%+v)", step, err, f)
				}
				d.Close()
			}

			// Feed: the newest picture after each access unit lags behind.
			d, _ := New(Options{})
			defer d.Close()
			late := 0
			for i := range units {
				end := len(data)
				if i+1 < len(units) {
					end = units[i+1]
				}
				m, _, err := d.Feed(codec, data[units[i]:end], []int{0}, 0)
				if errors.Is(err, ErrNoPicture) {
					late++
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				m.Close()
			}
			t.Logf("Feed: no picture after %d of %d access units", late, len(units))
			if late == 0 {
				t.Errorf("Feed gave a picture after every access unit: the stream has no B-frames to reorder")
			}
		})
	}
}
