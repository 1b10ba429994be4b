package taobao

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"omnihub/channel"
)

// TMC limits: taobao.tmc.messages.consume takes quantity 10..200,
// taobao.tmc.messages.confirm at most 200 ids.
const (
	tmcMinQuantity = 10
	tmcMaxQuantity = 200
	tmcMaxConfirm  = 200
)

// ConsumeMessages implements channel.MessageConsumer with
// taobao.tmc.messages.consume (default group). At most limit messages are
// returned; the rest of a batch stays unconfirmed and TMC redelivers it.
// The group can be chosen with Credentials.Extra["tmc_group"].
func (c *Connector) ConsumeMessages(ctx context.Context, s channel.Session, limit int) ([]channel.Message, error) {
	q := min(max(limit, tmcMinQuantity), tmcMaxQuantity)
	raw, err := c.Call(ctx, s.Credentials, "taobao.tmc.messages.consume", map[string]string{
		"quantity":   strconv.Itoa(q),
		"group_name": s.Credentials.Extra["tmc_group"],
	})
	if err != nil {
		return nil, err
	}
	msgs, err := decodeTMC(raw)
	if err != nil {
		return nil, err
	}
	if limit > 0 && len(msgs) > limit {
		msgs = msgs[:limit]
	}
	return msgs, nil
}

// decodeTMC decodes a consume answer. A message whose content cannot be
// read is still returned (kind "other", raw kept) so that it is stored and
// confirmed rather than redelivered forever; only id-less entries, which
// cannot be confirmed, are skipped.
func decodeTMC(raw json.RawMessage) ([]channel.Message, error) {
	var w struct {
		Messages list[topTMCMessage] `json:"messages"`
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		return nil, decodeErr("tmc messages", "", err)
	}
	out := make([]channel.Message, 0, len(w.Messages))
	for _, m := range w.Messages {
		msg, err := toMessage(m)
		if err != nil {
			if msg.ID == "" {
				continue
			}
			msg.Kind = channel.MsgOther
		}
		out = append(out, msg)
	}
	return out, nil
}

// ConfirmMessages implements channel.MessageConsumer with
// taobao.tmc.messages.confirm (s_message_ids, 200 per call).
func (c *Connector) ConfirmMessages(ctx context.Context, s channel.Session, ids []string) error {
	for len(ids) > 0 {
		n := min(len(ids), tmcMaxConfirm)
		raw, err := c.Call(ctx, s.Credentials, "taobao.tmc.messages.confirm", map[string]string{
			"s_message_ids": strings.Join(ids[:n], ","),
			"group_name":    s.Credentials.Extra["tmc_group"],
		})
		if err != nil {
			return err
		}
		var r struct {
			IsSuccess flexBool `json:"is_success"`
		}
		if err := json.Unmarshal(raw, &r); err != nil || !r.IsSuccess {
			return &channel.APIError{Platform: channel.Taobao, Code: "confirm_failed",
				Message: "tmc confirm not successful", Class: channel.ClassTransient}
		}
		ids = ids[n:]
	}
	return nil
}
