// Command lazyprobe is TestLazyLoad's program: it imports videodec, as edgecam does, and prints
// (JSON) which FFmpeg libraries its memory map holds at start, after videodec.New, after
// videodec.Load and after a decode, with the time Load took and the resident memory it added.
//
//	lazyprobe STREAM.h264 OFFSET...
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/edgecam/edgecam/internal/videodec"
)

type report struct {
	AtStart, AfterNew, AfterLoad, AfterDecode []string
	LoadMs                                    float64
	RSSBeforeLoadKB, RSSAfterLoadKB           int
	RSSAfterDecodeKB                          int
	Width, Height                             int
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "lazyprobe:", err)
		os.Exit(1)
	}
}

func run() error {
	if len(os.Args) < 3 {
		return fmt.Errorf("usage: lazyprobe STREAM.h264 OFFSET...")
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		return err
	}
	var units []int
	for _, a := range os.Args[2:] {
		u, err := strconv.Atoi(a)
		if err != nil {
			return err
		}
		units = append(units, u)
	}
	var r report
	r.AtStart = mapped()
	d, err := videodec.New(videodec.Options{})
	if err != nil {
		return err
	}
	defer d.Close()
	r.AfterNew = mapped()
	r.RSSBeforeLoadKB = rssKB()
	start := time.Now()
	if err := videodec.Load(); err != nil {
		return err
	}
	r.LoadMs = float64(time.Since(start).Microseconds()) / 1000
	r.RSSAfterLoadKB = rssKB()
	r.AfterLoad = mapped()
	m, _, err := d.Last(videodec.H264, data, units, 0)
	if err != nil {
		return err
	}
	r.Width, r.Height = m.Cols(), m.Rows()
	m.Close()
	r.RSSAfterDecodeKB = rssKB()
	r.AfterDecode = mapped()
	return json.NewEncoder(os.Stdout).Encode(r)
}

// mapped lists the FFmpeg libraries in the process's memory map.
func mapped() []string {
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return []string{err.Error()}
	}
	libs := []string{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			continue
		}
		name := f[5][strings.LastIndex(f[5], "/")+1:]
		for _, lib := range []string{"libavcodec.so", "libavutil.so", "libswscale.so"} {
			if strings.HasPrefix(name, lib) && !slices.Contains(libs, name) {
				libs = append(libs, name)
			}
		}
	}
	return libs
}

// rssKB is the process's resident memory (VmRSS).
func rssKB() int {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}
