package order

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"omnihub/channel"
	"omnihub/errs"
	"omnihub/ids"
	"omnihub/store"
)

func newID() string { return ids.New() }

// Outcome of one delivery.
type Outcome string

const (
	Created   Outcome = "created"
	Updated   Outcome = "updated"
	Duplicate Outcome = "duplicate" // the same version again: nothing changed
	Stale     Outcome = "stale"     // older than what we have: recorded, ignored
	Rejected  Outcome = "rejected"  // invalid input: see Err
)

// IngestResult says what a delivery did.
type IngestResult struct {
	PlatformOrderID string   `json:"platform_order_id"`
	OrderID         string   `json:"order_id,omitempty"`
	Outcome         Outcome  `json:"outcome"`
	Status          Status   `json:"status,omitempty"`
	HoldReasons     []string `json:"hold_reasons,omitempty"`
	Err             error    `json:"-"`
}

// Limits on what a platform may send.
const (
	MaxLines     = 500
	MaxQuantity  = 1_000_000
	MaxAmount    = 1_000_000_000_000
	maxTextRunes = 2000
	maxIDBytes   = 128
	maxRawBytes  = 1 << 20
	chunkRows    = 400
)

type prepared struct {
	idx  int
	in   channel.Order
	hash string
	raw  string
}

// IngestBatch applies many deliveries of one shop in one transaction (group
// commit): a few statements per batch rather than per order. Invalid
// deliveries are rejected individually (IngestResult.Err); the returned
// error is for failures of the whole batch, which is then not applied.
func (s *Service) IngestBatch(ctx context.Context, shopID string, in []channel.Order) ([]IngestResult, error) {
	if shopID == "" {
		return nil, errs.WithField("shop_id", "is required")
	}
	results := make([]IngestResult, len(in))
	byPID := map[string][]prepared{}
	var pids []string
	for i, o := range in {
		results[i].PlatformOrderID = o.PlatformOrderID
		p, err := prepare(o)
		if err != nil {
			results[i].Outcome, results[i].Err = Rejected, err
			continue
		}
		p.idx = i
		if _, ok := byPID[o.PlatformOrderID]; !ok {
			pids = append(pids, o.PlatformOrderID)
		}
		byPID[o.PlatformOrderID] = append(byPID[o.PlatformOrderID], p)
	}
	if len(pids) == 0 {
		return results, nil
	}
	rs, err := s.rulesFor(ctx)
	if err != nil {
		return nil, err
	}
	run := func(deferReserve bool) error {
		return s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			// The callback may be retried: start from clean results each time.
			for _, ps := range byPID {
				for _, p := range ps {
					results[p.idx] = IngestResult{PlatformOrderID: p.in.PlatformOrderID}
				}
			}
			return s.ingestTx(ctx, tx, rs, shopID, pids, byPID, results, deferReserve)
		})
	}
	// Reservations of the whole batch go to inventory in one call; if stock
	// is short somewhere the batch is redone reserving order by order, so
	// that only the orders that cannot be served are held.
	deferReserve := len(pids) > 1
	for attempt := 0; ; attempt++ {
		err = run(deferReserve)
		switch {
		case errors.Is(err, errBatchShort):
			deferReserve = false
			continue
		case store.IsUniqueViolation(err) && attempt < 3:
			// Another transaction created one of these orders since we
			// looked (PostgreSQL, concurrent deliveries): redo the batch,
			// which now sees it as stored.
			continue
		}
		break
	}
	if err != nil {
		return nil, err
	}
	return results, nil
}

var errBatchShort = errors.New("order: batch reservation short")

// newestOf returns the newest of one order's deliveries (the one ingest
// applies when it is newer than what is stored).
func newestOf(ps []prepared) prepared {
	best := ps[0]
	for _, p := range ps[1:] {
		if p.newer(best.version()) {
			best = p
		}
	}
	return best
}

func prepare(o channel.Order) (prepared, error) {
	if err := validate(o); err != nil {
		return prepared{}, err
	}
	raw := o.Raw
	o.Raw = nil
	norm, err := json.Marshal(o)
	if err != nil {
		return prepared{}, errs.Wrap(err, errs.Invalid, "order %s cannot be encoded", o.PlatformOrderID)
	}
	sum := sha256.Sum256(norm)
	p := prepared{in: o, hash: hex.EncodeToString(sum[:16])}
	if len(raw) > 0 && len(raw) <= maxRawBytes && json.Valid(raw) {
		var buf bytes.Buffer
		if json.Compact(&buf, raw) == nil {
			p.raw = buf.String()
		}
	}
	if p.raw == "" {
		p.raw = string(norm)
	}
	return p, nil
}

func validate(o channel.Order) error {
	bad := func(field, reason string) error {
		return errs.E(errs.Invalid, "order %.64q: %s %s", o.PlatformOrderID, field, reason).WithField(field, reason)
	}
	if o.PlatformOrderID == "" || len(o.PlatformOrderID) > maxIDBytes || !utf8.ValidString(o.PlatformOrderID) {
		return bad("platform_order_id", "must be 1–128 bytes of UTF-8")
	}
	if o.ModifiedAt.IsZero() || o.ModifiedAt.Year() < 2000 || o.ModifiedAt.Year() > 2200 {
		return bad("modified_at", "must be a real time")
	}
	if o.CreatedAt.Year() > 2200 || (o.PaidAt != nil && (o.PaidAt.Year() < 2000 || o.PaidAt.Year() > 2200)) {
		return bad("paid_at", "must be a real time")
	}
	switch o.Status {
	case channel.OrderPendingPayment, channel.OrderPaid, channel.OrderPartShipped, channel.OrderShipped, channel.OrderCompleted, channel.OrderCancelled:
	default:
		return bad("status", "is not a known order status")
	}
	if len(o.Lines) == 0 || len(o.Lines) > MaxLines {
		return bad("lines", fmt.Sprintf("must have 1–%d lines", MaxLines))
	}
	for i, l := range o.Lines {
		if l.Quantity <= 0 || l.Quantity > MaxQuantity {
			return bad(fmt.Sprintf("lines[%d].quantity", i), "must be 1–1000000")
		}
		for _, v := range []int64{l.Price, l.Discount, l.Paid} {
			if v < 0 || v > MaxAmount {
				return bad(fmt.Sprintf("lines[%d]", i), "has an amount out of range")
			}
		}
		for _, v := range []string{l.PlatformLineID, l.PlatformItemID, l.PlatformSKUID, l.OuterSKUID} {
			if len(v) > maxIDBytes || !utf8.ValidString(v) {
				return bad(fmt.Sprintf("lines[%d]", i), "has an id over 128 bytes or not UTF-8")
			}
		}
	}
	for _, v := range []int64{o.GoodsAmount, o.DiscountAmount, o.ShippingAmount, o.PaidAmount, o.PlatformSubsidy} {
		if v < 0 || v > MaxAmount {
			return bad("amounts", "out of range")
		}
	}
	for _, v := range []string{o.BuyerNote, o.SellerNote, o.Receiver.Detail, o.Receiver.Name, o.BuyerNick, o.BuyerID, o.Receiver.Phone, o.Receiver.Province, o.Receiver.City, o.Receiver.District, o.Receiver.Town, o.PlatformStatus} {
		if !utf8.ValidString(v) || utf8.RuneCountInString(v) > maxTextRunes {
			return bad("text", "is not UTF-8 or too long")
		}
	}
	return nil
}

type existingRow struct {
	id       string
	modified time.Time
	hash     string
	status   channel.OrderStatus
	phoneKey string
	paidAt   *time.Time
}

// preResolve resolves the lines of the orders a batch will audit in one
// go, when the resolver can (SKUBatchResolver), filling the batch's cache
// that audit reads.
func (s *Service) preResolve(ctx context.Context, tx store.Tx, b *batch, shopID string, changing []string, byPID map[string][]prepared) error {
	br, ok := s.opts.Resolver.(SKUBatchResolver)
	if !ok || len(changing) == 0 {
		return nil
	}
	seen := map[ListingRef]bool{}
	var refs []ListingRef
	for _, pid := range changing {
		for _, p := range byPID[pid] {
			for _, l := range p.in.Lines {
				r := ListingRef{l.PlatformItemID, l.PlatformSKUID, l.OuterSKUID}
				if !seen[r] {
					seen[r] = true
					refs = append(refs, r)
				}
			}
		}
	}
	got, err := br.ResolveManyTx(ctx, tx, shopID, refs)
	if err != nil {
		return errs.Wrap(err, errs.CodeOf(err), "resolve the SKUs of %d listings", len(refs))
	}
	for _, r := range refs {
		b.resolved[resolveKey(shopID, r.PlatformItemID, r.PlatformSKUID, r.OuterCode)] = got[r]
	}
	return nil
}

func (e existingRow) version() orderVersion { return orderVersion{e.modified, e.status, e.hash} }

func placeholders(start, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "$%d", start+i)
	}
	return b.String()
}

// bulkPlaceholders is placeholders for statements with many parameters.
// SQLite resolves a named parameter ($N) by a linear scan of the names seen
// so far, which makes a statement with thousands of them quadratic to
// prepare; anonymous ? parameters (same order) avoid that. PostgreSQL keeps $N.
func bulkPlaceholders(e store.Engine, start, n int) string {
	if e != store.SQLite {
		return placeholders(start, n)
	}
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func (s *Service) ingestTx(ctx context.Context, tx store.Tx, rs *ruleSet, shopID string, pids []string, byPID map[string][]prepared, results []IngestResult, deferReserve bool) error {
	now := s.now()
	b := &batch{now: now, rs: rs, phoneCounts: map[string]int{}, mergeable: map[string]*Order{},
		touched: map[string]*Order{}, resolved: map[string]string{}, deferReserve: deferReserve && s.opts.Stock != nil}

	// Stored orders are locked (PostgreSQL) in id order: an after-sales step
	// changing one of them concurrently must not be overwritten by this
	// batch's copy, nor this batch's by it.
	existing := map[string]existingRow{}
	for start := 0; start < len(pids); start += chunkRows {
		chunk := pids[start:min(start+chunkRows, len(pids))]
		args := make([]any, 0, len(chunk)+1)
		args = append(args, shopID)
		for _, p := range chunk {
			args = append(args, p)
		}
		rows, err := tx.Query(ctx, storedOrdersQuery(tx.Engine(), len(chunk)), args...)
		if err != nil {
			return errs.Wrap(err, errs.Internal, "load orders")
		}
		for rows.Next() {
			var e existingRow
			var pid string
			if err := rows.Scan(&e.id, &pid, &e.modified, &e.hash, &e.status, &e.phoneKey, &e.paidAt); err != nil {
				rows.Close()
				return errs.Wrap(err, errs.Internal, "load orders")
			}
			existing[pid] = e
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return errs.Wrap(err, errs.Internal, "load orders")
		}
	}

	// Risk counts: paid orders per receiver phone within the window,
	// without the orders of this batch (they are counted as they are audited).
	// Only orders this batch creates or moves to a newer version are
	// audited: the others (re-deliveries, the overlap of every incremental
	// pull) need neither risk counts nor merge candidates.
	var changing []string
	for _, pid := range pids {
		ex, found := existing[pid]
		if !found || newestOf(byPID[pid]).newer(ex.version()) {
			changing = append(changing, pid)
		}
	}
	cutoff := now.Add(-s.opts.RiskWindow)
	phoneSet := map[string]bool{}
	for _, pid := range changing {
		ps := byPID[pid]
		if k := phoneKey(ps[len(ps)-1].in.Receiver.Phone); k != "" {
			phoneSet[k] = true
		}
	}
	if err := s.loadPhoneCounts(ctx, tx, phoneSet, cutoff, b.phoneCounts); err != nil {
		return err
	}
	if err := s.loadSiblings(ctx, tx, b, shopID, changing, byPID); err != nil {
		return err
	}
	if err := s.preResolve(ctx, tx, b, shopID, changing, byPID); err != nil {
		return err
	}
	for _, e := range existing {
		if e.phoneKey != "" && e.paidAt != nil && !e.paidAt.Before(cutoff) && b.phoneCounts[e.phoneKey] > 0 {
			b.phoneCounts[e.phoneKey]--
		}
	}

	var (
		writes   []*Order
		versions []versionRow
		fresh    = map[string]bool{}
	)
	for _, pid := range pids {
		ps := byPID[pid]
		// Newest platform modification wins; a tie is broken by the payload
		// hash so that every delivery order converges on the same version.
		sort.SliceStable(ps, func(i, j int) bool { return ps[j].newer(ps[i].version()) })
		best := ps[len(ps)-1]
		ex, found := existing[pid]
		orderID := ex.id
		if !found {
			orderID = newID()
		}
		apply := !found || best.newer(ex.version())
		seen := map[string]bool{}
		if found {
			seen[ex.hash] = true
		}
		for _, p := range ps {
			results[p.idx].OrderID = orderID
			switch {
			case apply && p.idx == best.idx && found:
				results[p.idx].Outcome = Updated
			case apply && p.idx == best.idx:
				results[p.idx].Outcome = Created
			case (apply && p.hash == best.hash) || (found && p.hash == ex.hash):
				results[p.idx].Outcome = Duplicate
			default:
				results[p.idx].Outcome = Stale
			}
			if !seen[p.hash] {
				seen[p.hash] = true
				versions = append(versions, versionRow{orderID: orderID, hash: p.hash, modified: store.UTC(p.in.ModifiedAt), status: p.in.PlatformStatus, applied: apply && p.hash == best.hash, raw: p.raw})
			}
		}
		if !apply {
			continue
		}
		var o *Order
		var err error
		if found {
			o, err = getOrder(ctx, tx, orderID)
			if err != nil {
				return err
			}
			if err := s.applyUpdate(ctx, tx, b, o, best); err != nil {
				return err
			}
		} else {
			o = newOrder(orderID, shopID, best, now)
			fresh[orderID] = true
			if err := s.applyNew(ctx, tx, b, o, best.in.Status); err != nil {
				return err
			}
		}
		writes = append(writes, o)
		b.touched[o.ID] = o
	}
	byID := make(map[string]*Order, len(writes))
	for _, o := range writes {
		byID[o.ID] = o
	}
	for i := range results {
		if o := byID[results[i].OrderID]; o != nil {
			results[i].Status, results[i].HoldReasons = o.Status, o.HoldReasons
		}
	}
	if err := s.writeOrders(ctx, tx, writes, fresh); err != nil {
		return err
	}
	if err := writeVersions(ctx, tx, versions, now); err != nil {
		return err
	}
	if err := writeEvents(ctx, tx, b.events); err != nil {
		return err
	}
	// The batch's reservations go last: on PostgreSQL they lock the rows of
	// the SKUs' balances until the commit, and in a flash sale every
	// transaction wants the same few. Taken last, they are held for the
	// reservation and the commit only. If stock is short the whole
	// transaction is redone order by order (errBatchShort).
	if len(b.pending) > 0 {
		if err := s.opts.Stock.ReserveTx(ctx, tx, b.pending); err != nil {
			if errs.Is(err, errs.Conflict) {
				return errBatchShort
			}
			return errs.Wrap(err, errs.CodeOf(err), "reserve stock")
		}
	}
	return nil
}

// orderVersion is what orders the platform's versions of one order.
type orderVersion struct {
	modified time.Time
	status   channel.OrderStatus
	hash     string
}

func (p prepared) version() orderVersion { return orderVersion{p.in.ModifiedAt, p.in.Status, p.hash} }

func (p prepared) newer(v orderVersion) bool { return p.version().newer(v) }

// newer reports whether version a supersedes b: a later platform
// modification time; on a tie (platforms give it to the second, and a
// refund and a shipment can fall in one) the status further along the
// order's life; then the larger payload hash, so that every delivery order
// converges on the same version.
func (a orderVersion) newer(b orderVersion) bool {
	t1, t2 := store.UTC(a.modified), store.UTC(b.modified)
	if !t1.Equal(t2) {
		return t1.After(t2)
	}
	if r1, r2 := statusRank(a.status), statusRank(b.status); r1 != r2 {
		return r1 > r2
	}
	return a.hash > b.hash
}

// statusRank orders platform statuses by how far along an order's life they
// are; a closed order (refunded or never paid) ends it.
func statusRank(s channel.OrderStatus) int {
	switch s {
	case channel.OrderPendingPayment:
		return 0
	case channel.OrderPaid:
		return 1
	case channel.OrderPartShipped:
		return 2
	case channel.OrderShipped:
		return 3
	case channel.OrderCompleted:
		return 4
	case channel.OrderCancelled:
		return 5
	}
	return 0
}

// loadSiblings prefetches the stored approved orders the batch's orders
// could be merged with (same shop and buyer).
func (s *Service) loadSiblings(ctx context.Context, tx store.Tx, b *batch, shopID string, pids []string, byPID map[string][]prepared) error {
	b.siblings = map[string][]sibling{}
	if s.opts.MergeWindow < 0 {
		return nil
	}
	set := map[string]bool{}
	var buyers []string
	for _, pid := range pids {
		ps := byPID[pid]
		if id := ps[len(ps)-1].in.BuyerID; id != "" && !set[id] {
			set[id] = true
			buyers = append(buyers, id)
		}
	}
	for start := 0; start < len(buyers); start += chunkRows {
		chunk := buyers[start:min(start+chunkRows, len(buyers))]
		args := []any{shopID}
		for _, x := range chunk {
			args = append(args, x)
		}
		e := tx.Engine()
		rows, err := tx.Query(ctx, siblingsQuery(e, len(chunk)), args...)
		if err != nil {
			return errs.Wrap(err, errs.Internal, "load merge candidates")
		}
		for rows.Next() {
			var sb sibling
			var buyer, addr string
			var paid *time.Time
			if err := rows.Scan(&sb.id, &sb.group, &buyer, &addr, &sb.warehouse, &paid); err != nil {
				rows.Close()
				return errs.Wrap(err, errs.Internal, "load merge candidates")
			}
			if paid == nil {
				continue
			}
			sb.paidAt = *paid
			k := shopID + "|" + buyer + "|" + addr
			b.siblings[k] = append(b.siblings[k], sb)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return errs.Wrap(err, errs.Internal, "load merge candidates")
		}
	}
	return nil
}

func (s *Service) loadPhoneCounts(ctx context.Context, tx store.Tx, set map[string]bool, cutoff time.Time, into map[string]int) error {
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	for start := 0; start < len(keys); start += chunkRows {
		chunk := keys[start:min(start+chunkRows, len(keys))]
		args := []any{cutoff}
		for _, k := range chunk {
			args = append(args, k)
		}
		rows, err := tx.Query(ctx, phoneCountsQuery(tx.Engine(), len(chunk)), args...)
		if err != nil {
			return errs.Wrap(err, errs.Internal, "count orders per phone")
		}
		for rows.Next() {
			var k string
			var n int64
			if err := rows.Scan(&k, &n); err != nil {
				rows.Close()
				return errs.Wrap(err, errs.Internal, "count orders per phone")
			}
			into[k] = int(n)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return errs.Wrap(err, errs.Internal, "count orders per phone")
		}
	}
	return nil
}

func newOrder(id, shopID string, p prepared, now time.Time) *Order {
	o := &Order{ID: id, ShopID: shopID, CreatedAt: now, UpdatedAt: now}
	fill(o, p)
	for i, l := range p.in.Lines {
		o.Lines = append(o.Lines, Line{
			LineNo: i + 1, PlatformLineID: l.PlatformLineID, PlatformItemID: l.PlatformItemID, PlatformSKUID: l.PlatformSKUID,
			OuterCode: l.OuterSKUID, Title: clip(l.Title, 200), SpecName: clip(l.SpecName, 200), Quantity: l.Quantity,
			Price: l.Price, Discount: l.Discount, Paid: l.Paid, RefundStatus: clip(l.RefundStatus, 64), Part: 1,
		})
	}
	return o
}

func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// fill copies the platform's fields onto o.
func fill(o *Order, p prepared) {
	in := p.in
	o.PlatformOrderID = in.PlatformOrderID
	o.PlatformStatus = clip(in.PlatformStatus, 64)
	o.ChannelStatus = string(in.Status)
	o.PlatformModifiedAt = store.UTC(in.ModifiedAt)
	o.BuyerID, o.BuyerNick = in.BuyerID, in.BuyerNick
	o.Receiver = Receiver{Name: in.Receiver.Name, Phone: in.Receiver.Phone, Province: in.Receiver.Province, City: in.Receiver.City,
		District: in.Receiver.District, Town: in.Receiver.Town, Detail: in.Receiver.Detail, Zip: clip(in.Receiver.Zip, 16)}
	cur := in.Currency
	if cur == "" {
		cur = "CNY"
	}
	o.Amounts = Amounts{Currency: clip(cur, 8), Goods: in.GoodsAmount, Discount: in.DiscountAmount, Shipping: in.ShippingAmount, Paid: in.PaidAmount, PlatformSubsidy: in.PlatformSubsidy}
	o.BuyerNote, o.SellerNote = in.BuyerNote, in.SellerNote
	o.Presale = in.Presale
	created := in.CreatedAt
	if created.IsZero() {
		created = in.ModifiedAt
	}
	o.PlatformCreatedAt = store.UTC(created)
	if in.PaidAt != nil {
		t := store.UTC(*in.PaidAt)
		o.PaidAt = &t
	}
	o.payloadHash = p.hash
	o.computeKeys()
}

func (s *Service) applyNew(ctx context.Context, tx store.Tx, b *batch, o *Order, st channel.OrderStatus) error {
	o.Status = PendingPayment
	b.event(o, "transition", "", PendingPayment, "platform", "created", "")
	switch st {
	case channel.OrderPendingPayment:
		return nil
	case channel.OrderCancelled:
		return s.transition(ctx, tx, b, o, Cancelled, "platform", "cancelled on the platform")
	case channel.OrderShipped, channel.OrderPartShipped, channel.OrderCompleted:
		// First seen after it left: shipped outside OmniHub, nothing to audit.
		o.Status = Shipped
		b.event(o, "transition", PendingPayment, Shipped, "platform", "first seen "+string(st), "")
		if st == channel.OrderCompleted {
			return s.transition(ctx, tx, b, o, Completed, "platform", "completed on the platform")
		}
		return nil
	}
	if o.PaidAt == nil {
		t := o.PlatformModifiedAt
		o.PaidAt = &t
	}
	// First seen paid: one event for creation and payment.
	b.events = b.events[:len(b.events)-1]
	o.Status = Paid
	b.event(o, "transition", "", Paid, "platform", "created paid", "")
	return s.audit(ctx, tx, b, o, "system")
}

// applyUpdate applies a newer platform version to a stored order: platform
// fields change, internal decisions (bindings, parts) are kept, and the
// platform's status moves the internal one where that is legal.
func (s *Service) applyUpdate(ctx context.Context, tx store.Tx, b *batch, o *Order, p prepared) error {
	oldAddr, oldLines := o.addressKey, linesKey(o.Lines)
	oldNotes := o.BuyerNote + "\x00" + o.SellerNote
	fill(o, p)
	o.UpdatedAt = b.now
	// Lines: keep bindings of lines that are still there.
	bound := map[string]Line{}
	for _, l := range o.Lines {
		bound[l.PlatformLineID+"\x00"+l.PlatformSKUID] = l
	}
	lines := make([]Line, 0, len(p.in.Lines))
	for i, l := range p.in.Lines {
		nl := Line{LineNo: i + 1, PlatformLineID: l.PlatformLineID, PlatformItemID: l.PlatformItemID, PlatformSKUID: l.PlatformSKUID,
			OuterCode: l.OuterSKUID, Title: clip(l.Title, 200), SpecName: clip(l.SpecName, 200), Quantity: l.Quantity,
			Price: l.Price, Discount: l.Discount, Paid: l.Paid, RefundStatus: clip(l.RefundStatus, 64), Part: 1}
		if old, ok := bound[l.PlatformLineID+"\x00"+l.PlatformSKUID]; ok {
			nl.SKUID, nl.Part = old.SKUID, old.Part
		}
		lines = append(lines, nl)
	}
	o.Lines = lines
	changed := o.addressKey != oldAddr || linesKey(o.Lines) != oldLines || o.BuyerNote+"\x00"+o.SellerNote != oldNotes
	st := channel.OrderStatus(o.ChannelStatus)
	switch {
	case st == channel.OrderCancelled:
		if canMove(o, Cancelled) {
			return s.transition(ctx, tx, b, o, Cancelled, "platform", "cancelled on the platform")
		}
	case st == channel.OrderPaid && o.Status == PendingPayment:
		if o.PaidAt == nil {
			t := o.PlatformModifiedAt
			o.PaidAt = &t
		}
		if err := s.transition(ctx, tx, b, o, Paid, "platform", "paid"); err != nil {
			return err
		}
		return s.audit(ctx, tx, b, o, "system")
	case st == channel.OrderPaid && inQueue(o.Status) && changed:
		// The buyer or the platform changed what the audit objected to.
		return s.audit(ctx, tx, b, o, "system")
	case st == channel.OrderShipped || st == channel.OrderPartShipped || st == channel.OrderCompleted:
		switch {
		case holdsStock(o.Status):
			if err := s.transition(ctx, tx, b, o, Shipped, "platform", "shipped on the platform"); err != nil {
				return err
			}
		case refundStatus(o.Status):
			// The parcel left while a refund is open (or after part of the
			// order was refunded): the refund stays, the goods have gone.
			if err := s.shipUnderRefund(ctx, tx, b, o, st); err != nil {
				return err
			}
		}
		if st == channel.OrderCompleted && (o.Status == Shipped || o.Status == Delivered) {
			return s.transition(ctx, tx, b, o, Completed, "platform", "completed on the platform")
		}
	}
	if changed {
		b.event(o, "version", "", "", "platform", "platform changed the order", "")
	}
	return nil
}

func linesKey(ls []Line) string {
	var b strings.Builder
	for _, l := range ls {
		fmt.Fprintf(&b, "%s|%s|%d|%d;", l.PlatformLineID, l.PlatformSKUID, l.Quantity, l.Paid)
	}
	return b.String()
}

// canMove reports whether o may go to the status to (the table and the
// refund bounds), for platform updates that apply only where legal.
func canMove(o *Order, to Status) bool {
	return CanTransition(o.Status, to) && checkRefundMove(o, to) == nil
}

// shipUnderRefund records that the platform shipped (or completed) an order
// whose refund is open or partial: its status keeps saying how far the
// refund went, its position moves on, and what it still had reserved is
// consumed.
func (s *Service) shipUnderRefund(ctx context.Context, tx store.Tx, b *batch, o *Order, st channel.OrderStatus) error {
	to := Shipped
	if st == channel.OrderCompleted {
		to = Completed
	}
	if o.RefundFrom == to || o.RefundFrom == Completed || (to == Shipped && shippedStatus(o.RefundFrom)) {
		return nil
	}
	if o.ownsStock() && s.opts.Stock != nil {
		if err := s.opts.Stock.ShipTx(ctx, tx, o.ID); err != nil {
			return errs.Wrap(err, errs.CodeOf(err), "ship stock of order %s", o.ID)
		}
	}
	from := o.RefundFrom
	o.RefundFrom, o.UpdatedAt = to, b.now
	b.event(o, "refund", "", "", "platform", string(st)+" on the platform while "+string(o.Status), "position "+string(from)+" → "+string(to))
	return nil
}

// The lookups of a batch, one statement per chunk of n keys. Each must probe
// an index per key, whatever the table's size (see TestIngestLookupsProbe):
// a plan that walks a shop's or a status's orders makes ingest slow down as
// the shop grows.

// storedOrdersQuery loads the stored orders of a shop by platform order id.
func storedOrdersQuery(e store.Engine, n int) string {
	var lock string
	if e == store.Postgres {
		// Locked in id order, so that concurrent batches cannot deadlock.
		// SQLite has one writer and needs neither; an ORDER BY id there
		// would make its planner walk the shop's (shop_id, id) index.
		lock = " ORDER BY id FOR UPDATE"
	}
	return `SELECT id, platform_order_id, platform_modified_at, payload_hash, channel_status, phone_key, paid_at FROM orders WHERE shop_id = ` +
		bulkPlaceholders(e, 1, 1) + ` AND platform_order_id IN (` + bulkPlaceholders(e, 2, n) + `)` + lock
}

// siblingsQuery loads a shop's approved orders of some buyers (merge
// candidates). On SQLite status is kept off the planner's choice: without
// statistics it would take the status index and read every approved order.
func siblingsQuery(e store.Engine, n int) string {
	status := "status"
	if e == store.SQLite {
		status = "+status"
	}
	return `SELECT id, merge_group, buyer_id, address_key, warehouse_id, paid_at FROM orders WHERE shop_id = ` + bulkPlaceholders(e, 1, 1) +
		` AND ` + status + ` = 'approved' AND buyer_id IN (` + bulkPlaceholders(e, 2, n) + `) ORDER BY paid_at`
}

// phoneCountsQuery counts the paid orders per receiver phone since a time.
func phoneCountsQuery(e store.Engine, n int) string {
	return `SELECT phone_key, COUNT(*) FROM orders WHERE paid_at >= ` + bulkPlaceholders(e, 1, 1) +
		` AND phone_key IN (` + bulkPlaceholders(e, 2, n) + `) GROUP BY phone_key`
}
