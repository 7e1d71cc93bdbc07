//go:build soak

package soak

import (
	"bufio"
	"cmp"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgecam/edgecam/internal/emulator"
	"github.com/edgecam/edgecam/internal/testfixture"
	"github.com/edgecam/edgecam/internal/testfixture/emutest"
)

const groupKey = "c29hay1ncm91cC1lbnJvbGxtZW50LWtleS0wMTIzNDU2Nzg5QUJDREVG" // soak runs only

// sample is one reading of the daemon process.
type sample struct {
	at         time.Duration // since the daemon started
	ticks      float64       // captures, all cameras
	rss        float64       // bytes
	heap       float64       // go_memstats_heap_inuse_bytes
	cpu        float64       // seconds of user+system CPU
	threads    int
	fds        int
	goroutines float64
}

// TestSoak runs bin/edgecam for SOAK_SECONDS (default 600) at SOAK_PERIOD (default 1s) with the
// cameras in SOAK_CAMERAS (default file,http,rtsp,marked; kinds: file, http, rtsp, marked = a file
// camera with imageFile and markedUpFile), sampling every SOAK_SAMPLE (default 2s) and printing
// a sample every SOAK_PRINT (default 30s), then runs
// it SOAK_IDLE_SECONDS (default 60) with no tick due, for the idle CPU.
func TestSoak(t *testing.T) {
	root := testfixture.RepoRoot(t)
	bin := envOr("SOAK_BIN", filepath.Join(root, "bin", "edgecam"))
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%v: run `make build` first (make soak does)", err)
	}
	dur := time.Duration(envInt(t, "SOAK_SECONDS", 600)) * time.Second
	idle := time.Duration(envInt(t, "SOAK_IDLE_SECONDS", 60)) * time.Second
	every := envDur(t, "SOAK_SAMPLE", 2*time.Second)
	printEvery := envDur(t, "SOAK_PRINT", 30*time.Second)
	period := envOr("SOAK_PERIOD", "1s")
	kinds := strings.Split(envOr("SOAK_CAMERAS", "file,http,rtsp,marked"), ",")
	warm := min(2*time.Minute, dur/2)

	e := emutest.Start(t, emulator.Config{
		DPS: emulator.DPSConfig{Groups: []emulator.Group{{Name: "soak", Key: groupKey}}},
	})
	dir := t.TempDir()
	cams := cameras(t, dir, kinds)
	metricsAddr := testfixture.FreeAddr(t)
	model := envOr("SOAK_MODEL", filepath.Join(root, "models", "yolov5n.onnx"))
	extra := strings.Fields(os.Getenv("SOAK_ENV")) // e.g. SOAK_ENV="MALLOC_ARENA_MAX=2 EDGECAM_MODEL__ARENA=false"

	fmt.Printf("soak: %s of %s at period %s (%d cameras: %s), then %s idle; binary %s\n",
		dur, bin, period, len(kinds), strings.Join(kinds, ","), idle, bin)
	if len(extra) > 0 {
		fmt.Printf("soak: extra environment %v\n", extra)
	}
	run := func(d time.Duration, period, due string, report bool) []sample {
		cfg := filepath.Join(dir, "config-"+period+".yaml")
		writeConfig(t, cfg, model, period, due, metricsAddr, cams)
		logf, err := os.Create(filepath.Join(dir, "daemon-"+period+".log"))
		if err != nil {
			t.Fatal(err)
		}
		defer logf.Close()
		cmd := exec.Command(bin, "run", "--config", cfg, "--log-format", "json")
		cmd.Env = append([]string{
			"PATH=" + os.Getenv("PATH"),
			"EDGECAM_ORT_LIB=" + os.Getenv("EDGECAM_ORT_LIB"),
			"EDGECAM_AZURE__CAFILE=" + e.CAFile(),
			"EDGECAM_AZURE__DPS__GLOBALENDPOINT=" + e.DPSHost(),
			"EDGECAM_STATE__DIR=" + filepath.Join(dir, "state"),
		}, extra...)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		defer func() {
			cmd.Process.Signal(syscall.SIGTERM)
			<-exited
		}()
		var samples []sample
		if report {
			defer func() { fmt.Print(smaps(cmd.Process.Pid)) }()
			fmt.Printf("%8s %8s %9s %9s %8s %7s %4s %10s\n", "t", "ticks", "RSS MB", "heap MB", "CPU s", "threads", "fds", "goroutines")
		}
		for next := every; ; next += every {
			if s, ok := read(cmd.Process.Pid, metricsAddr, time.Since(start)); ok {
				samples = append(samples, s)
				if report && (len(samples) == 1 || s.at/printEvery != samples[len(samples)-2].at/printEvery) {
					fmt.Printf("%8s %8.0f %9.1f %9.1f %8.2f %7d %4d %10.0f\n", s.at.Round(time.Second), s.ticks,
						s.rss/1e6, s.heap/1e6, s.cpu, s.threads, s.fds, s.goroutines)
				}
			}
			if next > d {
				break
			}
			select {
			case err := <-exited:
				// The daemon stopped on its own (a bad SOAK_PERIOD, a crash): say so now rather
				// than sampling nothing until the end.
				exited <- err
				log, _ := os.ReadFile(logf.Name())
				lines := strings.Split(string(log), "\n")
				t.Fatalf("the daemon exited after %s (%v); the end of its log:\n%s", time.Since(start).Round(time.Second),
					err, strings.Join(lines[max(0, len(lines)-20):], "\n"))
			case <-time.After(time.Until(start.Add(next))):
			}
		}
		return samples
	}
	s := run(dur, period, "0s", true)
	if len(s) < 3 {
		log, _ := os.ReadFile(filepath.Join(dir, "daemon-"+period+".log"))
		lines := strings.Split(string(log), "\n")
		t.Fatalf("only %d samples; the end of the daemon log:\n%s", len(s), strings.Join(lines[max(0, len(lines)-20):], "\n"))
	}
	first, last := s[0], s[len(s)-1]
	var after []sample
	for _, x := range s {
		if x.at >= warm {
			after = append(after, x)
		}
	}
	fmt.Printf("\nRSS: %.1f MB at start (%s), %.1f MB at the end (%s); Go heap in use %.1f -> %.1f MB\n",
		first.rss/1e6, first.at.Round(time.Second), last.rss/1e6, last.at.Round(time.Second), first.heap/1e6, last.heap/1e6)
	if len(after) >= 3 {
		slope := fit(after, func(x sample) float64 { return x.ticks }, func(x sample) float64 { return x.rss })
		a0, a1 := after[0], after[len(after)-1]
		fmt.Printf("RSS slope after %s: %.3f MB per 1000 ticks (least squares over %d samples, %.0f ticks; %.1f -> %.1f MB)\n",
			warm, slope*1000/1e6, len(after), a1.ticks-a0.ticks, a0.rss/1e6, a1.rss/1e6)
		// The frames in flight (a few MB each, mapped and unmapped per tick) make single samples
		// jump; the lowest RSS of each minute is the floor a leak would raise.
		var floors []sample
		for _, x := range after {
			if n := len(floors); n > 0 && (x.at-warm)/time.Minute == (floors[n-1].at-warm)/time.Minute {
				if x.rss < floors[n-1].rss {
					floors[n-1].rss = x.rss
				}
				continue
			}
			floors = append(floors, x)
		}
		// A last minute with only a sample or two has no floor to speak of.
		if n := len(floors); n > 1 && after[len(after)-1].at-floors[n-1].at < time.Minute/2 {
			floors = floors[:n-1]
		}
		if len(floors) >= 3 {
			var fl []string
			for _, f := range floors {
				fl = append(fl, fmt.Sprintf("%.1f", f.rss/1e6))
			}
			fmt.Printf("RSS floor (lowest of each minute) after %s: %s MB; slope %.3f MB per 1000 ticks\n", warm,
				strings.Join(fl, " "), fit(floors, func(x sample) float64 { return x.ticks }, func(x sample) float64 { return x.rss })*1000/1e6)
		}
		if a1.ticks > a0.ticks {
			fmt.Printf("CPU per tick after %s: %.1f ms (all process CPU / ticks, idle included)\n",
				warm, (a1.cpu-a0.cpu)/(a1.ticks-a0.ticks)*1000)
		}
	}
	fmt.Printf("threads %d -> %d, fds %d -> %d, goroutines %.0f -> %.0f, ticks %.0f\n",
		first.threads, last.threads, first.fds, last.fds, first.goroutines, last.goroutines, last.ticks)
	if idle > 0 {
		// The same cameras with the first tick an hour away: what the daemon costs between ticks
		// (MQTT keep-alives, timers, and whatever a source does in the background).
		settle := 15 * time.Second
		is := run(idle+settle, "1h", "1h", false)
		var a, b *sample
		for i := range is {
			if is[i].at >= settle && a == nil {
				a = &is[i]
			}
			b = &is[i]
		}
		if a != nil && b != a {
			fmt.Printf("idle CPU: %.2f %% of a core (%.1f s of CPU over %s with no tick due, after %s to settle); RSS %.1f MB\n",
				(b.cpu-a.cpu)/(b.at-a.at).Seconds()*100, b.cpu-a.cpu, (b.at - a.at).Round(time.Second), settle, b.rss/1e6)
		}
	}
}

type cam struct{ id, yaml string }

func cameras(t *testing.T, dir string, kinds []string) []cam {
	photos := []string{"bus.jpg", "zidane.jpg", "kite.jpg", "dog.jpg"}
	var out []cam
	for i, k := range kinds {
		photo := testfixture.Photo(t, photos[i%len(photos)])
		id := fmt.Sprintf("%s-%d", strings.TrimSpace(k), i)
		switch strings.TrimSpace(k) {
		case "file":
			out = append(out, cam{id, fmt.Sprintf("type: file\n    path: %q", photo)})
		case "marked":
			out = append(out, cam{id, fmt.Sprintf("type: file\n    path: %q\n    imageFile: %q\n    markedUpFile: %q",
				photo, filepath.Join(dir, id+".jpg"), filepath.Join(dir, id+"-marked.jpg"))})
		case "http":
			data, err := os.ReadFile(photo)
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "image/jpeg")
				w.Write(data)
			}))
			t.Cleanup(srv.Close)
			out = append(out, cam{id, fmt.Sprintf("type: http\n    url: %q", srv.URL+"/snapshot.jpg")})
		case "rtsp":
			testfixture.RequireFFmpeg(t)
			addr := testfixture.FreeAddr(t)
			feed := testfixture.StartRTSPFeed(t, addr, testfixture.MakeClip(t, photo))
			t.Cleanup(feed.Stop)
			out = append(out, cam{id, fmt.Sprintf("type: rtsp\n    url: %q", "rtsp://"+addr+"/cam")})
		default:
			t.Fatalf("SOAK_CAMERAS: unknown kind %q (file, http, rtsp, marked)", k)
		}
	}
	return out
}

func writeConfig(t *testing.T, path, model, period, due, metricsAddr string, cams []cam) {
	var b strings.Builder
	fmt.Fprintf(&b, `model:
  path: %q
schedule:
  due: %s
  period: %s
detection:
  scoreThreshold: 0.5
  labelsOfInterest: []
  labelsMinimum: [bicycle, car, person]
azure:
  dps:
    idScope: %s
    groupEnrollmentKey: %q
metrics:
  listen: %q
cameras:
`, model, due, period, emulator.DefaultIDScope, groupKey, metricsAddr)
	for _, c := range cams {
		fmt.Fprintf(&b, "  - id: %s\n    %s\n", c.id, c.yaml)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// read samples /proc/pid and the metrics endpoint.
func read(pid int, metricsAddr string, at time.Duration) (sample, bool) {
	s := sample{at: at}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, false
	}
	for _, line := range strings.Split(string(status), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && f[0] == "VmRSS:":
			kb, _ := strconv.ParseFloat(f[1], 64)
			s.rss = kb * 1024
		case len(f) >= 2 && f[0] == "Threads:":
			s.threads, _ = strconv.Atoi(f[1])
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, false
	}
	// fields after the command name (which is in parentheses): state is field 3, utime 14, stime 15
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	s.cpu = (ut + st) / 100 // USER_HZ
	if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
		s.fds = len(ents)
	}
	m, err := scrape(metricsAddr)
	if err != nil {
		return s, false
	}
	s.ticks = m["edgecam_captures_total"]
	s.heap = m["go_memstats_heap_inuse_bytes"]
	s.goroutines = m["go_goroutines"]
	return s, true
}

// smaps sums the resident memory of the process's mappings by what they map: anonymous memory
// (the Go heap, malloc arenas, thread stacks), and each shared library and file.
func smaps(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return ""
	}
	by := map[string]float64{}
	name := ""
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if strings.Contains(f[0], "-") && len(f) >= 5 && !strings.HasSuffix(f[0], ":") {
			name = "[anonymous]"
			if len(f) >= 6 {
				name = filepath.Base(f[5])
			}
			continue
		}
		if f[0] == "Rss:" && len(f) >= 2 {
			kb, _ := strconv.ParseFloat(f[1], 64)
			by[name] += kb / 1024
		}
	}
	type kv struct {
		k string
		v float64
	}
	var all []kv
	for k, v := range by {
		all = append(all, kv{k, v})
	}
	slices.SortFunc(all, func(a, b kv) int { return cmp.Compare(b.v, a.v) })
	var b strings.Builder
	b.WriteString("resident memory by mapping (smaps, MB):")
	for i, x := range all {
		if i == 12 {
			break
		}
		fmt.Fprintf(&b, " %s %.1f;", x.k, x.v)
	}
	return b.String() + "\n"
}

// scrape sums each metric of the Prometheus text format over its labels.
func scrape(addr string) (map[string]float64, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name := f[0]
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err == nil && !math.IsNaN(v) {
			out[name] += v
		}
	}
	return out, sc.Err()
}

// fit is the least-squares slope of y over x.
func fit(s []sample, x, y func(sample) float64) float64 {
	var sx, sy, sxx, sxy float64
	n := float64(len(s))
	for _, v := range s {
		sx += x(v)
		sy += y(v)
		sxx += x(v) * x(v)
		sxy += x(v) * y(v)
	}
	return (n*sxy - sx*sy) / (n*sxx - sx*sx)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func envInt(t *testing.T, k string, def int) int {
	v := os.Getenv(k)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: want a number of seconds", k, v)
	}
	return n
}

func envDur(t *testing.T, k string, def time.Duration) time.Duration {
	v := os.Getenv(k)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q: want a duration such as 10s", k, v)
	}
	return d
}
