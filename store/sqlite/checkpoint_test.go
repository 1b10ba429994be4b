package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"omnihub/store"
)

// The writer must never checkpoint inside a commit; the checkpointer copies
// the WAL back on its own connection.
func TestCheckpointerTakesWALOffTheWriter(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, Options{Path: filepath.Join(t.TempDir(), "ckpt.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	var auto int
	if err := db.writer.QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&auto); err != nil {
		t.Fatal(err)
	}
	if auto != 0 {
		t.Fatalf("writer wal_autocheckpoint = %d, want 0 (the checkpointer does it)", auto)
	}

	if _, err := db.Exec(ctx, `CREATE TABLE filler (id INTEGER PRIMARY KEY, pad TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("x", 3000)
	for i := 0; i < 20; i++ {
		err := db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			for j := 0; j < 100; j++ {
				if _, err := tx.Exec(ctx, `INSERT INTO filler (pad) VALUES ($1)`, pad); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for db.ckpt.copied.Load() < 2000 {
		if time.Now().After(deadline) {
			t.Fatalf("checkpointer copied %d frames after 2,000 rows of 3 KB; want at least 2,000", db.ckpt.copied.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	var n int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM filler`).Scan(&n); err != nil || n != 2000 {
		t.Fatalf("rows = %d (%v), want 2000", n, err)
	}
}
