package videodec

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	// The daemon's malloc settings (frames are mapped and unmapped, not kept in an arena), so
	// that the cost of allocating a decoder's pictures for every group shows as it does there.
	_ "github.com/edgecam/edgecam/internal/memtune"
)

// BenchmarkLast decodes half a camera-like group of pictures (1920x1080, 4 Mbit/s, 25 of the
// 50 pictures between key frames: the average at a tick) with each option, and reports the CPU
// time per group (this process's user + system time) next to the wall time (ns/op).
//
//	go test -run '^$' -bench Last -benchtime 20x ./internal/videodec/
func BenchmarkLast(b *testing.B) {
	for _, s := range []struct {
		name  string
		codec Codec
		extra []string
	}{
		{"h264", H264, []string{"-preset", "ultrafast", "-bf", "0"}},
		{"h264-bframes", H264, []string{"-preset", "veryfast", "-bf", "2"}},
		{"h265", H265, []string{"-preset", "ultrafast"}},
	} {
		rate := []string{"-b:v", "4M", "-maxrate", "4M", "-bufsize", "4M"}
		data, units := encode(b, s.codec, 1920, 1080, 25, append(s.extra, rate...)...)
		for _, o := range []Options{{Threads: 1}, {Threads: 2}, {Threads: -1}, {Threads: 1, DecodeNonRef: true}, {Threads: 1, KeepDecoder: true}, {Threads: 2, KeepDecoder: true}} {
			b.Run(fmt.Sprintf("%s/threads=%d/skipNonRef=%v/keep=%v", s.name, o.Threads, !o.DecodeNonRef, o.KeepDecoder), func(b *testing.B) {
				d, err := New(o)
				if err != nil {
					b.Fatal(err)
				}
				defer d.Close()
				c0 := cpu()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					m, _, err := d.Last(s.codec, data, units, 0)
					if err != nil {
						b.Fatal(err)
					}
					m.Close()
				}
				b.StopTimer()
				b.ReportMetric(float64((cpu()-c0).Microseconds())/1e3/float64(b.N), "cpu-ms/op")
			})
		}
	}
}

// cpu is this process's user + system time so far.
func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
