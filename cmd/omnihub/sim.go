package main

import "github.com/spf13/cobra"

// simCmd groups the platform simulators, each runnable on its own so that a
// merchant's IT person can try a connection before using real credentials.
func (c *cli) simCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sim PLATFORM",
		Short: "Run a platform simulator (for trials, tests and the demo)",
	}
	cmd.AddCommand(
		// one line per platform simulator
		c.simDouyinCmd(),
		c.simTaobaoCmd(),
	)
	return cmd
}
