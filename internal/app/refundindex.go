package app

import (
	"context"

	syncer "omnihub/sync"
)

// The refund sink is also the sync engine's RefundIndex, so that
// reconciliation reports how many after-sales cases it had to create.
var _ syncer.RefundIndex = refundSink{}

// KnownRefunds implements syncer.RefundIndex.
func (r refundSink) KnownRefunds(ctx context.Context, shopID string, platformRefundIDs []string) (map[string]bool, error) {
	return r.s.KnownPlatformRefunds(ctx, shopID, platformRefundIDs)
}
