package taobaosim

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

type tmcMsg struct {
	ID          int64
	Topic       string
	Content     string
	PubTime     time.Time
	delivered   bool
	deliveredAt time.Time
	confirmed   bool
}

func (s *Sim) publish(topic string, content map[string]any) {
	if s.faults.DropRatio > 0 && s.rng.Float64() < s.faults.DropRatio {
		s.seq++ // the id is spent even though the message is lost
		return
	}
	b, _ := json.Marshal(content)
	s.tmc = append(s.tmc, &tmcMsg{ID: s.nextID(8000000000000000000), Topic: topic, Content: string(b), PubTime: s.now()})
}

func (s *Sim) publishTrade(topic string, t *trade) {
	_, _, pay := t.totals()
	c := map[string]any{"tid": t.Tid, "status": t.Status, "seller_nick": s.opts.SellerNick, "buyer_nick": t.BuyerNick,
		"payment": money(pay), "type": "fixed", "modified": fmtTime(t.Modified)}
	if len(t.Orders) > 0 {
		c["oid"] = t.Orders[0].Oid
	}
	s.publish(topic, c)
}

func (s *Sim) publishRefund(topic string, r *refund) {
	s.publish(topic, map[string]any{"refund_id": r.RefundID, "tid": r.Tid, "oid": r.Oid, "refund_fee": money(r.RefundFee),
		"refund_phase": r.Phase, "bill_type": "refund_bill", "seller_nick": s.opts.SellerNick, "modified": fmtTime(r.Modified)})
}

// Pending is the number of TMC messages not yet confirmed.
func (s *Sim) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, m := range s.tmc {
		if !m.confirmed {
			n++
		}
	}
	return n
}

func (s *Sim) messageJSON(m *tmcMsg) map[string]any {
	return map[string]any{"id": m.ID, "topic": m.Topic, "content": m.Content, "pub_time": fmtTime(m.PubTime),
		"pub_app_key": "12497914", "user_id": s.opts.SellerID, "user_nick": s.opts.SellerNick}
}

func (s *Sim) apiTMCConsume(p map[string]string) (any, *topErr) {
	if p["group_name"] != "" && p["group_name"] != "default" {
		return nil, bizErr("isv.group-not-exist", "分组不存在:"+p["group_name"])
	}
	q, terr := intParam(p, "quantity", 100)
	if terr != nil {
		return nil, terr
	}
	if q < tmcMinQuantity || q > tmcMaxQuantity {
		return nil, invalid("quantity", "quantity取值范围为10到200")
	}
	now := s.now()
	var batch []*tmcMsg
	for _, m := range s.tmc {
		if int64(len(batch)) >= q {
			break
		}
		if m.confirmed || (m.delivered && now.Sub(m.deliveredAt) < s.opts.RedeliverAfter) {
			continue
		}
		m.delivered, m.deliveredAt = true, now
		batch = append(batch, m)
	}
	out := make([]map[string]any, 0, len(batch))
	for _, m := range batch {
		out = append(out, s.messageJSON(m))
		if s.faults.DuplicateRatio > 0 && s.rng.Float64() < s.faults.DuplicateRatio {
			out = append(out, s.messageJSON(m))
		}
	}
	if s.faults.Reorder {
		s.rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	}
	return map[string]any{"messages": map[string]any{"tmc_message": out}}, nil
}

func (s *Sim) apiTMCConfirm(p map[string]string) (any, *topErr) {
	if terr := requireAll(p, "s_message_ids"); terr != nil {
		return nil, terr
	}
	ids := strings.Split(p["s_message_ids"], ",")
	if len(ids) > tmcMaxConfirm {
		return nil, invalid("s_message_ids", "最多200个消息ID")
	}
	set := map[int64]bool{}
	for _, x := range ids {
		id, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if err != nil {
			return nil, invalid("s_message_ids", "消息ID必须是数字")
		}
		set[id] = true
	}
	kept := s.tmc[:0]
	for _, m := range s.tmc {
		if set[m.ID] {
			m.confirmed = true
			continue // confirmed messages leave the queue
		}
		kept = append(kept, m)
	}
	s.tmc = kept
	return map[string]any{"is_success": true}, nil
}
