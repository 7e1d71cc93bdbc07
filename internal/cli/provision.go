package cli

import "github.com/spf13/cobra"

// TODO: placeholder until the provision command lands.
func newProvisionCmd() *cobra.Command {
	return &cobra.Command{Use: "provision", Hidden: true, RunE: func(*cobra.Command, []string) error { return errNotYet }}
}
