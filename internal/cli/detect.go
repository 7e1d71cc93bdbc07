package cli

import "github.com/spf13/cobra"

// TODO: placeholder until the detect command lands.
func newDetectCmd() *cobra.Command {
	return &cobra.Command{Use: "detect", Hidden: true, RunE: func(*cobra.Command, []string) error { return errNotYet }}
}
