package cli

import "github.com/spf13/cobra"

// TODO: placeholder until the capture command lands.
func newCaptureCmd() *cobra.Command {
	return &cobra.Command{Use: "capture", Hidden: true, RunE: func(*cobra.Command, []string) error { return errNotYet }}
}
