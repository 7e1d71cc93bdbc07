// Package cli holds edgecam's cobra commands. Commands are thin: they parse flags, build the
// pieces from internal/ and report; the work happens in the packages they call.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/edgecam/edgecam/internal/logging"
	"github.com/edgecam/edgecam/internal/version"
)

// exitError carries an exit status for an error that has already been reported.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

var errNotYet = errors.New("not implemented yet")

// errSilent ends a command with status 1 after it printed its own messages.
var errSilent = exitError{code: 1}

type globalOptions struct {
	logFormat string
	logLevel  string
}

// Main runs the edgecam command line with args and returns the process exit status.
func Main(args []string) int {
	root := NewRootCmd(os.Stdout, os.Stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintf(os.Stderr, "edgecam: %v\n", err)
	return 1
}

// NewRootCmd builds the command tree, writing to stdout and stderr.
func NewRootCmd(stdout, stderr io.Writer) *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "edgecam",
		Short: "Count objects seen by a camera and send the tally to Azure IoT Hub / IoT Central",
		Long: `edgecam turns an ordinary camera (Raspberry Pi camera, HTTP snapshot URL, RTSP stream or an
image file) into a smart sensor. On a timer it captures a frame, runs a YOLO ONNX model on it,
counts the objects per label and sends the tally as JSON telemetry to Azure IoT Hub or
IoT Central (device connection string, or DPS with an optional DTDL model ID).

Start with:
  edgecam detect photo.jpg              score one image from the shell
  edgecam config check --config FILE    validate a configuration
  edgecam capture --config FILE --camera ID --out frame.jpg
  edgecam run --config FILE             run the daemon
  edgecam discover                      find the ONVIF cameras on the network

A local IoT Hub + DPS stand-in (no Azure account needed) is the separate development command
edgecam-emulator, built by make (bin/edgecam-emulator).`,
		Version:       version.String(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return setupLogging(stderr, g)
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	root.AddCommand(
		newDetectCmd(),
		newEvalCmd(),
		newCaptureCmd(),
		newProvisionCmd(),
		newRunCmd(),
		newConfigCmd(),
		newDTDLCmd(),
		newDiscoverCmd(),
	)
	return root
}

func setupLogging(w io.Writer, g *globalOptions) error {
	return logging.Setup(w, g.logFormat, g.logLevel)
}
