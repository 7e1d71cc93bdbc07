package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/edgecam/edgecam/internal/config"
)

type configOptions struct {
	file string
	json bool
}

func newConfigCmd() *cobra.Command {
	o := &configOptions{}
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check a configuration and show the effective settings",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	check := &cobra.Command{
		Use:   "check --config FILE",
		Short: "Validate a configuration and print the effective settings with secrets masked",
		Long: `check loads the configuration exactly as ` + "`edgecam run`" + ` does (the YAML file, then the EDGECAM_*
environment variables, then defaults for what neither sets), validates every key and prints the
effective configuration with keys, passwords and URL credentials masked.

Every problem is listed, each with the key it concerns and how to fix it, and the exit status
is then 1. See docs/configuration.md for the keys.`,
		Example: `  edgecam config check --config /etc/edgecam/config.yaml
  EDGECAM_DETECTION__SCORETHRESHOLD=0.5 edgecam config check -c configs/demo.yaml --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runConfigCheck(cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	check.Flags().StringVarP(&o.file, "config", "c", "", "configuration file (YAML); without it only the environment is read")
	check.Flags().BoolVar(&o.json, "json", false, "print the effective configuration as JSON instead of YAML")
	cmd.AddCommand(check)
	return cmd
}

func runConfigCheck(stdout, stderr io.Writer, o *configOptions) error {
	cfg, err := config.Load(config.LoadOptions{File: o.file})
	if err != nil {
		var ve *config.ValidationError
		if !errors.As(err, &ve) {
			return err
		}
		fmt.Fprintf(stderr, "edgecam: %v\n", err)
		return errSilent
	}
	red := cfg.Redacted()
	var out []byte
	if o.json {
		out, err = red.JSON()
		out = append(out, '\n')
	} else {
		out, err = red.YAML()
	}
	if err != nil {
		return err
	}
	if _, err := stdout.Write(out); err != nil {
		return err
	}
	src := o.file
	if src == "" {
		src = "the environment"
	}
	conn := "a connection string"
	if cfg.Azure.DPS.Enabled() {
		conn = "DPS"
	}
	for _, w := range cfg.Warnings() {
		fmt.Fprintf(stderr, "edgecam: warning: %s\n", w)
	}
	fmt.Fprintf(stderr, "edgecam: %s is valid: %d camera(s), %s, model classes: %d from %s\n", src, len(cfg.Cameras), conn,
		len(cfg.Classes.Names()), cfg.Classes.Source())
	return nil
}
