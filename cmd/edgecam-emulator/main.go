// Command edgecam-emulator is edgecam's development stand-in for Azure IoT Hub and the Device
// Provisioning Service (MQTT over TLS, WebSockets, the service REST API, file upload), with a
// DTDL v2 validator (check-dtdl). It is built by make next to bin/edgecam and used by make run and
// the tests; it is not in the Debian package, so the device binary carries neither.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/edgecam/edgecam/internal/dtdl"
	"github.com/edgecam/edgecam/internal/dtdl/dtdlcheck"
	"github.com/edgecam/edgecam/internal/logging"
	"github.com/edgecam/edgecam/internal/version"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes the command line and returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd(stdin, stdout, stderr)
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		fmt.Fprintf(stderr, "edgecam-emulator: %v\n", err)
		return 1
	}
	return 0
}

// newRootCmd is the emulator command with the global logging flags and the check-dtdl command.
func newRootCmd(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	var logFormat, logLevel string
	root := newEmulatorCmd()
	root.Version = version.String()
	root.SilenceUsage = true
	root.SilenceErrors = true
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		return logging.Setup(stderr, logFormat, logLevel)
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&logFormat, "log-format", "text", "log format: text or json")
	root.PersistentFlags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	root.AddCommand(newCheckDTDLCmd())
	return root
}

func newCheckDTDLCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check-dtdl FILE",
		Short: "Validate a DTDL v2 document as IoT Central would on import",
		Long: `check-dtdl validates a DTDL v2 document (one Interface or an array of them, e.g. the output of
edgecam dtdl or a model exported from IoT Central) against the rules IoT Central enforces on
import: the DTDL v2 @context, valid and unique @ids, names, known element types, schemas and
length limits. It reports every problem, each with where it is in the document. FILE "-" reads
standard input.`,
		Example: `  edgecam dtdl --model-id 'dtmi:com:example:edgecam;1' | edgecam-emulator check-dtdl -`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCheckDTDL(cmd.OutOrStdout(), cmd.InOrStdin(), args[0])
		},
	}
}

func runCheckDTDL(stdout io.Writer, stdin io.Reader, path string) error {
	var (
		doc []byte
		err error
	)
	if path == "-" {
		doc, err = io.ReadAll(stdin)
	} else {
		doc, err = os.ReadFile(path)
	}
	if err != nil {
		return err
	}
	if err := dtdlcheck.Validate(doc); err != nil {
		return fmt.Errorf("%s is not a valid DTDL v2 model:\n%w", path, err)
	}
	names, err := dtdl.TelemetryNames(doc)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: valid DTDL v2 (%d telemetries)\n", path, len(names))
	return nil
}
