package postgres_test

import (
	"context"
	"testing"
	"time"

	"omnihub/store/postgres"
	"omnihub/store/storetest"
)

// A table that grows from empty is analyzed within seconds, not at
// autovacuum's pace (it checks once a minute): the planner then sees its
// real size. A table that barely changed is left alone.
func TestAnalyzerKeepsUpWithGrowth(t *testing.T) {
	url, schema := postgres.SplitSchema(storetest.FreshPostgresURL(t))
	ctx := context.Background()
	db, err := postgres.Open(ctx, postgres.Options{URL: url, Schema: schema, AnalyzeEvery: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		"CREATE TABLE grow (id bigint PRIMARY KEY, k text NOT NULL)",
		"CREATE TABLE small (id bigint PRIMARY KEY)",
		"INSERT INTO grow SELECT g, 'k' || g FROM generate_series(1, 5000) g",
		"INSERT INTO small SELECT g FROM generate_series(1, 10) g",
	} {
		if _, err := db.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	for {
		var analyzed bool
		var tuples float64
		if err := db.QueryRow(ctx, `SELECT s.last_analyze IS NOT NULL, c.reltuples FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
			WHERE s.schemaname = current_schema() AND s.relname = 'grow'`).Scan(&analyzed, &tuples); err != nil {
			t.Fatal(err)
		}
		if analyzed {
			if tuples != 5000 {
				t.Fatalf("grow analyzed with %v tuples, want 5000", tuples)
			}
			t.Logf("analyzed %v after the insert", time.Since(start).Round(time.Millisecond))
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatal("grow not analyzed 30 s after growing by 5,000 rows")
		}
		time.Sleep(50 * time.Millisecond)
	}
	var smallAnalyzed bool
	if err := db.QueryRow(ctx, `SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname = 'small'`).Scan(&smallAnalyzed); err != nil {
		t.Fatal(err)
	}
	if smallAnalyzed {
		t.Fatal("small (10 rows changed) was analyzed")
	}
}
