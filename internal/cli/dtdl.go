package cli

import "github.com/spf13/cobra"

// TODO: placeholder until the dtdl command lands.
func newDTDLCmd() *cobra.Command {
	return &cobra.Command{Use: "dtdl", Hidden: true, RunE: func(*cobra.Command, []string) error { return errNotYet }}
}
