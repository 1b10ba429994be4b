package aftersales

import (
	"slices"

	"omnihub/channel"
	"omnihub/errs"
)

// Type is the kind of an after-sales case.
type Type string

const (
	RefundOnly   Type = "refund_only"   // money back, goods stay with the buyer (or were never shipped)
	ReturnRefund Type = "return_refund" // goods come back, then money back
	Exchange     Type = "exchange"      // goods come back, a replacement SKU goes out
	Reship       Type = "reship"        // a replacement goes out, nothing comes back (lost / damaged parcel)
)

// Types lists every case type.
var Types = []Type{RefundOnly, ReturnRefund, Exchange, Reship}

// Valid reports whether t is a known type.
func (t Type) Valid() bool { return slices.Contains(Types, t) }

// Returns reports whether goods come back for this type.
func (t Type) Returns() bool { return t == ReturnRefund || t == Exchange }

// State of a case.
type State string

const (
	Requested       State = "requested"
	Approved        State = "approved"
	Refused         State = "refused"
	AwaitingReturn  State = "awaiting_return"
	ReturnInTransit State = "return_in_transit"
	Received        State = "received"
	QCDone          State = "qc_done"
	Restocked       State = "restocked"
	Refunded        State = "refunded"
	ExchangeShipped State = "exchange_shipped"
	Reshipped       State = "reshipped"
	Closed          State = "closed"
	Cancelled       State = "cancelled"
)

// States lists every state in the order a case normally moves through them.
var States = []State{Requested, Approved, Refused, AwaitingReturn, ReturnInTransit, Received, QCDone,
	Restocked, Refunded, ExchangeShipped, Reshipped, Closed, Cancelled}

// Open reports whether a case in this state still needs someone to act
// before it is settled (the buyer may still cancel it).
func (s State) Open() bool {
	switch s {
	case Requested, Approved, AwaitingReturn, ReturnInTransit, Received, QCDone, Restocked:
		return true
	}
	return false
}

// Terminal reports whether nothing can follow.
func (s State) Terminal() bool { return s == Closed || s == Cancelled }

// Action is a step that moves a case from one state to another.
type Action string

const (
	ActCreate        Action = "create"
	ActApprove       Action = "approve"
	ActRefuse        Action = "refuse"
	ActAwaitReturn   Action = "await_return"
	ActReturnShipped Action = "return_shipped" // the buyer gave a return tracking number
	ActReceive       Action = "receive"
	ActQC            Action = "qc"
	ActRestock       Action = "restock"
	ActRefund        Action = "refund"
	ActShipExchange  Action = "ship_exchange"
	ActReship        Action = "reship"
	ActClose         Action = "close"
	ActCancel        Action = "cancel"
	ActReopen        Action = "reopen"   // the buyer asked again after a refusal (platform only)
	ActPlatform      Action = "platform" // a platform update that changed no state (history only)
	ActResponded     Action = "responded"
	ActRespondFailed Action = "respond_failed"
)

// Transition is one edge of the state machine.
type Transition struct {
	From   State
	Action Action
	To     State
	// Types the edge applies to; nil means every type.
	Types []Type
	// PlatformOnly edges are taken only when the platform says so (a
	// platform that refunded on its own, a buyer asking again).
	PlatformOnly bool
}

// Transitions is the state machine. Anything not listed is illegal.
var Transitions = []Transition{
	{From: Requested, Action: ActApprove, To: Approved},
	{From: Requested, Action: ActRefuse, To: Refused},
	{From: Approved, Action: ActAwaitReturn, To: AwaitingReturn, Types: []Type{ReturnRefund, Exchange}},
	{From: Approved, Action: ActRefund, To: Refunded, Types: []Type{RefundOnly}},
	{From: Approved, Action: ActShipExchange, To: ExchangeShipped, Types: []Type{Exchange}},
	{From: Approved, Action: ActReship, To: Reshipped, Types: []Type{Reship}},
	{From: AwaitingReturn, Action: ActReturnShipped, To: ReturnInTransit, Types: []Type{ReturnRefund, Exchange}},
	{From: AwaitingReturn, Action: ActReceive, To: Received, Types: []Type{ReturnRefund, Exchange}},
	{From: ReturnInTransit, Action: ActReceive, To: Received, Types: []Type{ReturnRefund, Exchange}},
	{From: Received, Action: ActQC, To: QCDone, Types: []Type{ReturnRefund, Exchange}},
	{From: QCDone, Action: ActRestock, To: Restocked, Types: []Type{ReturnRefund, Exchange}},
	{From: Restocked, Action: ActRefund, To: Refunded, Types: []Type{ReturnRefund}},
	{From: Restocked, Action: ActShipExchange, To: ExchangeShipped, Types: []Type{Exchange}},
	// The platform may settle a return before the warehouse has processed
	// it (seller agreed in the platform's back office, timeout auto-refund).
	{From: AwaitingReturn, Action: ActRefund, To: Refunded, Types: []Type{ReturnRefund}, PlatformOnly: true},
	{From: ReturnInTransit, Action: ActRefund, To: Refunded, Types: []Type{ReturnRefund}, PlatformOnly: true},
	{From: Received, Action: ActRefund, To: Refunded, Types: []Type{ReturnRefund}, PlatformOnly: true},
	{From: QCDone, Action: ActRefund, To: Refunded, Types: []Type{ReturnRefund}, PlatformOnly: true},
	{From: Refused, Action: ActReopen, To: Requested, PlatformOnly: true},
	{From: Refused, Action: ActClose, To: Closed},
	{From: Refunded, Action: ActClose, To: Closed},
	{From: ExchangeShipped, Action: ActClose, To: Closed},
	{From: Reshipped, Action: ActClose, To: Closed},
	{From: Requested, Action: ActCancel, To: Cancelled},
	{From: Approved, Action: ActCancel, To: Cancelled},
	{From: AwaitingReturn, Action: ActCancel, To: Cancelled},
	{From: ReturnInTransit, Action: ActCancel, To: Cancelled},
	{From: Received, Action: ActCancel, To: Cancelled},
	{From: QCDone, Action: ActCancel, To: Cancelled},
	{From: Restocked, Action: ActCancel, To: Cancelled},
}

// Next returns the state an action leads to from a state for a case type,
// or a Conflict error naming the illegal transition.
func Next(t Type, from State, a Action, byPlatform bool) (State, error) {
	for _, tr := range Transitions {
		if tr.From != from || tr.Action != a {
			continue
		}
		if tr.Types != nil && !slices.Contains(tr.Types, t) {
			continue
		}
		if tr.PlatformOnly && !byPlatform {
			continue
		}
		return tr.To, nil
	}
	return "", errs.E(errs.Conflict, "illegal transition: cannot %s a %s case in state %s", a, t, from).
		WithField("state", string(from))
}

// Allowed lists the actions a person may take on a case now.
func Allowed(t Type, from State) []Action {
	var out []Action
	for _, tr := range Transitions {
		if tr.From == from && !tr.PlatformOnly && (tr.Types == nil || slices.Contains(tr.Types, t)) {
			out = append(out, tr.Action)
		}
	}
	return out
}

// TypeFromPlatform maps a platform's kind of request to a case type.
func TypeFromPlatform(k channel.RefundKind) (Type, error) {
	switch k {
	case channel.RefundOnly:
		return RefundOnly, nil
	case channel.ReturnRefund:
		return ReturnRefund, nil
	case channel.Exchange:
		return Exchange, nil
	case channel.ReshipRequest:
		return Reship, nil
	}
	return "", errs.E(errs.Invalid, "unsupported after-sales kind %q", k).WithField("kind", "unsupported")
}

// StateFromPlatform is the case state a platform status corresponds to
// (platform → case). Succeeded means money returned for refund types and
// the case settled for exchanges and reships.
func StateFromPlatform(t Type, s channel.RefundStatus) (State, error) {
	switch s {
	case channel.RefundRequested:
		return Requested, nil
	case channel.RefundAgreed:
		return Approved, nil
	case channel.RefundWaitBuyerReturn:
		return AwaitingReturn, nil
	case channel.RefundBuyerReturned:
		return ReturnInTransit, nil
	case channel.RefundRefused:
		return Refused, nil
	case channel.RefundSucceeded:
		switch t {
		case Exchange:
			return ExchangeShipped, nil
		case Reship:
			return Reshipped, nil
		}
		return Refunded, nil
	case channel.RefundClosed:
		return Cancelled, nil
	}
	return "", errs.E(errs.Invalid, "unknown platform refund status %q", s).WithField("status", "unknown")
}

// DecisionFor is the answer sent to the platform when a person (or a rule)
// takes an action on a platform case (case → platform). ok is false when
// the platform needs no answer for that step. Exchanges get no separate
// confirm_receipt: the platforms confirm the returned goods and take the
// replacement's parcel in one operation (Douyin afterSale.operate 311,
// Tmall tmall.exchange.confirm.consign), sent when the replacement ships.
func DecisionFor(t Type, a Action) (action string, ok bool) {
	switch {
	case (a == ActShipExchange && t == Exchange) || (a == ActReship && t == Reship):
		return channel.RefundShipReplacement, true
	case a == ActApprove:
		return channel.RefundAgree, true
	case a == ActRefuse:
		return channel.RefundRefuse, true
	case a == ActRefund && t == ReturnRefund:
		// The warehouse has the goods back and QC passed: confirming
		// receipt is what makes the platform pay the buyer.
		return channel.RefundConfirmReceipt, true
	}
	return "", false
}
