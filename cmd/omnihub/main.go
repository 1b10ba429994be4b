// Command omnihub is OmniHub's one binary: the server, migrations, the demo,
// benchmarks, simulators, checks and administration.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"omnihub/errs"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd(os.Getenv).ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", errs.MessageOf(err))
		if errs.CodeOf(err) == errs.Internal {
			fmt.Fprintln(os.Stderr, "detail:", err)
		}
		os.Exit(errs.ExitCode(errs.CodeOf(err)))
	}
}
