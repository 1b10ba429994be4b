package store

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"omnihub/errs"
)

// Migration is one versioned schema change with its inverse.
type Migration struct {
	Version int
	Name    string
	Up      string
	Down    string
}

var migrationFile = regexp.MustCompile(`^(\d+)_([a-z0-9_]+)\.(up|down)\.sql$`)

// LoadMigrations reads NNNN_name.up.sql / NNNN_name.down.sql pairs from dir in
// fsys, sorted by version. Every up file needs its down file.
func LoadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	byVersion := map[int]*Migration{}
	for _, e := range entries {
		m := migrationFile.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		v, _ := strconv.Atoi(m[1])
		body, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		mig := byVersion[v]
		if mig == nil {
			mig = &Migration{Version: v, Name: m[2]}
			byVersion[v] = mig
		} else if mig.Name != m[2] {
			return nil, fmt.Errorf("migration %d has two names: %s and %s", v, mig.Name, m[2])
		}
		if m[3] == "up" {
			mig.Up = string(body)
		} else {
			mig.Down = string(body)
		}
	}
	out := make([]Migration, 0, len(byVersion))
	for _, m := range byVersion {
		if strings.TrimSpace(m.Up) == "" || strings.TrimSpace(m.Down) == "" {
			return nil, fmt.Errorf("migration %d_%s needs both up and down files", m.Version, m.Name)
		}
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Migrator applies migrations through a DB's transactions. Engines use it
// and add their own locking around it.
type Migrator struct {
	DB         DB
	Migrations []Migration
	// Exec runs a multi-statement script inside tx. Engines differ in how
	// they accept several statements at once.
	ExecScript func(ctx context.Context, tx Tx, script string) error
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS omnihub_migrations (
	version BIGINT PRIMARY KEY,
	name TEXT NOT NULL,
	applied_at TIMESTAMP NOT NULL
)`

func (m Migrator) ensureTable(ctx context.Context) error {
	if _, err := m.DB.Exec(ctx, createMigrationsTable); err != nil {
		return fmt.Errorf("create migrations table: %w", err)
	}
	return nil
}

// Status lists every known migration and whether it is applied.
func (m Migrator) Status(ctx context.Context) ([]MigrationStatus, error) {
	if err := m.ensureTable(ctx); err != nil {
		return nil, err
	}
	rows, err := m.DB.Query(ctx, `SELECT version, applied_at FROM omnihub_migrations`)
	if err != nil {
		return nil, fmt.Errorf("read applied migrations: %w", err)
	}
	defer rows.Close()
	applied := map[int]time.Time{}
	for rows.Next() {
		var v int
		var at time.Time
		if err := rows.Scan(&v, &at); err != nil {
			return nil, fmt.Errorf("scan migration: %w", err)
		}
		applied[v] = at
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]MigrationStatus, 0, len(m.Migrations))
	for _, mig := range m.Migrations {
		at, ok := applied[mig.Version]
		out = append(out, MigrationStatus{Version: mig.Version, Name: mig.Name, Applied: ok, AppliedAt: at})
	}
	return out, nil
}

// Run applies (Up) every pending migration, or rolls back (Down) the latest
// `steps` applied ones (steps <= 0 means one for Down, all for Up). It returns
// the migrations it ran.
func (m Migrator) Run(ctx context.Context, dir Direction, steps int) ([]MigrationStatus, error) {
	status, err := m.Status(ctx)
	if err != nil {
		return nil, err
	}
	var ran []MigrationStatus
	switch dir {
	case Up:
		for i, st := range status {
			if st.Applied {
				continue
			}
			if steps > 0 && len(ran) >= steps {
				break
			}
			mig := m.Migrations[i]
			err := m.DB.InTx(ctx, func(ctx context.Context, tx Tx) error {
				if err := m.ExecScript(ctx, tx, mig.Up); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, `INSERT INTO omnihub_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
					mig.Version, mig.Name, UTC(time.Now()))
				return err
			})
			if err != nil {
				return ran, fmt.Errorf("migration %d_%s up: %w", mig.Version, mig.Name, err)
			}
			ran = append(ran, MigrationStatus{Version: mig.Version, Name: mig.Name, Applied: true})
		}
	case Down:
		if steps <= 0 {
			steps = 1
		}
		for i := len(status) - 1; i >= 0 && len(ran) < steps; i-- {
			if !status[i].Applied {
				continue
			}
			mig := m.Migrations[i]
			err := m.DB.InTx(ctx, func(ctx context.Context, tx Tx) error {
				if err := m.ExecScript(ctx, tx, mig.Down); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, `DELETE FROM omnihub_migrations WHERE version = $1`, mig.Version)
				return err
			})
			if err != nil {
				return ran, fmt.Errorf("migration %d_%s down: %w", mig.Version, mig.Name, err)
			}
			ran = append(ran, MigrationStatus{Version: mig.Version, Name: mig.Name, Applied: false})
		}
	default:
		return nil, errs.E(errs.Invalid, "unknown migration direction %q", dir)
	}
	return ran, nil
}
