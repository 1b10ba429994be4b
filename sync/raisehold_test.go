package sync

import (
	"context"
	"testing"
	"time"

	"omnihub/channel"
	"omnihub/store"
	"omnihub/store/storetest"
)

// While a shop has order messages OmniHub has not read, a push that would
// raise its channel waits (the channel has already sold units OmniHub has not
// seen); a cut goes at once; the raise goes once the messages are read, or
// once it has waited RaiseHold.
func TestRaisesHeldWhileOrderMessagesUnread(t *testing.T) {
	storetest.ForEachEngineWithJobs(t, jobCfg(), func(t *testing.T, db store.DB) {
		ctx := context.Background()
		r := newRig(t, db, Config{RaiseHold: 3 * time.Second})
		sh := r.addShop(t, "hold").ID
		channelQty := func(psku string) int64 {
			r.plat.mu.Lock()
			defer r.plat.mu.Unlock()
			return r.plat.qty[psku]
		}
		r.stock.set(ctx, t, db, r.e, sh, "sku-1", 10)
		eventually(t, "first value on the channel", 10*time.Second, func() bool { return channelQty("psku-1") == 10 })

		// An order message arrives and is not read yet.
		if _, err := db.Exec(ctx, `INSERT INTO sync_inbox (id, platform, shop_id, msg_id, kind, topic, ref_id, received_at, payload)
			VALUES ('in-1', $1, $2, 'm-unread', $3, 'order', 'O-1', $4, '{}')`,
			string(channel.Taobao), sh, string(channel.MsgOrderPaid), store.UTC(time.Now())); err != nil {
			t.Fatal(err)
		}
		r.stock.set(ctx, t, db, r.e, sh, "sku-1", 6) // a cut
		eventually(t, "the cut on the channel", 10*time.Second, func() bool { return channelQty("psku-1") == 6 })

		r.stock.set(ctx, t, db, r.e, sh, "sku-1", 9) // a raise
		time.Sleep(800 * time.Millisecond)
		if got := channelQty("psku-1"); got != 6 {
			t.Fatalf("raise pushed while an order message was unread: channel %d", got)
		}
		if p, _ := r.stock.PendingPushes(ctx, sh, 10); len(p) != 1 {
			t.Fatalf("held raise not pending: %+v", p)
		}

		// The message is read: the next round pushes the raise.
		if _, err := db.Exec(ctx, `UPDATE sync_inbox SET processed_at = $1 WHERE id = 'in-1'`, store.UTC(time.Now())); err != nil {
			t.Fatal(err)
		}
		r.stock.set(ctx, t, db, r.e, sh, "sku-2", 1) // any change starts a round
		eventually(t, "the raise after the messages were read", 10*time.Second, func() bool { return channelQty("psku-1") == 9 })

		// A raise held longer than RaiseHold goes anyway.
		if _, err := db.Exec(ctx, `INSERT INTO sync_inbox (id, platform, shop_id, msg_id, kind, topic, ref_id, received_at, payload)
			VALUES ('in-2', $1, $2, 'm-stuck', $3, 'order', 'O-2', $4, '{}')`,
			string(channel.Taobao), sh, string(channel.MsgOrderPaid), store.UTC(time.Now())); err != nil {
			t.Fatal(err)
		}
		r.stock.set(ctx, t, db, r.e, sh, "sku-1", 12)
		time.Sleep(500 * time.Millisecond)
		if got := channelQty("psku-1"); got != 9 {
			t.Fatalf("raise pushed at once despite the unread message: channel %d", got)
		}
		time.Sleep(3 * time.Second)
		r.stock.set(ctx, t, db, r.e, sh, "sku-2", 2)
		eventually(t, "the raise after RaiseHold", 10*time.Second, func() bool { return channelQty("psku-1") == 12 })
	})
}
