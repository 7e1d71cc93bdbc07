// Command edgecam turns a camera into a smart sensor: it scores frames with a YOLO model and sends
// per-label counts to Azure IoT Hub or IoT Central. See `edgecam --help`.
package main

import (
	"os"

	"github.com/edgecam/edgecam/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:]))
}
