package main

import (
	"github.com/spf13/cobra"

	"omnihub/internal/app"
)

func (c *cli) serveCmd() *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the API server and the job workers",
		Long: `Run the API server and the job workers until SIGINT or SIGTERM.

With no configuration it uses embedded SQLite in ./data and listens on
127.0.0.1:8080. On shutdown it stops accepting requests, lets in-flight
requests and running jobs finish, and exits 0.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := c.config(cmd)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("addr") {
				cfg.HTTP.Addr = addr
			}
			ctx := cmd.Context()
			a, err := app.New(ctx, cfg, c.logger(cfg), app.Options{RunWorkers: true, Migrate: true, ProcessID: app.DefaultProcessID()})
			if err != nil {
				return err
			}
			defer a.Close()
			return a.Serve(ctx, nil)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "", "listen address (default 127.0.0.1:8080)")
	return cmd
}

func (c *cli) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.Println("omnihub", app.Version)
			return nil
		},
	}
}
