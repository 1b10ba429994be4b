package order

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"omnihub/errs"
	"omnihub/store"
)

// Env is what an order rule sees. Every audit, routing and courier rule is
// an expr expression over these fields that yields a bool.
type Env struct {
	ShopID          string
	PlatformOrderID string
	BuyerID         string
	BuyerNick       string
	Province        string
	City            string
	District        string
	Detail          string
	Phone           string
	// AddressValid is false when province/city/district are not a known
	// GB/T 2260 triple; AddressProblem says which level failed.
	AddressValid    bool
	AddressProblem  string
	DivisionCode    string
	BuyerNote       string
	SellerNote      string
	Notes           string // buyer and seller notes together
	GoodsAmount     int64
	DiscountAmount  int64
	ShippingAmount  int64
	PaidAmount      int64
	PlatformSubsidy int64
	Lines           int
	Quantity        int64
	SKUs            []string
	SKUTypes        []string
	WeightGrams     int64
	Presale         bool
	Tags            []string
	// SamePhoneRecent counts other paid orders to the same receiver phone
	// within the risk window.
	SamePhoneRecent int
	Blacklisted     bool
	// Warehouse is set for courier rules (the part's warehouse).
	Warehouse string
	// PaidHour is the hour of payment in China time (0–23).
	PaidHour int
}

var chinaTZ = time.FixedZone("CST", 8*3600)

// batch carries what one ingest transaction shares across its orders.
type batch struct {
	now         time.Time
	rs          *ruleSet
	events      []eventRow
	phoneCounts map[string]int
	mergeable   map[string]*Order // shop|buyer|address → first approved order of this batch
	// siblings are approved orders already stored, by shop|buyer|address,
	// prefetched for the whole batch (nil: look each order up).
	siblings map[string][]sibling
	touched  map[string]*Order // orders of this batch by id
	// resolved caches SKU resolution within the transaction.
	resolved map[string]string
	// deferReserve collects reservations to make them in one call.
	deferReserve bool
	pending      []StockLine
	// pendingQty sums pending by {warehouse, SKU}: routing counts it as
	// taken although inventory has not reserved it yet.
	pendingQty map[[2]string]int64
	// avail caches, while reservations are deferred, the available stock
	// routing has read, by {warehouse, SKU} (see stockOf).
	avail map[[2]string]int64
	// warehouses are the active warehouses, most preferred first, loaded
	// once per batch when routing first needs them (warehousesLoaded);
	// activeIDs holds their ids.
	warehouses       []WarehouseRoute
	activeIDs        map[string]bool
	warehousesLoaded bool
}

// activeWarehouses returns the active warehouses, most preferred first,
// reading them once per batch.
func (b *batch) activeWarehouses(ctx context.Context, tx store.Tx, src WarehouseSource) ([]WarehouseRoute, error) {
	if !b.warehousesLoaded {
		ws, err := src.ActiveWarehousesTx(ctx, tx)
		if err != nil {
			return nil, errs.Wrap(err, errs.CodeOf(err), "list active warehouses")
		}
		b.activeIDs = make(map[string]bool, len(ws))
		for _, w := range ws {
			b.activeIDs[w.ID] = true
		}
		b.warehouses, b.warehousesLoaded = ws, true
	}
	return b.warehouses, nil
}

// isActive tells whether a routing rule's target is an active warehouse.
func (b *batch) isActive(ctx context.Context, tx store.Tx, src WarehouseSource, id string) (bool, error) {
	if _, err := b.activeWarehouses(ctx, tx, src); err != nil {
		return false, err
	}
	return b.activeIDs[id], nil
}

// byRegion orders the active warehouses for an order to province (a GB/T
// 2260 province code; empty when the address did not resolve): those that
// serve the province first, then by priority, lower first; ties keep the
// source's order (the older warehouse first).
func byRegion(ws []WarehouseRoute, province string) []string {
	serves := func(w WarehouseRoute) bool { return province != "" && slices.Contains(w.Provinces, province) }
	sorted := slices.Clone(ws)
	slices.SortStableFunc(sorted, func(a, b WarehouseRoute) int {
		if sa, sb := serves(a), serves(b); sa != sb {
			if sa {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.Priority, b.Priority)
	})
	out := make([]string, len(sorted))
	for i, w := range sorted {
		out[i] = w.ID
	}
	return out
}

// provinceOf is the GB/T 2260 province code of a division code.
func provinceOf(divisionCode string) string {
	if len(divisionCode) < 2 {
		return ""
	}
	return divisionCode[:2]
}

// stockOf returns what each warehouse could ship of each SKU, keyed by
// {warehouse, SKU}, through Options.Warehouses (in tx) when set, else
// StockReserver.Available. While reservations are deferred to the end of the
// batch, figures read are kept for the batch and what the batch has set
// aside is taken off them; the batch's one reservation call checks the
// outcome, and a shortage redoes the batch order by order, reading afresh.
func (s *Service) stockOf(ctx context.Context, tx store.Tx, b *batch, whs, skus []string) (map[[2]string]int64, error) {
	missing := skus
	if b.deferReserve {
		missing = nil
		for _, k := range skus {
			for _, w := range whs {
				if _, ok := b.avail[[2]string{w, k}]; !ok {
					missing = append(missing, k)
					break
				}
			}
		}
	}
	read := make(map[[2]string]int64, len(whs)*len(missing))
	switch {
	case len(missing) == 0:
	case s.opts.Warehouses != nil:
		m, err := s.opts.Warehouses.AvailableTx(ctx, tx, whs, missing)
		if err != nil {
			return nil, errs.Wrap(err, errs.CodeOf(err), "read available stock")
		}
		for _, w := range whs {
			for _, k := range missing {
				read[[2]string{w, k}] = m[w][k]
			}
		}
	default:
		for _, w := range whs {
			for _, k := range missing {
				n, err := s.opts.Stock.Available(ctx, w, k)
				if err != nil {
					return nil, errs.Wrap(err, errs.CodeOf(err), "read available stock of %s in %s", k, w)
				}
				read[[2]string{w, k}] = n
			}
		}
	}
	if !b.deferReserve {
		return read, nil
	}
	if b.avail == nil {
		b.avail = map[[2]string]int64{}
	}
	for k, n := range read {
		b.avail[k] = n
	}
	out := make(map[[2]string]int64, len(whs)*len(skus))
	for _, w := range whs {
		for _, k := range skus {
			key := [2]string{w, k}
			out[key] = b.avail[key] - b.pendingQty[key]
		}
	}
	return out, nil
}

type sibling struct {
	id, group, warehouse string
	paidAt               time.Time
}

type eventRow struct {
	orderID string
	Event
}

func (b *batch) event(o *Order, kind string, from, to Status, actor, reason, detail string) {
	b.events = append(b.events, eventRow{orderID: o.ID, Event: Event{ID: newID(), At: b.now, Kind: kind, From: from, To: to, Actor: actor, Reason: reason, Detail: detail}})
}

func (s *Service) transition(ctx context.Context, tx store.Tx, b *batch, o *Order, to Status, actor, reason string) error {
	return s.move(ctx, tx, b, o, to, actor, reason, "", false)
}

// move takes one transition with its stock effect: leaving the reservation
// behind releases it (unless the caller already did: stockReleased), leaving
// it for shipped consumes it. Entering refunding remembers where the order
// stood (RefundFrom). detail goes to the history event.
func (s *Service) move(ctx context.Context, tx store.Tx, b *batch, o *Order, to Status, actor, reason, detail string, stockReleased bool) error {
	from := o.Status
	if err := checkTransition(from, to); err != nil {
		return err
	}
	if err := checkRefundMove(o, to); err != nil {
		return err
	}
	next := *o
	next.Status = to
	if to == Refunding && !refundStatus(from) {
		next.RefundFrom = from
	}
	if o.ownsStock() && !next.ownsStock() && s.opts.Stock != nil {
		if to == Shipped {
			if err := s.opts.Stock.ShipTx(ctx, tx, o.ID); err != nil {
				return errs.Wrap(err, errs.CodeOf(err), "ship stock of order %s", o.ID)
			}
		} else if !stockReleased {
			if err := s.opts.Stock.ReleaseTx(ctx, tx, o.ID); err != nil {
				return errs.Wrap(err, errs.CodeOf(err), "release stock of order %s", o.ID)
			}
		}
	}
	o.Status, o.RefundFrom = to, next.RefundFrom
	o.UpdatedAt = b.now
	if !inQueue(to) {
		o.HoldReasons = nil
	}
	b.event(o, "transition", from, to, actor, reason, detail)
	if s.opts.Hook != nil {
		if err := s.opts.Hook(ctx, tx, o, from); err != nil {
			return err
		}
	}
	return nil
}

func keyOf(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

func phoneKey(p string) string {
	p = strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, p)
	if p == "" {
		return ""
	}
	return keyOf(p)
}

func (o *Order) computeKeys() {
	o.phoneKey = phoneKey(o.Receiver.Phone)
	r := o.Receiver
	o.addressKey = keyOf(r.Name, strings.TrimSpace(r.Phone), r.Province, r.City, r.District, r.Town, strings.TrimSpace(r.Detail))
}

func (s *Service) env(ctx context.Context, q store.Querier, o *Order, b *batch) Env {
	r := o.Receiver
	res := s.opts.Geo.Resolve(r.Province, r.City, r.District)
	o.DivisionCode = res.District.Code
	if o.DivisionCode == "" {
		o.DivisionCode = res.City.Code
	}
	if o.DivisionCode == "" {
		o.DivisionCode = res.Province.Code
	}
	e := Env{
		ShopID: o.ShopID, PlatformOrderID: o.PlatformOrderID, BuyerID: o.BuyerID, BuyerNick: o.BuyerNick,
		Province: r.Province, City: r.City, District: r.District, Detail: r.Detail, Phone: r.Phone,
		AddressValid: res.OK() && strings.TrimSpace(r.Detail) != "", AddressProblem: res.Reason, DivisionCode: o.DivisionCode,
		BuyerNote: o.BuyerNote, SellerNote: o.SellerNote, Notes: o.BuyerNote + "\n" + o.SellerNote,
		GoodsAmount: o.Amounts.Goods, DiscountAmount: o.Amounts.Discount, ShippingAmount: o.Amounts.Shipping,
		PaidAmount: o.Amounts.Paid, PlatformSubsidy: o.Amounts.PlatformSubsidy,
		Lines: len(o.Lines), Presale: o.Presale, Tags: o.Tags,
	}
	if e.AddressProblem == "" && !e.AddressValid {
		e.AddressProblem = "empty_detail"
	}
	for _, l := range o.Lines {
		e.Quantity += l.Quantity
		e.SKUs = append(e.SKUs, l.SKUID)
	}
	e.WeightGrams, e.SKUTypes = s.weightAndTypes(ctx, q, o.Lines, -1)
	if o.phoneKey != "" {
		e.SamePhoneRecent = b.phoneCounts[o.phoneKey]
	}
	bl := b.rs.blacklist
	if len(bl) > 0 {
		e.Blacklisted = bl["phone:"+normPhone(r.Phone)] || bl["receiver_name:"+strings.TrimSpace(r.Name)] || (o.BuyerID != "" && bl["buyer:"+o.BuyerID])
	}
	if o.PaidAt != nil {
		e.PaidHour = o.PaidAt.In(chinaTZ).Hour()
	}
	return e
}

func normPhone(p string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, p)
}

// weightAndTypes sums weights and collects SKU types of the lines of one
// part (part < 0: all lines).
func (s *Service) weightAndTypes(ctx context.Context, q store.Querier, lines []Line, part int) (int64, []string) {
	if s.opts.SKUInfo == nil {
		return 0, nil
	}
	var w int64
	var types []string
	for _, l := range lines {
		if part >= 0 && l.Part != part || l.SKUID == "" {
			continue
		}
		if info, ok := s.opts.SKUInfo(ctx, q, l.SKUID); ok {
			w += info.WeightGrams * l.Quantity
			if info.Type != "" {
				types = addUnique(types, info.Type)
			}
		}
	}
	return w, types
}

type ruleHit struct {
	Rule   string `json:"rule"`
	Action string `json:"action,omitempty"`
	Reason string `json:"reason,omitempty"`
	Tag    string `json:"tag,omitempty"`
	Error  string `json:"error,omitempty"`
}

// resolveKey keys the batch's cache of SKU resolutions.
func resolveKey(shopID, itemID, skuID, outerCode string) string {
	return shopID + "\x00" + itemID + "\x00" + skuID + "\x00" + outerCode
}

// audit runs the automatic audit of a paid order and moves it on: to the
// exception queue (unbound SKU), held (a rule or stock), or approved with
// its warehouse, courier, parts and reservation.
func (s *Service) audit(ctx context.Context, tx store.Tx, b *batch, o *Order, actor string) error {
	if o.Status != Paid {
		if err := s.transition(ctx, tx, b, o, Paid, actor, "replay"); err != nil {
			return err
		}
	}
	o.HoldReasons = nil
	// 1. Every line must map to an internal SKU.
	var unbound []string
	for i := range o.Lines {
		l := &o.Lines[i]
		if l.SKUID != "" {
			continue
		}
		if s.opts.Resolver == nil {
			l.SKUID = l.OuterCode
		} else {
			ck := resolveKey(o.ShopID, l.PlatformItemID, l.PlatformSKUID, l.OuterCode)
			id, cached := b.resolved[ck]
			if !cached {
				var ok bool
				var err error
				id, ok, err = s.opts.Resolver.ResolveTx(ctx, tx, o.ShopID, l.PlatformItemID, l.PlatformSKUID, l.OuterCode)
				if err != nil {
					return errs.Wrap(err, errs.CodeOf(err), "resolve SKU of order %s line %d", o.ID, l.LineNo)
				}
				if !ok {
					id = ""
				}
				if b.resolved != nil {
					b.resolved[ck] = id
				}
			}
			l.SKUID = id
		}
		if l.SKUID == "" {
			unbound = append(unbound, l.PlatformSKUID)
		}
	}
	if len(unbound) > 0 {
		o.HoldReasons = []string{ReasonUnboundSKU}
		if err := s.transition(ctx, tx, b, o, Exception, actor, ReasonUnboundSKU); err != nil {
			return err
		}
		b.events[len(b.events)-1].Detail = "platform_sku_ids=" + strings.Join(unbound, ",")
		return nil
	}
	// 2. Rules.
	env := s.env(ctx, tx, o, b)
	var hits []ruleHit
	var holds []string
	exception := false
	for _, r := range b.rs.audit {
		ok, err := r.prog.Bool(env)
		if err != nil {
			hits = append(hits, ruleHit{Rule: r.Name, Error: errs.MessageOf(err)})
			holds = addUnique(holds, ReasonRuleError)
			continue
		}
		if !ok {
			continue
		}
		h := ruleHit{Rule: r.Name, Action: r.Action, Reason: r.Reason, Tag: r.Tag}
		if r.Name == "address" || r.Reason == ReasonBadAddress {
			h.Reason = r.Reason
			if env.AddressProblem != "" {
				h.Error = env.AddressProblem
			}
		}
		hits = append(hits, h)
		if r.Tag != "" {
			o.Tags = addUnique(o.Tags, r.Tag)
			env.Tags = o.Tags
		}
		switch r.Action {
		case ActionHold:
			holds = addUnique(holds, r.Reason)
		case ActionException:
			holds = addUnique(holds, r.Reason)
			exception = true
		}
	}
	detail, _ := json.Marshal(hits)
	b.event(o, "audit", "", "", actor, joinList(holds), string(detail))
	if o.phoneKey != "" {
		b.phoneCounts[o.phoneKey]++
	}
	if len(holds) > 0 {
		to := Held
		if exception {
			to = Exception
		}
		o.HoldReasons = holds
		return s.transition(ctx, tx, b, o, to, actor, joinList(holds))
	}
	return s.approve(ctx, tx, b, o, env, actor)
}

// approve routes the order (warehouse, split, courier), reserves its stock
// and merges it with a sibling; shortage or no route holds it instead.
func (s *Service) approve(ctx context.Context, tx store.Tx, b *batch, o *Order, env Env, actor string) error {
	reason, detail, err := s.allocate(ctx, tx, b, o, env)
	if err != nil {
		return err
	}
	if reason != "" {
		o.HoldReasons = []string{reason}
		if err := s.transition(ctx, tx, b, o, Held, actor, reason); err != nil {
			return err
		}
		b.events[len(b.events)-1].Detail = detail
		return nil
	}
	if err := s.transition(ctx, tx, b, o, Approved, actor, "audit passed"); err != nil {
		return err
	}
	return s.merge(ctx, tx, b, o, actor)
}

// allocate chooses warehouses, splits lines into parts (per warehouse;
// presale lines apart), picks a courier per part and reserves the stock. A
// non-empty reason means the order must be held.
//
// The candidate warehouses are those of the matching routing rules, in rule
// priority order; without a match, DefaultWarehouse; without one, every
// active warehouse (Options.Warehouses): those that serve the receiver's
// province first, then by priority (byRegion). One candidate takes every
// line. Among several, the first that can ship every line takes them all;
// else each line goes to the first that can ship it (a split), and a line
// none can ship to the first candidate, whose reservation then fails: held
// out_of_stock.
//
// With Options.Warehouses set, a matching rule whose target is not an
// active warehouse is passed over (event "route"); when every matching rule
// is, the order is held warehouse_inactive rather than sent elsewhere.
func (s *Service) allocate(ctx context.Context, tx store.Tx, b *batch, o *Order, env Env) (reason, detail string, err error) {
	var cands, inactive []string
	for _, r := range b.rs.route {
		ok, err := r.prog.Bool(env)
		if err != nil {
			return ReasonRuleError, r.Name + ": " + errs.MessageOf(err), nil
		}
		if !ok {
			continue
		}
		if s.opts.Warehouses != nil {
			active, err := b.isActive(ctx, tx, s.opts.Warehouses, r.Target)
			if err != nil {
				return "", "", err
			}
			if !active {
				inactive = append(inactive, r.Name+" → "+r.Target)
				continue
			}
		}
		cands = addUnique(cands, r.Target)
	}
	if len(inactive) > 0 {
		d := "routing rule target inactive: " + strings.Join(inactive, ", ")
		if len(cands) == 0 {
			return ReasonInactiveWarehouse, d, nil
		}
		b.event(o, "route", "", "", "system", "passed over inactive warehouse", d)
	}
	if len(cands) == 0 && s.opts.DefaultWarehouse != "" {
		// The default is a fallback, not the merchant's choice for this
		// order: when it has been deactivated the order is routed among the
		// active warehouses, as if there were no default.
		active := true
		if s.opts.Warehouses != nil {
			if active, err = b.isActive(ctx, tx, s.opts.Warehouses, s.opts.DefaultWarehouse); err != nil {
				return "", "", err
			}
		}
		if active {
			cands = []string{s.opts.DefaultWarehouse}
		} else {
			b.event(o, "route", "", "", "system", "passed over inactive warehouse", "default warehouse inactive: "+s.opts.DefaultWarehouse)
		}
	}
	noRoute := "no routing rule matched and no default warehouse"
	if len(cands) == 0 && s.opts.Warehouses != nil {
		ws, err := b.activeWarehouses(ctx, tx, s.opts.Warehouses)
		if err != nil {
			return "", "", err
		}
		cands = byRegion(ws, provinceOf(env.DivisionCode))
		noRoute = "no routing rule matched and there is no active warehouse"
	}
	presale := make([]bool, len(o.Lines))
	nStock := 0
	for i, l := range o.Lines {
		presale[i] = o.Presale
		if !presale[i] && s.opts.SKUInfo != nil {
			if info, ok := s.opts.SKUInfo(ctx, tx, l.SKUID); ok && info.Presale {
				presale[i] = true
			}
		}
		if !presale[i] {
			nStock++
		}
	}
	if len(cands) == 0 && (nStock > 0 || s.opts.Stock != nil) {
		return ReasonNoRoute, noRoute, nil
	}
	wh := make([]string, len(o.Lines))
	switch {
	case nStock == 0:
	case len(cands) == 1 || s.opts.Stock == nil:
		for i := range wh {
			wh[i] = cands[0]
		}
	default:
		need := map[string]int64{}
		var skus []string
		for i, l := range o.Lines {
			if presale[i] {
				continue
			}
			if _, ok := need[l.SKUID]; !ok {
				skus = append(skus, l.SKUID)
			}
			need[l.SKUID] += l.Quantity
		}
		avail, err := s.stockOf(ctx, tx, b, cands, skus)
		if err != nil {
			return "", "", err
		}
		// One warehouse that has everything, in candidate order…
		chosen := ""
		for _, c := range cands {
			all := true
			for _, k := range skus {
				if avail[[2]string{c, k}] < need[k] {
					all = false
					break
				}
			}
			if all {
				chosen = c
				break
			}
		}
		// …else each line from the first warehouse that has it (split).
		for i, l := range o.Lines {
			if presale[i] {
				continue
			}
			if chosen != "" {
				wh[i] = chosen
				continue
			}
			for _, c := range cands {
				if k := [2]string{c, l.SKUID}; avail[k] >= l.Quantity {
					avail[k] -= l.Quantity
					wh[i] = c
					break
				}
			}
			if wh[i] == "" {
				// None has it (as far as this read knows): the first
				// candidate's reservation decides (out_of_stock when short).
				wh[i] = cands[0]
			}
		}
	}
	// Parts: one per warehouse in first-use order, then presale lines.
	partOf := map[string]int{}
	var parts []Part
	presalePart := 0
	for i := range o.Lines {
		if presale[i] {
			if presalePart == 0 {
				w := ""
				if len(cands) > 0 {
					w = cands[0]
				}
				parts = append(parts, Part{Part: len(parts) + 1, WarehouseID: w, Presale: true})
				presalePart = len(parts)
			}
			o.Lines[i].Part = presalePart
			continue
		}
		p, ok := partOf[wh[i]]
		if !ok {
			parts = append(parts, Part{Part: len(parts) + 1, WarehouseID: wh[i]})
			p = len(parts)
			partOf[wh[i]] = p
		}
		o.Lines[i].Part = p
	}
	// Presale lines get the part after the stock parts for stable numbering.
	for i := range parts {
		pe := env
		pe.Warehouse = parts[i].WarehouseID
		pe.WeightGrams, pe.SKUTypes = s.weightAndTypes(ctx, tx, o.Lines, parts[i].Part)
		for _, r := range b.rs.courier {
			ok, err := r.prog.Bool(pe)
			if err != nil {
				return ReasonRuleError, r.Name + ": " + errs.MessageOf(err), nil
			}
			if ok {
				parts[i].Courier = r.Target
				break
			}
		}
	}
	if s.opts.Stock != nil && nStock > 0 {
		var sl []StockLine
		for i, l := range o.Lines {
			if !presale[i] {
				sl = append(sl, StockLine{OrderID: o.ID, LineNo: l.LineNo, WarehouseID: wh[i], SKUID: l.SKUID, Qty: l.Quantity})
			}
		}
		if b.deferReserve {
			b.pending = append(b.pending, sl...)
			if b.pendingQty == nil {
				b.pendingQty = map[[2]string]int64{}
			}
			for _, l := range sl {
				b.pendingQty[[2]string{l.WarehouseID, l.SKUID}] += l.Qty
			}
		} else if err := s.opts.Stock.ReserveTx(ctx, tx, sl); err != nil {
			if errs.Is(err, errs.Conflict) {
				d := errs.MessageOf(err)
				if f := errs.FieldsOf(err); f["sku_id"] != "" {
					d = "sku_id=" + f["sku_id"]
				}
				return ReasonOutOfStock, d, nil
			}
			return "", "", err
		}
	}
	o.Parts = parts
	if len(parts) > 0 {
		o.WarehouseID, o.Courier = parts[0].WarehouseID, parts[0].Courier
	}
	if len(parts) > 1 {
		d, _ := json.Marshal(parts)
		b.event(o, "split", "", "", "system", fmt.Sprintf("%d parts", len(parts)), string(d))
	}
	return "", "", nil
}

// merge joins an approved single-parcel order with an approved,
// unshipped sibling of the same shop, buyer and address paid within the
// merge window and shipping from the same warehouse.
func (s *Service) merge(ctx context.Context, tx store.Tx, b *batch, o *Order, actor string) error {
	if s.opts.MergeWindow < 0 || o.BuyerID == "" || len(o.Parts) != 1 || o.Parts[0].Presale || o.PaidAt == nil {
		return nil
	}
	k := o.ShopID + "|" + o.BuyerID + "|" + o.addressKey
	if other, ok := b.mergeable[k]; ok && other.ID != o.ID && other.Status == Approved && other.WarehouseID == o.WarehouseID &&
		other.PaidAt != nil && absDur(o.PaidAt.Sub(*other.PaidAt)) <= s.opts.MergeWindow {
		if other.MergeGroup == "" {
			other.MergeGroup = other.ID
		}
		o.MergeGroup = other.MergeGroup
		b.event(o, "merge", "", "", actor, "merged with "+other.ID, o.MergeGroup)
		return nil
	}
	if b.siblings != nil {
		for _, sb := range b.siblings[k] {
			if t, ok := b.touched[sb.id]; ok && t.Status != Approved {
				continue
			}
			if sb.id == o.ID || sb.warehouse != o.WarehouseID || absDur(o.PaidAt.Sub(sb.paidAt)) > s.opts.MergeWindow {
				continue
			}
			return s.joinStored(ctx, tx, b, o, sb.id, sb.group, actor, k)
		}
		b.mergeable[k] = o
		return nil
	}
	var otherID, group string
	err := tx.QueryRow(ctx, `SELECT id, merge_group FROM orders WHERE shop_id = $1 AND buyer_id = $2 AND address_key = $3 AND status = 'approved' AND id <> $4 AND warehouse_id = $5 AND paid_at >= $6 AND paid_at <= $7 ORDER BY paid_at LIMIT 1`,
		o.ShopID, o.BuyerID, o.addressKey, o.ID, o.WarehouseID, o.PaidAt.Add(-s.opts.MergeWindow), o.PaidAt.Add(s.opts.MergeWindow)).Scan(&otherID, &group)
	if err == nil {
		return s.joinStored(ctx, tx, b, o, otherID, group, actor, k)
	}
	if !errors.Is(err, store.ErrNoRows) {
		return errs.Wrap(err, errs.Internal, "find merge sibling")
	}
	b.mergeable[k] = o
	return nil
}

// joinStored merges o into the group of a stored approved order.
func (s *Service) joinStored(ctx context.Context, tx store.Tx, b *batch, o *Order, otherID, group, actor, k string) error {
	if group == "" {
		group = otherID
		if t, ok := b.touched[otherID]; ok {
			t.MergeGroup = group
		} else if _, err := tx.Exec(ctx, `UPDATE orders SET merge_group = $1, updated_at = $2 WHERE id = $3`, group, b.now, otherID); err != nil {
			return errs.Wrap(err, errs.Internal, "merge order")
		}
		b.events = append(b.events, eventRow{orderID: otherID, Event: Event{ID: newID(), At: b.now, Kind: "merge", Actor: actor, Reason: "merged with " + o.ID, Detail: group}})
		// Later orders of this batch join the same group.
		for i, sb := range b.siblings[k] {
			if sb.id == otherID {
				b.siblings[k][i].group = group
			}
		}
	}
	o.MergeGroup = group
	b.event(o, "merge", "", "", actor, "merged with "+otherID, group)
	return nil
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
