package sync

import (
	"context"
	"fmt"
	"testing"
	"time"

	"omnihub/store"
	"omnihub/store/storetest"
)

// Records past their retention are pruned by the tick's housekeeping, the
// newer kept; an unprocessed message is kept however old; a negative
// retention keeps for ever.
func TestRetentionPrunesOldRecords(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
		day := 24 * time.Hour
		idAt := func(at time.Time, n int) string {
			// A UUIDv7 of that millisecond (the floor plus a counter).
			f := uuidV7Floor(at)
			return f[:len(f)-12] + fmt.Sprintf("%012x", n+1)
		}
		exec := func(q string, args ...any) {
			t.Helper()
			if _, err := db.Exec(ctx, q, args...); err != nil {
				t.Fatal(err)
			}
		}
		for i, age := range []time.Duration{40 * day, 20 * day, 10 * day, time.Hour} {
			at := store.UTC(now.Add(-age))
			var processed any = at
			exec(`INSERT INTO sync_inbox (id, platform, shop_id, msg_id, kind, topic, ref_id, received_at, payload, processed_at)
				VALUES ($1, 'taobao', 's', $2, 'order', 't', 'o', $3, '{}', $4)`, idAt(at, i), fmt.Sprint("m", i), at, processed)
			exec(`INSERT INTO sync_push_log (id, shop_id, sku_id, platform_sku_id, quantity, version, ok, error, pushed_at)
				VALUES ($1, 's', 'k', 'p', 1, 1, TRUE, '', $2)`, idAt(at, i), at)
			exec(`INSERT INTO sync_alerts (id, at, kind, shop_id, dedup_key, message) VALUES ($1, $2, 'k', 's', $3, 'm')`, idAt(at, i), at, fmt.Sprint("d", i))
		}
		old := store.UTC(now.Add(-200 * day))
		exec(`INSERT INTO sync_inbox (id, platform, shop_id, msg_id, kind, topic, ref_id, received_at, payload)
			VALUES ($1, 'taobao', 's', 'stuck', 'order', 't', 'o', $2, '{}')`, idAt(old, 9), old)
		exec(`INSERT INTO sync_alerts (id, at, kind, shop_id, dedup_key, message) VALUES ($1, $2, 'k', 's', 'old', 'm')`, idAt(old, 9), old)

		e := New(Config{Retention: RetentionConfig{Messages: 30 * day, PushLog: 14 * day, Reports: -1}}, Deps{DB: db, Now: func() time.Time { return now }})
		n, err := e.pruneRecords(ctx)
		if err != nil {
			t.Fatal(err)
		}
		count := func(q string) int64 { return countRows(t, db, q) }
		if got := count(`SELECT COUNT(*) FROM sync_inbox`); got != 4 {
			t.Fatalf("inbox: %d messages left, want 4 (the 40-day-old processed one pruned, the unprocessed 200-day-old kept)", got)
		}
		if got := count(`SELECT COUNT(*) FROM sync_inbox WHERE msg_id = 'stuck'`); got != 1 {
			t.Fatal("an unprocessed message was pruned")
		}
		if got := count(`SELECT COUNT(*) FROM sync_push_log`); got != 2 {
			t.Fatalf("push log: %d rows left, want 2 (10 days and 1 hour old)", got)
		}
		if got := count(`SELECT COUNT(*) FROM sync_alerts`); got != 5 {
			t.Fatalf("alerts: %d left, want all 5 (kept for ever)", got)
		}
		if n != 3 {
			t.Fatalf("pruned %d rows, want 3", n)
		}
		// Chunks: more than one statement's worth goes in one pass.
		for i := range pruneChunk + 10 {
			at := store.UTC(now.Add(-20 * day))
			exec(`INSERT INTO sync_push_log (id, shop_id, sku_id, platform_sku_id, quantity, version, ok, error, pushed_at)
				VALUES ($1, 's', 'k', 'p', 1, 1, TRUE, '', $2)`, idAt(at, 100+i), at)
		}
		if n, err = e.pruneRecords(ctx); err != nil || n != pruneChunk+10 {
			t.Fatalf("second pass pruned %d (%v), want %d", n, err, pruneChunk+10)
		}
	})
}

// uuidV7Floor sorts below every id made at or after its time and above
// every id made before.
func TestUUIDv7Floor(t *testing.T) {
	at := time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC)
	f := uuidV7Floor(at)
	if len(f) != 36 || f[14] != '7' {
		t.Fatalf("floor %q is not a UUIDv7", f)
	}
	before, after := uuidV7Floor(at.Add(-time.Millisecond)), uuidV7Floor(at.Add(time.Millisecond))
	if !(before < f && f < after) {
		t.Fatalf("floors out of order: %s %s %s", before, f, after)
	}
}
