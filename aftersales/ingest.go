package aftersales

import (
	"context"
	"errors"

	"omnihub/channel"
	"omnihub/errs"
	"omnihub/ids"
	"omnihub/store"
)

// Apply ingests one version of a platform after-sales case: it creates the
// case or advances it to where the platform says it is, with every step's
// effects, in one transaction. It is idempotent per (shop, platform refund
// id) and ordered by r.ModifiedAt: a version older than the one already
// applied changes nothing. A platform status behind the case (our answer
// not delivered yet) changes nothing either.
func (s *Service) Apply(ctx context.Context, shopID string, r channel.Refund) (Case, error) {
	if err := validateRefund(shopID, r); err != nil {
		return Case{}, err
	}
	var out Case
	run := func() error {
		return s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			c, found, err := loadByPlatformTx(ctx, tx, shopID, r.PlatformRefundID)
			if err != nil {
				return err
			}
			if !found {
				c, err = s.createFromPlatform(ctx, tx, shopID, r)
			} else {
				err = s.updateFromPlatform(ctx, tx, &c, r)
			}
			out = c
			return err
		})
	}
	err := run()
	if errors.Is(err, errCaseExists) {
		// Another process created it concurrently: apply as an update.
		err = run()
	}
	if err != nil {
		return Case{}, err
	}
	return out, nil
}

func validateRefund(shopID string, r channel.Refund) error {
	switch {
	case shopID == "":
		return errs.WithField("shop_id", "required")
	case r.PlatformRefundID == "":
		return errs.WithField("platform_refund_id", "required")
	case r.PlatformOrderID == "":
		return errs.WithField("platform_order_id", "required")
	case r.ModifiedAt.IsZero():
		return errs.WithField("modified_at", "required: platform versions are ordered by it")
	case r.Amount < 0:
		return errs.WithField("amount", "must not be negative")
	case r.Quantity < 0:
		return errs.WithField("quantity", "must not be negative")
	}
	return nil
}

func (s *Service) createFromPlatform(ctx context.Context, tx store.Tx, shopID string, r channel.Refund) (Case, error) {
	t, err := TypeFromPlatform(r.Kind)
	if err != nil {
		return Case{}, err
	}
	target, err := StateFromPlatform(t, r.Status)
	if err != nil {
		return Case{}, err
	}
	now := s.now()
	mod := store.UTC(r.ModifiedAt)
	c := Case{
		ID: ids.New(), ShopID: shopID, PlatformRefundID: r.PlatformRefundID, PlatformOrderID: r.PlatformOrderID,
		Type: t, State: Requested, Reason: r.Reason, Evidence: r.Description, RefundAmount: r.Amount,
		Currency: "CNY", GoodsShipped: r.GoodsShipped, ReturnCarrier: r.ReturnCarrier, ReturnTrackingNo: r.ReturnTrackingNo,
		PlatformStatus: r.PlatformStatus, PlatformModified: &mod, CreatedAt: now, UpdatedAt: now, StateSince: now,
	}
	if err := s.linkOrder(ctx, tx, &c, r.PlatformLineID, r.Quantity); err != nil {
		return c, err
	}
	wantNote, err := s.exchangeSKU(ctx, tx, &c, r)
	if err != nil {
		return c, err
	}
	// Shipped when it was asked: the platform's flag or the order's state.
	if c.GoodsShipped, err = s.shippedTx(ctx, tx, &c); err != nil {
		return c, err
	}
	if err := insertCaseTx(ctx, tx, &c); err != nil {
		return c, err
	}
	if err := addEventTx(ctx, tx, c.ID, Event{At: now, Actor: ActorPlatform, Action: ActCreate, To: Requested, Note: describeRefund(r) + wantNote}); err != nil {
		return c, err
	}
	if err := s.markRefunding(WithCause(ctx, Cause{CaseID: c.ID, Actor: ActorPlatform, Action: ActCreate}), tx, &c); err != nil {
		return c, err
	}
	if target == Requested {
		if err := s.autoApprove(ctx, tx, &c); err != nil {
			return c, err
		}
	} else if err := s.advance(ctx, tx, &c, target, r); err != nil {
		return c, err
	}
	return c, updateCaseTx(ctx, tx, &c)
}

func (s *Service) updateFromPlatform(ctx context.Context, tx store.Tx, c *Case, r channel.Refund) error {
	mod := store.UTC(r.ModifiedAt)
	if c.PlatformModified != nil && mod.Before(*c.PlatformModified) {
		return nil // an older version delivered late
	}
	if c.PlatformModified != nil && mod.Equal(*c.PlatformModified) && c.PlatformStatus == r.PlatformStatus {
		return nil // the same version again
	}
	target, err := StateFromPlatform(c.Type, r.Status)
	if err != nil {
		return err
	}
	c.PlatformModified = &mod
	c.PlatformStatus = r.PlatformStatus
	c.UpdatedAt = s.now()
	if r.ReturnTrackingNo != "" && c.ReturnTrackingNo == "" {
		c.ReturnCarrier, c.ReturnTrackingNo = r.ReturnCarrier, r.ReturnTrackingNo
	}
	if r.ReplacementTrackingNo != "" && c.ShipTrackingNo == "" {
		c.ShipCarrier, c.ShipTrackingNo = r.ReplacementCarrier, r.ReplacementTrackingNo
	}
	if c.State == Requested {
		// The buyer may edit the request while it waits.
		c.RefundAmount, c.Reason = r.Amount, r.Reason
		if r.Description != "" {
			c.Evidence = r.Description
		}
	}
	before := c.State
	if err := s.advance(ctx, tx, c, target, r); err != nil {
		return err
	}
	if c.State == before {
		if err := addEventTx(ctx, tx, c.ID, Event{At: c.UpdatedAt, Actor: ActorPlatform, Action: ActPlatform,
			From: before, To: before, Note: describeRefund(r)}); err != nil {
			return err
		}
	}
	return updateCaseTx(ctx, tx, c)
}

// advance walks the case forward to the platform's state, taking each
// intermediate step (with its effects) as the platform's. Targets behind the
// case are ignored.
func (s *Service) advance(ctx context.Context, tx store.Tx, c *Case, target State, r channel.Refund) error {
	note := describeRefund(r)
	do := func(a Action) error { return s.step(ctx, tx, c, a, ActorPlatform, note, true) }
	approve := func() error {
		if c.State != Requested {
			return nil
		}
		if err := do(ActApprove); err != nil {
			return err
		}
		if c.Type.Returns() {
			return do(ActAwaitReturn)
		}
		return nil
	}
	switch target {
	case Requested:
		if c.State == Refused {
			return do(ActReopen)
		}
	case Approved:
		// The seller agreed on the platform (its back office); the
		// replacement of a reship is reserved by the approval.
		return approve()
	case AwaitingReturn:
		if err := approve(); err != nil {
			return err
		}
		if c.State == Approved && c.Type.Returns() {
			return do(ActAwaitReturn)
		}
	case ReturnInTransit:
		if err := approve(); err != nil {
			return err
		}
		if c.State == Approved && c.Type.Returns() {
			if err := do(ActAwaitReturn); err != nil {
				return err
			}
		}
		if c.State == AwaitingReturn {
			return do(ActReturnShipped)
		}
	case Refused:
		if c.State == Requested {
			c.RefuseReason = r.Reason
			return do(ActRefuse)
		}
	case Refunded:
		if err := approve(); err != nil {
			return err
		}
		switch c.State {
		case Approved, AwaitingReturn, ReturnInTransit, Received, QCDone, Restocked:
			return do(ActRefund)
		}
	case ExchangeShipped, Reshipped:
		// The platform settled it; the replacement still leaves from our
		// warehouse, so only make sure it is approved.
		return approve()
	case Cancelled:
		switch {
		case c.State.Open():
			return do(ActCancel)
		case c.State == Refused || c.State == Refunded || c.State == ExchangeShipped || c.State == Reshipped:
			return do(ActClose)
		}
	}
	return nil
}
