package aftersales

import (
	"context"
	"strconv"
	"strings"

	"omnihub/errs"
	"omnihub/ids"
	"omnihub/store"
)

// NewCase is a case opened by hand (a buyer who called, a parcel lost in
// transit that needs a reship).
type NewCase struct {
	ShopID          string `json:"shop_id"`
	PlatformOrderID string `json:"platform_order_id"`
	Type            Type   `json:"type"`
	Reason          string `json:"reason"`
	Evidence        string `json:"evidence,omitempty"`
	RefundAmount    int64  `json:"refund_amount"`
	WarehouseID     string `json:"warehouse_id,omitempty"`
	// Lines name order lines (order_line or platform_line_id) with the
	// quantity concerned; new_sku_id for exchanges. Empty: the whole order.
	Lines []Line `json:"lines,omitempty"`
}

// Validate checks a new case.
func (n NewCase) Validate() error {
	e := errs.E(errs.Invalid, "invalid after-sales case")
	if n.ShopID == "" {
		e.WithField("shop_id", "required")
	}
	if n.PlatformOrderID == "" {
		e.WithField("platform_order_id", "required")
	}
	if !n.Type.Valid() {
		e.WithField("type", "must be one of refund_only, return_refund, exchange, reship")
	}
	if strings.TrimSpace(n.Reason) == "" {
		e.WithField("reason", "required")
	}
	if n.RefundAmount < 0 {
		e.WithField("refund_amount", "must not be negative")
	}
	if (n.Type == Exchange || n.Type == Reship) && n.RefundAmount != 0 {
		e.WithField("refund_amount", "must be 0 for exchanges and reships")
	}
	for _, l := range n.Lines {
		if l.Qty <= 0 {
			e.WithField("lines", "every line needs a positive qty")
		}
		if l.Amount < 0 {
			e.WithField("lines", "amounts must not be negative")
		}
		if l.OrderLine == 0 && l.PlatformLineID == "" {
			e.WithField("lines", "every line names order_line or platform_line_id")
		}
	}
	if len(e.Fields) > 0 {
		return e
	}
	return nil
}

// Create opens a case by hand. Auto-approval rules apply to it as to
// platform cases.
func (s *Service) Create(ctx context.Context, n NewCase, actor string) (Case, error) {
	actor, err := normActor(actor)
	if err != nil {
		return Case{}, err
	}
	if err := n.Validate(); err != nil {
		return Case{}, err
	}
	var out Case
	err = s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		now := s.now()
		c := Case{
			ID: ids.New(), ShopID: n.ShopID, PlatformOrderID: n.PlatformOrderID, Type: n.Type, State: Requested,
			Reason: n.Reason, Evidence: n.Evidence, RefundAmount: n.RefundAmount, Currency: "CNY",
			WarehouseID: n.WarehouseID, Lines: append([]Line(nil), n.Lines...), CreatedAt: now, UpdatedAt: now, StateSince: now,
		}
		if err := s.linkOrder(ctx, tx, &c, "", 0); err != nil {
			if errs.Is(err, errs.Unavailable) && s.opts.Orders != nil {
				return errs.E(errs.NotFound, "order %s of shop %s not found", n.PlatformOrderID, n.ShopID).WithField("platform_order_id", "unknown order")
			}
			return err
		}
		for _, l := range c.Lines {
			if l.SKUID == "" {
				return errs.E(errs.Invalid, "line %d matches no line of order %s", l.No, n.PlatformOrderID).WithField("lines", "unknown order line")
			}
		}
		shipped, err := s.shippedTx(ctx, tx, &c)
		if err != nil {
			return err
		}
		c.GoodsShipped = shipped
		if err := insertCaseTx(ctx, tx, &c); err != nil {
			return err
		}
		if err := addEventTx(ctx, tx, c.ID, Event{At: now, Actor: actor, Action: ActCreate, To: Requested, Note: n.Reason}); err != nil {
			return err
		}
		if err := s.markRefunding(WithCause(ctx, Cause{CaseID: c.ID, Actor: actor, Action: ActCreate}), tx, &c); err != nil {
			return err
		}
		if err := s.autoApprove(ctx, tx, &c); err != nil {
			return err
		}
		out = c
		return updateCaseTx(ctx, tx, &c)
	})
	return out, err
}

// act runs one person's action on a case in a transaction.
func (s *Service) act(ctx context.Context, id, actor string, fn func(ctx context.Context, tx store.Tx, c *Case, actor string) error) (Case, error) {
	actor, err := normActor(actor)
	if err != nil {
		return Case{}, err
	}
	var out Case
	err = s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		c, err := loadTx(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := fn(ctx, tx, &c, actor); err != nil {
			return err
		}
		out = c
		return updateCaseTx(ctx, tx, &c)
	})
	return out, err
}

// approveTx approves and, for return types, moves on to waiting for the goods.
func (s *Service) approveTx(ctx context.Context, tx store.Tx, c *Case, actor, note string) error {
	if err := s.step(ctx, tx, c, ActApprove, actor, note, false); err != nil {
		return err
	}
	if c.Type.Returns() {
		return s.step(ctx, tx, c, ActAwaitReturn, actor, "", false)
	}
	return nil
}

// Approve agrees to the case (sent to the platform as a durable job).
func (s *Service) Approve(ctx context.Context, id, actor, note string) (Case, error) {
	return s.ApproveWith(ctx, id, actor, Approval{Note: note})
}

// Replacement names the SKU to send for one line of an exchange (or reship).
type Replacement struct {
	Line     int64  `json:"line"`
	NewSKUID string `json:"new_sku_id"`
}

// Approval is a person's approval with what the warehouse needs to know.
type Approval struct {
	Note string `json:"note,omitempty"`
	// WarehouseID receives the return and ships the replacement (default:
	// the order line's warehouse, else the service default).
	WarehouseID string `json:"warehouse_id,omitempty"`
	// Replacements set the SKU sent per line (platform exchanges arrive
	// without one; default is the same SKU).
	Replacements []Replacement `json:"replacements,omitempty"`
}

// ApproveWith approves a case, first setting its warehouse and replacement
// SKUs; the replacement is reserved in the same transaction.
func (s *Service) ApproveWith(ctx context.Context, id, actor string, a Approval) (Case, error) {
	return s.act(ctx, id, actor, func(ctx context.Context, tx store.Tx, c *Case, actor string) error {
		if a.WarehouseID != "" {
			c.WarehouseID = a.WarehouseID
		}
		if len(a.Replacements) > 0 {
			if c.Type != Exchange && c.Type != Reship {
				return errs.WithField("replacements", "only exchanges and reships send goods")
			}
			for _, r := range a.Replacements {
				found := false
				for i := range c.Lines {
					if c.Lines[i].No == r.Line {
						c.Lines[i].NewSKUID, found = r.NewSKUID, true
					}
				}
				if !found || strings.TrimSpace(r.NewSKUID) == "" {
					return errs.WithField("replacements", "each names a line of the case and a new_sku_id")
				}
			}
			if err := replaceLinesTx(ctx, tx, c); err != nil {
				return err
			}
		}
		return s.approveTx(ctx, tx, c, actor, a.Note)
	})
}

// Refuse refuses the case with a reason (sent to the platform).
func (s *Service) Refuse(ctx context.Context, id, actor, reason string) (Case, error) {
	if strings.TrimSpace(reason) == "" {
		return Case{}, errs.WithField("reason", "required when refusing")
	}
	return s.act(ctx, id, actor, func(ctx context.Context, tx store.Tx, c *Case, actor string) error {
		c.RefuseReason = reason
		return s.step(ctx, tx, c, ActRefuse, actor, reason, false)
	})
}

// ReturnShipped records the buyer's return parcel.
func (s *Service) ReturnShipped(ctx context.Context, id, actor, carrier, trackingNo string) (Case, error) {
	if strings.TrimSpace(trackingNo) == "" {
		return Case{}, errs.WithField("tracking_no", "required")
	}
	return s.act(ctx, id, actor, func(ctx context.Context, tx store.Tx, c *Case, actor string) error {
		c.ReturnCarrier, c.ReturnTrackingNo = carrier, trackingNo
		return s.step(ctx, tx, c, ActReturnShipped, actor, carrier+" "+trackingNo, false)
	})
}

// Receive records the return parcel's arrival at the warehouse.
func (s *Service) Receive(ctx context.Context, id, actor, note string) (Case, error) {
	return s.act(ctx, id, actor, func(ctx context.Context, tx store.Tx, c *Case, actor string) error {
		return s.step(ctx, tx, c, ActReceive, actor, note, false)
	})
}

// QCInput is one inspected unit.
type QCInput struct {
	Line   int64    `json:"line"`
	Result QCResult `json:"result"`
	Note   string   `json:"note,omitempty"`
}

// QC records the inspection of every returned unit (one input per unit;
// the number of units per line must equal the line's quantity).
func (s *Service) QC(ctx context.Context, id, actor string, units []QCInput) (Case, error) {
	if len(units) == 0 {
		return Case{}, errs.WithField("units", "required: one result per returned unit")
	}
	return s.act(ctx, id, actor, func(ctx context.Context, tx store.Tx, c *Case, actor string) error {
		if _, err := Next(c.Type, c.State, ActQC, false); err != nil {
			return err
		}
		count := map[int64]int64{}
		var good, bad int
		now := s.now()
		for _, u := range units {
			var line *Line
			for i := range c.Lines {
				if c.Lines[i].No == u.Line {
					line = &c.Lines[i]
				}
			}
			if line == nil {
				return errs.E(errs.Invalid, "case has no line %d", u.Line).WithField("units", "unknown line")
			}
			if u.Result != Good && u.Result != Defective {
				return errs.E(errs.Invalid, "QC result %q must be good or defective", u.Result).WithField("units", "bad result")
			}
			count[u.Line]++
			qu := QCUnit{Line: u.Line, Unit: count[u.Line], SKUID: line.SKUID, Result: u.Result, Note: u.Note, Actor: actor, At: now}
			if err := insertQCTx(ctx, tx, c.ID, qu); err != nil {
				return err
			}
			c.QC = append(c.QC, qu)
			if u.Result == Good {
				good++
			} else {
				bad++
			}
		}
		for _, l := range c.Lines {
			if count[l.No] != l.Qty {
				return errs.E(errs.Invalid, "line %d has %d units, %d inspected", l.No, l.Qty, count[l.No]).WithField("units", "one result per unit")
			}
		}
		return s.step(ctx, tx, c, ActQC, actor, strconv.Itoa(good)+" good, "+strconv.Itoa(bad)+" defective", false)
	})
}

// Restock books the inspected units back into stock.
func (s *Service) Restock(ctx context.Context, id, actor string) (Case, error) {
	return s.act(ctx, id, actor, func(ctx context.Context, tx store.Tx, c *Case, actor string) error {
		return s.step(ctx, tx, c, ActRestock, actor, "", false)
	})
}

// Refund records the money returned (for a return, confirming receipt to
// the platform, which then pays the buyer).
func (s *Service) Refund(ctx context.Context, id, actor, note string) (Case, error) {
	return s.act(ctx, id, actor, func(ctx context.Context, tx store.Tx, c *Case, actor string) error {
		return s.step(ctx, tx, c, ActRefund, actor, note, false)
	})
}

// Ship records the replacement parcel of an exchange or a reship.
func (s *Service) Ship(ctx context.Context, id, actor, carrier, trackingNo string) (Case, error) {
	if strings.TrimSpace(trackingNo) == "" {
		return Case{}, errs.WithField("tracking_no", "required")
	}
	return s.act(ctx, id, actor, func(ctx context.Context, tx store.Tx, c *Case, actor string) error {
		a := ActShipExchange
		if c.Type == Reship {
			a = ActReship
		}
		c.ShipCarrier, c.ShipTrackingNo = carrier, trackingNo
		return s.step(ctx, tx, c, a, actor, carrier+" "+trackingNo, false)
	})
}

// Close closes a settled case.
func (s *Service) Close(ctx context.Context, id, actor, note string) (Case, error) {
	return s.act(ctx, id, actor, func(ctx context.Context, tx store.Tx, c *Case, actor string) error {
		return s.step(ctx, tx, c, ActClose, actor, note, false)
	})
}

// Cancel cancels an open case (the buyer withdrew it by phone, say).
func (s *Service) Cancel(ctx context.Context, id, actor, note string) (Case, error) {
	return s.act(ctx, id, actor, func(ctx context.Context, tx store.Tx, c *Case, actor string) error {
		return s.step(ctx, tx, c, ActCancel, actor, note, false)
	})
}

// Get returns a case with its full, attributed history.
func (s *Service) Get(ctx context.Context, id string) (Case, error) {
	c, err := scanCase(s.db.QueryRow(ctx, `SELECT `+caseColumns+` FROM aftersales_cases WHERE id = $1`, id))
	if err != nil {
		return c, store.NotFoundIfNoRows(err, "after-sales case %s not found", id)
	}
	if err := loadChildren(ctx, s.db, &c); err != nil {
		return c, err
	}
	if err := loadHistory(ctx, s.db, &c); err != nil {
		return c, err
	}
	c.Allowed = Allowed(c.Type, c.State)
	return c, nil
}
