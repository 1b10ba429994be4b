package scenario

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"omnihub/config"
	"omnihub/internal/app"
)

// Started is an OmniHub serving in this process.
type Started struct {
	App  *app.App
	URL  string
	stop context.CancelFunc
	done chan error
}

// Stop shuts OmniHub down gracefully and waits.
func (s *Started) Stop() error {
	s.stop()
	return <-s.done
}

// Start builds and serves an OmniHub for a scenario: jobs run in this
// process, migrations are applied, and the sync engine ticks every
// syncTick (the production default is 5 s).
func Start(ctx context.Context, cfg config.Config, logOut io.Writer, syncTick time.Duration, rec *Recorder) (*Started, error) {
	logger := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts := app.Options{RunWorkers: true, Migrate: true, ProcessID: app.DefaultProcessID(), SyncTick: syncTick}
	if rec != nil {
		opts.OnPropagation = rec.Propagation
	}
	a, err := app.New(ctx, cfg, logger, opts)
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- a.Serve(sctx, ready) }()
	select {
	case addr := <-ready:
		return &Started{App: a, URL: "http://" + addr, stop: cancel, done: done}, nil
	case err := <-done:
		cancel()
		return nil, fmt.Errorf("serve: %w", err)
	}
}
