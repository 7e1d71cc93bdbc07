package cli

import "github.com/spf13/cobra"

// TODO: placeholder until the config command lands.
func newConfigCmd() *cobra.Command {
	return &cobra.Command{Use: "config", Hidden: true, RunE: func(*cobra.Command, []string) error { return errNotYet }}
}
