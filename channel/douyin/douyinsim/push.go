package douyinsim

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// PushStats count message-push activity.
type PushStats struct {
	Enqueued   int // messages generated
	Dropped    int // lost on purpose (fault injection)
	Duplicated int // sent twice on purpose
	Posts      int // HTTP calls to the webhook
	Delivered  int // messages acknowledged with {"code":0,...}
	Retries    int // messages rescheduled after a failed call
	Failed     int // messages given up after all retries
	NoWebhook  int // messages discarded because no webhook is set
}

type pushItem struct {
	msg     map[string]string
	attempt int
}

type pushQueue struct {
	s       *Sim
	mu      sync.Mutex
	cond    *sync.Cond
	q       []pushItem
	pending int // queued + in flight + waiting for a retry
	closed  bool
	seq     int64
	stats   PushStats
	wg      sync.WaitGroup
}

func (pq *pushQueue) init(s *Sim) {
	pq.s = s
	pq.cond = sync.NewCond(&pq.mu)
	for i := 0; i < s.opt.PushWorkers; i++ {
		pq.wg.Add(1)
		go pq.worker()
	}
}

func (pq *pushQueue) close() {
	pq.mu.Lock()
	pq.closed = true
	pq.cond.Broadcast()
	pq.mu.Unlock()
	pq.wg.Wait()
}

// enqueueLocked is called with s.mu held (it reads faults and the rng).
func (s *Sim) enqueueLocked(tag string, data map[string]any) {
	b, _ := json.Marshal(data)
	pq := &s.pq
	drop := s.faults.DropPushRatio > 0 && s.rnd.Float64() < s.faults.DropPushRatio
	dup := s.faults.DuplicatePushRatio > 0 && s.rnd.Float64() < s.faults.DuplicatePushRatio
	pq.mu.Lock()
	defer pq.mu.Unlock()
	pq.seq++
	msg := map[string]string{"tag": tag, "msg_id": strconv.FormatInt(7000000000000000000+pq.seq, 10), "data": string(b)}
	pq.stats.Enqueued++
	if drop {
		pq.stats.Dropped++
		return
	}
	n := 1
	if dup {
		n = 2
		pq.stats.Duplicated++
	}
	for i := 0; i < n; i++ {
		pq.q = append(pq.q, pushItem{msg: msg})
		pq.pending++
	}
	pq.cond.Broadcast() // workers and WaitPushes share the cond: wake all
}

func (pq *pushQueue) worker() {
	defer pq.wg.Done()
	for {
		pq.mu.Lock()
		for len(pq.q) == 0 && !pq.closed {
			pq.cond.Wait()
		}
		if pq.closed {
			pq.mu.Unlock()
			return
		}
		n := min(len(pq.q), pq.s.opt.PushBatch)
		batch := append([]pushItem(nil), pq.q[:n]...)
		pq.q = pq.q[n:]
		pq.mu.Unlock()
		pq.deliver(batch)
	}
}

func (pq *pushQueue) deliver(batch []pushItem) {
	s := pq.s
	s.mu.Lock()
	url := s.opt.WebhookURL
	if s.faults.ReorderPushes && len(batch) > 1 {
		s.rnd.Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
	}
	s.mu.Unlock()
	if url == "" {
		pq.mu.Lock()
		pq.stats.NoWebhook += len(batch)
		pq.pending -= len(batch)
		pq.cond.Broadcast()
		pq.mu.Unlock()
		return
	}
	msgs := make([]map[string]string, len(batch))
	for i, it := range batch {
		msgs[i] = it.msg
	}
	body, _ := json.Marshal(msgs)
	ok := pq.post(url, body)
	pq.mu.Lock()
	defer pq.mu.Unlock()
	pq.stats.Posts++
	if ok {
		pq.stats.Delivered += len(batch)
		pq.pending -= len(batch)
		pq.cond.Broadcast()
		return
	}
	for _, it := range batch {
		if it.attempt >= s.opt.PushRetries || pq.closed {
			pq.stats.Failed++
			pq.pending--
			continue
		}
		pq.stats.Retries++
		it.attempt++
		delay := s.opt.PushBackoff << (it.attempt - 1)
		time.AfterFunc(delay, func() {
			pq.mu.Lock()
			defer pq.mu.Unlock()
			if pq.closed {
				pq.pending--
				pq.cond.Broadcast()
				return
			}
			pq.q = append(pq.q, it)
			pq.cond.Broadcast() // workers and WaitPushes share the cond: wake all
		})
	}
	pq.cond.Broadcast()
}

// PushSign is the simulator's event-sign: md5(app_key + body + app_secret).
func pushSign(appKey, secret string, body []byte) string {
	h := md5.New()
	h.Write([]byte(appKey))
	h.Write(body)
	h.Write([]byte(secret))
	return hex.EncodeToString(h.Sum(nil))
}

func (pq *pushQueue) post(url string, body []byte) bool {
	s := pq.s
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("app-id", s.opt.AppKey)
	req.Header.Set("event-sign", pushSign(s.opt.AppKey, s.opt.AppSecret, body))
	resp, err := s.hc.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return false
	}
	var ack struct {
		Code *int   `json:"code"`
		Msg  string `json:"msg"`
	}
	return json.Unmarshal(rb, &ack) == nil && ack.Code != nil && *ack.Code == 0
}

// PushStats returns the push counters.
func (s *Sim) PushStats() PushStats {
	s.pq.mu.Lock()
	defer s.pq.mu.Unlock()
	return s.pq.stats
}

// WaitPushes blocks until every generated message was delivered, given up
// or discarded, or ctx ends.
func (s *Sim) WaitPushes(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		s.pq.mu.Lock()
		for s.pq.pending > 0 && !s.pq.closed && ctx.Err() == nil {
			s.pq.cond.Wait()
		}
		s.pq.mu.Unlock()
		close(done)
	}()
	select {
	case <-done:
		return ctx.Err()
	case <-ctx.Done():
		s.pq.mu.Lock()
		s.pq.cond.Broadcast()
		s.pq.mu.Unlock()
		<-done
		return ctx.Err()
	}
}

// SendVerification pushes the platform's URL check message (tag "0").
func (s *Sim) SendVerification() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.enqueueLocked("0", map[string]any{})
}

func (s *Sim) pushOrderLocked(o *order, tag string) {
	sids := make([]string, len(o.lines))
	for i, l := range o.lines {
		sids[i] = strconv.FormatInt(l.id, 10)
	}
	d := map[string]any{
		"p_id": o.id, "s_ids": sids, "shop_id": s.opt.ShopID, "order_status": o.status,
		"order_type": 0, "biz": 2, "create_time": o.create, "update_time": o.update,
	}
	switch tag {
	case "101":
		d["pay_time"] = o.pay
		d["pay_amount"] = o.payAmount()
	case "102":
		d["ship_time"] = o.shipTime
		d["logistics_msg"] = map[string]any{"express_company_id": o.company, "logistics_code": o.tracking}
	case "103":
		d["complete_time"] = o.finish
	case "105":
		d["modify_time"] = o.update
	case "106":
		d["cancel_time"] = o.update
		d["cancel_reason"] = "买家取消订单"
	}
	s.enqueueLocked(tag, d)
}

func (o *order) payAmount() int64 {
	var t int64
	for _, l := range o.lines {
		t += l.pay
	}
	return t + o.post
}

func (s *Sim) pushAfterSaleLocked(a *afterSale, tag string) {
	d := map[string]any{
		"p_id": a.orderID, "s_id": a.lineID, "shop_id": s.opt.ShopID, "aftersale_id": a.id,
		"aftersale_status": a.status, "aftersale_type": a.typ, "refund_amount": a.amount,
		"reason_code": 1, "update_time": a.update,
	}
	switch tag {
	case "200":
		d["apply_time"] = a.create
	case "201", "202":
		d["agree_time"] = a.update
	case "203":
		d["return_book_time"] = a.update
		d["return_logistics_code"] = a.returnNo
	case "204", "205":
		d["refuse_time"] = a.update
	case "207":
		d["refund_time"] = a.update
	}
	s.enqueueLocked(tag, d)
}
