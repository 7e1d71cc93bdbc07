package cli

import "github.com/spf13/cobra"

// TODO: placeholder until the emulator command lands.
func newEmulatorCmd() *cobra.Command {
	return &cobra.Command{Use: "emulator", Hidden: true, RunE: func(*cobra.Command, []string) error { return errNotYet }}
}
