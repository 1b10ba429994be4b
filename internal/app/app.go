// Package app is OmniHub's composition root: configuration in, a running
// process out. It opens the storage engine, builds the domain services,
// registers their job workers and HTTP routes, and owns the process
// lifecycle (start, graceful shutdown). Nothing else wires packages together.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"omnihub/aftersales"
	"omnihub/api"
	"omnihub/auth"
	"omnihub/catalog"
	"omnihub/config"
	"omnihub/errs"
	"omnihub/inventory"
	"omnihub/jobs"
	"omnihub/order"
	"omnihub/shop"
	"omnihub/store"
	"omnihub/store/postgres"
	"omnihub/store/sqlite"
	syncer "omnihub/sync"
)

// Version is set at build time (-ldflags "-X omnihub/internal/app.Version=…").
var Version = "dev"

// App is a configured OmniHub process.
type App struct {
	Config     config.Config
	Log        *slog.Logger
	DB         store.DB
	Registry   *prometheus.Registry
	API        *api.Server
	Auth       *auth.Service
	Aftersales *aftersales.Service
	Orders     *order.Service
	Catalog    *catalog.Service
	Inventory  *inventory.Service
	Shops      *shop.Service
	Sync       *syncer.Engine
}

// Options tune what New builds.
type Options struct {
	// RunWorkers processes jobs in this process (serve, demo); CLI commands
	// leave it false and only enqueue.
	RunWorkers bool
	// Migrate applies pending migrations on open (serve, demo).
	Migrate bool
	// ProcessID names this process among several sharing a database.
	ProcessID string
	// SyncTick overrides how often the sync engine schedules per-shop work
	// (default 5s; the demo and tests use less).
	SyncTick time.Duration
	// OnPropagation receives each stock change's mark-to-channel latency
	// (benchmarks and the demo).
	OnPropagation func(time.Duration)
	// SyncPlatformRate overrides the sync engine's calls per second per
	// platform app (default 50; benchmarks model a larger app quota).
	SyncPlatformRate float64
}

// NewLogger builds the structured logger the configuration asks for.
func NewLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level))
	hopts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "text" {
		return slog.New(slog.NewTextHandler(w, hopts))
	}
	return slog.New(slog.NewJSONHandler(w, hopts))
}

// OpenDB opens the configured engine.
func OpenDB(ctx context.Context, cfg config.Config, opts Options) (store.DB, error) {
	jc := jobs.Config{
		RunWorkers:  opts.RunWorkers,
		MaxWorkers:  cfg.Jobs.Workers,
		MaxAttempts: cfg.Jobs.MaxAttempts,
		BackoffBase: cfg.Jobs.BackoffBase,
		BackoffMax:  cfg.Jobs.BackoffMax,
		ID:          opts.ProcessID,
	}
	var (
		db  store.DB
		err error
	)
	if cfg.IsPostgres() {
		u, schema := postgres.SplitSchema(cfg.DB)
		db, err = postgres.Open(ctx, postgres.Options{URL: u, Schema: schema, Jobs: jc})
	} else {
		db, err = sqlite.Open(ctx, sqlite.Options{Path: cfg.SQLitePath(), Jobs: jc})
	}
	if err != nil {
		return nil, err
	}
	if opts.Migrate {
		if _, err := db.Migrate(ctx, store.Up, 0); err != nil {
			db.Close()
			return nil, errs.Wrap(err, errs.Unavailable, "migrate database")
		}
	}
	return db, nil
}

// New builds the application.
func New(ctx context.Context, cfg config.Config, logger *slog.Logger, opts Options) (*App, error) {
	db, err := OpenDB(ctx, cfg, opts)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a := &App{Config: cfg, Log: logger, DB: db, Registry: reg}
	a.API = api.New(api.Options{
		Logger: logger, Registry: reg, DB: db, MaxBodyBytes: cfg.HTTP.MaxBodyBytes, Version: Version,
	})
	a.wireAuth()
	a.wireOrders()
	a.wireCatalog()
	a.wireInventory()
	if err := a.wireShops(); err != nil {
		db.Close()
		return nil, err
	}
	a.wireAftersales(AftersalesDeps{Stock: AftersalesStock(a.Inventory), Orders: a.orderEffects(), Responder: syncResponder{a},
		SKUs: a.Catalog, ReturnAddress: ReturnAddress(cfg.Aftersales.ReturnAddress)})
	a.wireSync(opts)
	a.Inventory.SetOnMarked(a.Sync.OnMarkedTx)
	return a, nil
}

// Close releases the database.
func (a *App) Close() error { return a.DB.Close() }

// Serve runs the HTTP server and the job workers until ctx is cancelled, then
// shuts down gracefully: the listener closes, in-flight requests and running
// jobs finish (within the shutdown timeout), and the database is closed.
// ready, when not nil, receives the listening address once serving.
func (a *App) Serve(ctx context.Context, ready chan<- string) error {
	ln, err := net.Listen("tcp", a.Config.HTTP.Addr)
	if err != nil {
		return errs.Wrap(err, errs.Unavailable, "listen on %s", a.Config.HTTP.Addr)
	}
	srv := &http.Server{
		Handler:           a.API.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       a.Config.HTTP.ReadTimeout,
		WriteTimeout:      a.Config.HTTP.WriteTimeout,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
	}
	if a.Sync != nil {
		// The sync member's heartbeat (its share of the platform rate) and
		// call-count flushes run until Stop, after the jobs have drained.
		a.Sync.Start(context.WithoutCancel(ctx))
	}
	if err := a.DB.Jobs().Start(ctx); err != nil {
		ln.Close()
		if a.Sync != nil {
			_ = a.Sync.Stop(context.WithoutCancel(ctx))
		}
		return err
	}
	if a.Sync != nil {
		go a.Sync.WatchDeadLetters(ctx, a.DB.Jobs())
	}
	errc := make(chan error, 1)
	go func() {
		if a.Config.HTTP.TLSCert != "" {
			errc <- srv.ServeTLS(ln, a.Config.HTTP.TLSCert, a.Config.HTTP.TLSKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	addr := ln.Addr().String()
	a.Log.Info("omnihub serving", "addr", addr, "engine", a.DB.Engine(), "version", Version, "tls", a.Config.HTTP.TLSCert != "")
	if ready != nil {
		ready <- addr
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	a.Log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.Config.HTTP.ShutdownTimeout)
	defer cancel()
	shutErr := srv.Shutdown(shutCtx)
	jobErr := a.DB.Jobs().Stop(shutCtx)
	if a.Sync != nil {
		// Counts for the alerts only: a failure is logged, not fatal.
		if err := a.Sync.Stop(shutCtx); err != nil {
			a.Log.Warn("stop sync member", "err", err)
		}
	}
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	if err := errors.Join(serveErr, shutErr, jobErr); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	a.Log.Info("stopped")
	return nil
}

// Hostname-based default process id.
func DefaultProcessID() string {
	h, _ := os.Hostname()
	return fmt.Sprintf("%s-%d", h, os.Getpid())
}
