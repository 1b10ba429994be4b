package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"omnihub/bench"
	"omnihub/errs"
	"omnihub/ids"
	"omnihub/inventory"
	"omnihub/store"
	"omnihub/store/postgres"
	"omnihub/store/sqlite"
)

// hotSKUScenario is the inventory group-commit benchmark on a fresh database.
func hotSKUScenario() bench.Scenario { return inventory.HotSKUScenario(openBenchDB) }

// openBenchDB opens a fresh, migrated database of env.Engine: a new SQLite
// file in env.DataDir, or a new schema in env.PostgresURL dropped afterwards.
func openBenchDB(ctx context.Context, env bench.Env) (store.DB, func(), error) {
	var (
		db   store.DB
		err  error
		drop func()
	)
	switch env.Engine {
	case "sqlite", "":
		db, err = sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(env.DataDir, "bench-"+ids.New()+".db")})
	case "postgres":
		schema := "bench_" + strings.ReplaceAll(ids.New(), "-", "")
		var pg *postgres.DB
		pg, err = postgres.Open(ctx, postgres.Options{URL: env.PostgresURL, Schema: schema, MaxConns: 16})
		if err == nil {
			db, drop = pg, func() { _ = pg.DropSchema(context.WithoutCancel(ctx)) }
		}
	default:
		return nil, nil, errs.E(errs.Invalid, "unknown engine %q (sqlite or postgres)", env.Engine)
	}
	if err != nil {
		return nil, nil, err
	}
	release := func() {
		if drop != nil {
			drop()
		}
		db.Close()
	}
	if _, err := db.Migrate(ctx, store.Up, 0); err != nil {
		release()
		return nil, nil, fmt.Errorf("migrate bench database: %w", err)
	}
	return db, release, nil
}
