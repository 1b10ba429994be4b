package order

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"omnihub/channel"
	"omnihub/store"
	"omnihub/store/storetest"
)

// batchResolver is fakeResolver with the batch method, counting calls.
type batchResolver struct {
	*fakeResolver
	many, single atomic.Int64
}

func (b *batchResolver) ResolveTx(ctx context.Context, tx store.Tx, shopID, item, psku, outer string) (string, bool, error) {
	b.single.Add(1)
	return b.fakeResolver.ResolveTx(ctx, tx, shopID, item, psku, outer)
}

func (b *batchResolver) ResolveManyTx(ctx context.Context, tx store.Tx, shopID string, refs []ListingRef) (map[ListingRef]string, error) {
	b.many.Add(1)
	out := map[ListingRef]string{}
	for _, r := range refs {
		if id, ok, _ := b.fakeResolver.ResolveTx(ctx, tx, shopID, r.PlatformItemID, r.PlatformSKUID, r.OuterCode); ok {
			out[r] = id
		}
	}
	return out, nil
}

// A batch resolves its lines with one ResolveManyTx call when the resolver
// has it, and each line still gets its SKU (or the order its exception).
func TestBatchResolvesLinesAtOnce(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		e := newEnv(t, db)
		br := &batchResolver{fakeResolver: &fakeResolver{bindings: map[string]string{"PS-B": "SKU-B"}}}
		e.svc.SetResolver(br)
		var in []channel.Order
		for i := range 30 {
			in = append(in, mk(fmt.Sprintf("RM-%d", i), t0, func(o *channel.Order) {
				switch i % 3 {
				case 0: // bound listing
					o.Lines[0].PlatformSKUID, o.Lines[0].OuterSKUID = "PS-B", ""
				case 1: // unbound and no code the fake knows (autoCode off)
					o.Lines[0].PlatformSKUID = "PS-X"
				}
			}))
		}
		res, err := e.svc.IngestBatch(context.Background(), "shop1", in)
		if err != nil {
			t.Fatal(err)
		}
		if br.many.Load() != 1 || br.single.Load() != 0 {
			t.Fatalf("ResolveManyTx called %d times, ResolveTx %d; want 1 and 0", br.many.Load(), br.single.Load())
		}
		for i, r := range res {
			o := e.order(t, r.OrderID)
			switch i % 3 {
			case 0:
				if o.Status != Approved || o.Lines[0].SKUID != "SKU-B" {
					t.Errorf("order %d: %s line SKU %q, want approved with SKU-B", i, o.Status, o.Lines[0].SKUID)
				}
			default:
				if o.Status != Exception || o.Lines[0].SKUID != "" {
					t.Errorf("order %d: %s line SKU %q, want an unbound-SKU exception", i, o.Status, o.Lines[0].SKUID)
				}
			}
		}
	})
}
