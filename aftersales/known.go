package aftersales

import (
	"context"
	"strconv"
	"strings"

	"omnihub/errs"
)

// knownChunk bounds the ids one lookup query carries.
const knownChunk = 500

// KnownPlatformRefunds returns which of a shop's platform refund ids already
// have a case. The sync engine's reconciliation asks it before applying the
// refunds it re-reads, to report the cases it had to create.
func (s *Service) KnownPlatformRefunds(ctx context.Context, shopID string, platformRefundIDs []string) (map[string]bool, error) {
	out := make(map[string]bool, len(platformRefundIDs))
	for len(platformRefundIDs) > 0 {
		n := min(len(platformRefundIDs), knownChunk)
		chunk := platformRefundIDs[:n]
		platformRefundIDs = platformRefundIDs[n:]
		args := make([]any, 0, n+1)
		args = append(args, shopID)
		ph := make([]string, n)
		for i, id := range chunk {
			args = append(args, id)
			ph[i] = "$" + strconv.Itoa(i+2)
		}
		rows, err := s.db.Query(ctx, `SELECT platform_refund_id FROM aftersales_cases
			WHERE shop_id = $1 AND platform_refund_id IN (`+strings.Join(ph, ",")+`)`, args...)
		if err != nil {
			return nil, errs.Wrap(err, errs.Internal, "look up platform refunds")
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, errs.Wrap(err, errs.Internal, "scan platform refund id")
			}
			out[id] = true
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, errs.Wrap(err, errs.Internal, "look up platform refunds")
		}
	}
	return out, nil
}
