package douyinsim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// FlashSaleOptions configure a live-stream flash sale (直播间秒杀): the host
// launches a few SKUs and buyers rush to order and pay within seconds.
type FlashSaleOptions struct {
	SKUs            []int64       // SKUs on sale (default: every SKU of the shop)
	OrdersPerSecond int           // order attempts per second (default 200)
	Duration        time.Duration // default 1s
	MaxQty          int           // units per order, 1..MaxQty (default 1)
	CancelRatio     float64       // share of buyers who order but close the order unpaid (stock returns)
	RefundRatio     float64       // share of paying buyers who ask for a refund before shipment
	// AutoAgreeRefunds has the platform agree those refunds at once (as it
	// does when the seller lets the response window lapse); otherwise they
	// wait for the seller's decision through afterSale.operate.
	AutoAgreeRefunds bool
	Workers          int // concurrent buyers (default 8)
	// OnOrder, when set, is called (outside the shop lock) for every order
	// the platform accepted, with its final state in the sale.
	OnOrder func(o FlashOrder)
}

// FlashOrder is one accepted order of a flash sale.
type FlashOrder struct {
	OrderID, SkuID, Qty int64
	At                  time.Time // when the platform accepted it (simulator clock)
	Paid, Cancelled     bool
	RefundRequested     bool
	Refunded            bool
}

// FlashSaleResult counts what happened.
type FlashSaleResult struct {
	Attempts        int64 // buyers who tried to order
	Created         int64 // orders the platform accepted (stock deducted)
	SoldOut         int64 // orders refused because the platform's stock was exhausted
	Paid            int64
	Cancelled       int64 // closed unpaid
	RefundRequested int64
	Refunded        int64           // refunds the platform auto-agreed
	UnitsSold       map[int64]int64 // units in paid orders not refunded, by SKU
	Elapsed         time.Duration
	OrdersPerSecond float64 // accepted orders per second achieved
}

// FlashSale runs the sale against the simulator's own stock: every order
// deducts platform stock under the shop's lock, so the platform never sells
// more than it holds; when a SKU reaches 0 further buyers are refused. Each
// accepted order emits the pushes a real one would (100, 101, 106, 200…).
// The pace is held with a 10 ms tick; if the machine cannot keep up the
// achieved rate is reported rather than hidden.
func (s *Sim) FlashSale(ctx context.Context, o FlashSaleOptions) (FlashSaleResult, error) {
	if o.OrdersPerSecond <= 0 {
		o.OrdersPerSecond = 200
	}
	if o.Duration <= 0 {
		o.Duration = time.Second
	}
	if o.MaxQty <= 0 {
		o.MaxQty = 1
	}
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.CancelRatio < 0 || o.RefundRatio < 0 || o.CancelRatio+o.RefundRatio > 1 {
		return FlashSaleResult{}, errors.New("douyinsim: cancel and refund ratios must be within 0..1 together")
	}
	skus := o.SKUs
	if len(skus) == 0 {
		skus = s.SKUs()
	}
	if len(skus) == 0 {
		return FlashSaleResult{}, errors.New("douyinsim: no SKUs on sale")
	}
	s.mu.Lock()
	for _, id := range skus {
		if _, ok := s.skus[id]; !ok {
			s.mu.Unlock()
			return FlashSaleResult{}, fmt.Errorf("douyinsim: no sku %d", id)
		}
	}
	seed := s.rnd.Uint64()
	s.mu.Unlock()

	res := FlashSaleResult{UnitsSold: map[int64]int64{}}
	var rmu sync.Mutex
	jobs := make(chan struct{}, o.Workers*16)
	var wg sync.WaitGroup
	for w := 0; w < o.Workers; w++ {
		wg.Add(1)
		r := rand.New(rand.NewPCG(seed, uint64(w)+1))
		go func() {
			defer wg.Done()
			for range jobs {
				out := s.buyer(r, skus, o)
				if o.OnOrder != nil && !out.soldOut && out.err == nil {
					o.OnOrder(FlashOrder{OrderID: out.orderID, SkuID: out.sku, Qty: out.qty, At: out.at, Paid: out.paid,
						Cancelled: out.cancelled, RefundRequested: out.refundAsked, Refunded: out.refunded})
				}
				rmu.Lock()
				res.Attempts++
				switch {
				case out.soldOut:
					res.SoldOut++
				case out.err == nil:
					res.Created++
					if out.cancelled {
						res.Cancelled++
					}
					if out.paid {
						res.Paid++
					}
					if out.refundAsked {
						res.RefundRequested++
					}
					if out.refunded {
						res.Refunded++
					}
					if out.paid && !out.refunded {
						res.UnitsSold[out.sku] += out.qty
					}
				}
				rmu.Unlock()
			}
		}()
	}

	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	budget := 0.0
	last := start
	var err error
loop:
	for {
		select {
		case <-ctx.Done():
			err = ctx.Err()
			break loop
		case now := <-tick.C:
			if now.Sub(start) >= o.Duration {
				break loop
			}
			budget += now.Sub(last).Seconds() * float64(o.OrdersPerSecond)
			last = now
			for ; budget >= 1; budget-- {
				select {
				case jobs <- struct{}{}:
				case <-ctx.Done():
					err = ctx.Err()
					break loop
				}
			}
		}
	}
	tick.Stop()
	close(jobs)
	wg.Wait()
	res.Elapsed = time.Since(start)
	if res.Elapsed > 0 {
		res.OrdersPerSecond = float64(res.Created) / res.Elapsed.Seconds()
	}
	return res, err
}

type buyOutcome struct {
	orderID, sku, qty                               int64
	at                                              time.Time
	soldOut, paid, cancelled, refundAsked, refunded bool
	err                                             error
}

func (s *Sim) buyer(r *rand.Rand, skus []int64, o FlashSaleOptions) buyOutcome {
	k := skus[r.IntN(len(skus))]
	qty := int64(1 + r.IntN(o.MaxQty))
	roll := r.Float64()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := buyOutcome{sku: k, qty: qty}
	id, err := s.createLocked(NewOrder{Lines: []NewLine{{SkuID: k, Qty: qty}}, BuyerWords: "直播间秒杀"}, r)
	if errors.Is(err, ErrSoldOut) {
		out.soldOut = true
		return out
	}
	if err != nil {
		out.err = err
		return out
	}
	ord := s.orders[id]
	out.orderID, out.at = id, s.now()
	if roll < o.CancelRatio {
		s.cancelLocked(ord)
		out.cancelled = true
		return out
	}
	s.payLocked(ord)
	out.paid = true
	if roll < o.CancelRatio+o.RefundRatio {
		asID, err := s.requestRefundLocked(id, 0, ASTypeRefundUnshipped, "拍错了/不想要了")
		if err == nil {
			out.refundAsked = true
			if o.AutoAgreeRefunds {
				s.refundSucceededLocked(s.afterSales[asID])
				out.refunded = true
			}
		}
	}
	return out
}
