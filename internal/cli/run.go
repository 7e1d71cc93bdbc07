package cli

import "github.com/spf13/cobra"

// TODO: placeholder until the run command lands.
func newRunCmd() *cobra.Command {
	return &cobra.Command{Use: "run", Hidden: true, RunE: func(*cobra.Command, []string) error { return errNotYet }}
}
