package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"
	"github.com/spf13/cobra"

	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/daemon"
	"github.com/edgecam/edgecam/internal/memtune"
	"github.com/edgecam/edgecam/internal/metrics"
	"github.com/edgecam/edgecam/internal/version"
	"github.com/edgecam/edgecam/internal/yolo"
)

func newRunCmd() *cobra.Command {
	var cfgFile, ortLib string
	cmd := &cobra.Command{
		Use:   "run --config FILE",
		Short: "Run the daemon: capture, detect, tally and send on a timer for every configured camera",
		Long: `Run edgecam as a daemon. Every configured camera is one IoT Hub device: on its timer (schedule.due,
then every schedule.period) edgecam captures a frame, runs the model, keeps the predictions at or above
detection.scoreThreshold, and when a label of interest is present sends the per-label tally (with the
labelsMinimum labels padded with 0) as JSON telemetry stamped with the capture time.

Tallies that cannot be delivered (hub unreachable, throttled, token refused) are kept in a bounded
queue under state.dir and delivered, oldest first, once the connection is back, also after a restart.

Configuration comes from the YAML file, then EDGECAM_* environment variables (EDGECAM_ + the key path
with __ between levels, e.g. EDGECAM_AZURE__DPS__IDSCOPE), then flags. Check it first with
"edgecam config check --config FILE".

Under systemd (Type=notify) it reports READY and pings the watchdog; SIGTERM or SIGINT stops it
gracefully within 10 s: the tick in flight finishes, the queue is kept on disk.`,
		Example: `  edgecam run --config /etc/edgecam/config.yaml
  EDGECAM_AZURE__DPS__GROUPENROLLMENTKEY=... edgecam run --config config.yaml --log-format json
  make run     # the demo: local emulator + two file cameras`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(config.LoadOptions{File: cfgFile, Flags: cmd.Flags()})
			if err != nil {
				return err
			}
			// glibc's arenas and mmap threshold are set when the program loads (memtune, issue 16).
			goLimit, goLimitFrom := memtune.SetGoLimit()
			lib, err := yolo.FindRuntimeLibrary(ortLib)
			if err != nil {
				return err
			}
			if err := yolo.InitRuntime(lib); err != nil {
				return err
			}
			rt := runtimeOptions(cfg.Model)
			// The detector keeps scores down to the floor; the cameras' thresholds and filters
			// (which IoT Central may lower at run time) decide what counts.
			det, err := yolo.New(yolo.Options{ModelPath: cfg.Model.Path, Runtime: rt, Confidence: config.DetectorFloor})
			if err != nil {
				return err
			}
			defer det.Close()
			memtune.Trim() // what loading and optimizing the model freed
			log := slog.Default()
			log.Info("edgecam starting", "version", version.String(), "model", cfg.Model.Path,
				"classes", len(det.Classes()), "cameras", len(cfg.Cameras), "onnxRuntime", rt.String(),
				"goMemoryLimitMiB", goLimit>>20, "goMemoryLimitFrom", goLimitFrom)
			for _, w := range cfg.Warnings() {
				log.Warn("configuration", "warning", w)
			}

			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			m := metrics.New()
			if cfg.Metrics.Listen != "" {
				if _, err := m.Serve(ctx, cfg.Metrics.Listen, log); err != nil {
					return err
				}
			}
			opts := daemon.Options{Config: cfg, Detector: det, Metrics: m, Logger: log}
			if interval, err := sddaemon.SdWatchdogEnabled(false); err == nil && interval > 0 {
				opts.WatchdogInterval = interval / 2
			}
			opts.Notify = func(state string) { _, _ = sddaemon.SdNotify(false, state) }
			if err := daemon.Run(ctx, opts); err != nil {
				return fmt.Errorf("stopping: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&cfgFile, "config", "c", "/etc/edgecam/config.yaml", "configuration file (YAML)")
	cmd.Flags().StringVar(&ortLib, "ort-lib", "", "ONNX Runtime shared library (default: $EDGECAM_ORT_LIB, then /usr/lib/edgecam for the packaged binary, else next to the binary and ./lib/onnxruntime, then system paths)")
	f := cmd.Flags()
	f.String("model", config.DefaultModelPath, "YOLO ONNX model (key model.path)")
	f.Int("threads", 0, "inference threads, 0 = one per physical core (key model.threads)")
	f.String("state-dir", "", "state directory: DPS assignments, store-and-forward queue (key state.dir)")
	f.String("metrics-listen", "", "serve Prometheus /metrics and /healthz on this address, e.g. 127.0.0.1:9464 (key metrics.listen)")
	for flag, key := range map[string]string{"model": "model.path", "threads": "model.threads", "state-dir": "state.dir", "metrics-listen": "metrics.listen"} {
		_ = config.BindFlag(f, flag, key)
	}
	return cmd
}

// runtimeOptions maps the model keys to the detector's ONNX Runtime options.
func runtimeOptions(m config.Model) yolo.RuntimeOptions {
	return yolo.RuntimeOptions{Threads: m.Threads, Spinning: m.Spinning, NoArena: !m.Arena, MemPattern: m.MemPattern}
}
