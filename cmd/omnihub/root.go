package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"omnihub/config"
	"omnihub/internal/app"
)

// globalFlags are the flags every command accepts; set ones override the
// configuration file and the environment.
type globalFlags struct {
	configPath string
	db         string
	dataDir    string
	logLevel   string
	logFormat  string
}

type cli struct {
	getenv func(string) string
	flags  globalFlags
	root   *cobra.Command
}

func newRootCmd(getenv func(string) string) *cobra.Command {
	c := &cli{getenv: getenv}
	root := &cobra.Command{
		Use:           "omnihub",
		Short:         "OmniHub: the e-commerce back office and omnichannel integration hub",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	c.root = root
	pf := root.PersistentFlags()
	pf.StringVar(&c.flags.configPath, "config", "", "configuration file (default ./omnihub.yaml if present)")
	pf.StringVar(&c.flags.db, "db", "", "database: a postgres:// URL, or a SQLite file path (default <data-dir>/omnihub.db)")
	pf.StringVar(&c.flags.dataDir, "data-dir", "", "directory for embedded data (default ./data)")
	pf.StringVar(&c.flags.logLevel, "log-level", "", "debug, info, warn or error")
	pf.StringVar(&c.flags.logFormat, "log-format", "", "json or text")
	root.AddCommand(
		c.serveCmd(),
		c.demoCmd(),
		c.deadLettersCmd(),
		c.shopCmd(),
		c.migrateCmd(),
		c.versionCmd(),
		c.benchCmd(),
		c.simCmd(),
		c.userCmd(), c.tokenCmd(),
		c.aftersalesCmd(),
		c.ordersCmd(), c.exceptionsCmd(),
		c.catalogCmd(),
		c.stockCmd(), c.checkCmd(),
	)
	return root
}

// config loads the configuration with flag overrides applied.
func (c *cli) config(cmd *cobra.Command) (config.Config, error) {
	cfg, err := config.Load(c.flags.configPath, c.getenv)
	if err != nil {
		return cfg, err
	}
	set := func(name string, dst *string, v string) {
		if cmd.Flags().Changed(name) {
			*dst = v
		}
	}
	set("db", &cfg.DB, c.flags.db)
	set("data-dir", &cfg.DataDir, c.flags.dataDir)
	set("log-level", &cfg.Log.Level, c.flags.logLevel)
	set("log-format", &cfg.Log.Format, c.flags.logFormat)
	return cfg, cfg.Validate()
}

func (c *cli) logger(cfg config.Config) *slog.Logger {
	return app.NewLogger(cfg.Log, os.Stderr)
}

// openApp builds the application for a command.
func (c *cli) openApp(ctx context.Context, cmd *cobra.Command, opts app.Options) (*app.App, error) {
	cfg, err := c.config(cmd)
	if err != nil {
		return nil, err
	}
	return app.New(ctx, cfg, c.logger(cfg), opts)
}
