package order

import (
	"net/http"
	"strings"
	"time"

	"omnihub/api"
	"omnihub/errs"
)

// Permissions of the order API.
const (
	PermRead  = "orders.read"
	PermWrite = "orders.write"
	// PermPII reveals receiver names, phones, street addresses and raw
	// platform payloads; without it they are masked.
	PermPII = "orders.pii"
)

// HTTPOptions connect the handlers to authentication.
type HTTPOptions struct {
	// Caller names the authenticated caller and whether it holds
	// orders.pii. Default: actor "api", no PII.
	Caller func(r *http.Request) (actor string, pii bool)
}

type handlers struct {
	s      *Service
	caller func(r *http.Request) (string, bool)
}

// Register adds the order routes to srv.
func (s *Service) Register(srv *api.Server, opts HTTPOptions) {
	h := &handlers{s: s, caller: opts.Caller}
	if h.caller == nil {
		h.caller = func(*http.Request) (string, bool) { return "api", false }
	}
	srv.Handle("GET /api/v1/orders", PermRead, h.list)
	srv.Handle("GET /api/v1/orders/{id}", PermRead, h.get)
	srv.Handle("POST /api/v1/orders/{id}/transition", PermWrite, h.transition)
	srv.Handle("POST /api/v1/orders/{id}/cancel", PermWrite, h.cancel)
	srv.Handle("GET /api/v1/order-exceptions", PermRead, h.exceptions)
	srv.Handle("POST /api/v1/order-exceptions/{id}/fix", PermWrite, h.fix)
	srv.Handle("POST /api/v1/order-exceptions/{id}/approve", PermWrite, h.approve)
	srv.Handle("POST /api/v1/order-exceptions/{id}/reject", PermWrite, h.reject)
	srv.Handle("POST /api/v1/order-exceptions/{id}/replay", PermWrite, h.replay)
	srv.Handle("GET /api/v1/order-rules", PermRead, h.rules)
	srv.Handle("POST /api/v1/order-rules", PermWrite, h.createRule)
	srv.Handle("PUT /api/v1/order-rules/{id}", PermWrite, h.updateRule)
	srv.Handle("DELETE /api/v1/order-rules/{id}", PermWrite, h.deleteRule)
	srv.Handle("POST /api/v1/order-rules/dry-run", PermRead, h.dryRun)
	srv.Handle("POST /api/v1/order-blacklist", PermWrite, h.blacklist)
	srv.Handle("GET /api/v1/order-blacklist", PermPII, h.listBlacklist)
	srv.Handle("DELETE /api/v1/order-blacklist/{id}", PermWrite, h.unblacklist)
}

func (h *handlers) out(r *http.Request, o Order) Order {
	if _, pii := h.caller(r); pii {
		return o
	}
	return o.Masked()
}

func parseQuery(r *http.Request) (Query, error) {
	v := r.URL.Query()
	q := Query{ShopID: v.Get("shop_id"), HoldReason: v.Get("hold_reason"), Search: strings.TrimSpace(v.Get("q")), Cursor: v.Get("cursor")}
	if st := v.Get("status"); st != "" {
		for _, x := range strings.Split(st, ",") {
			if _, ok := transitions[Status(x)]; !ok {
				return q, errs.WithField("status", "unknown status "+x)
			}
			q.Status = append(q.Status, Status(x))
		}
	}
	for name, dst := range map[string]**time.Time{"created_from": &q.CreatedFrom, "created_to": &q.CreatedTo} {
		if s := v.Get(name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return q, errs.WithField(name, "must be an RFC 3339 time")
			}
			*dst = &t
		}
	}
	n, err := api.QueryInt(r, "limit", 50, 1, 200)
	q.Limit = n
	return q, err
}

func (h *handlers) page(w http.ResponseWriter, r *http.Request, p api.Page[Order], err error) error {
	if err != nil {
		return err
	}
	for i := range p.Items {
		p.Items[i] = h.out(r, p.Items[i])
	}
	return api.WriteJSON(w, http.StatusOK, p)
}

func (h *handlers) list(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r)
	if err != nil {
		return err
	}
	p, err := h.s.List(r.Context(), q)
	return h.page(w, r, p, err)
}

func (h *handlers) exceptions(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r)
	if err != nil {
		return err
	}
	p, err := h.s.Exceptions(r.Context(), q)
	return h.page(w, r, p, err)
}

func (h *handlers) get(w http.ResponseWriter, r *http.Request) error {
	d, err := h.s.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if _, pii := h.caller(r); !pii {
		d = d.Masked()
	}
	return api.WriteJSON(w, http.StatusOK, d)
}

type reasonBody struct {
	Reason string `json:"reason"`
	To     Status `json:"to,omitempty"`
}

func decodeReason(r *http.Request) (reasonBody, error) {
	var b reasonBody
	if r.ContentLength == 0 {
		return b, nil
	}
	err := api.DecodeJSON(r, &b)
	return b, err
}

func (h *handlers) done(w http.ResponseWriter, r *http.Request, o *Order, err error) error {
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, h.out(r, *o))
}

func (h *handlers) transition(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeReason(r)
	if err != nil {
		return err
	}
	if _, ok := transitions[b.To]; !ok {
		return errs.WithField("to", "unknown status")
	}
	actor, _ := h.caller(r)
	o, err := h.s.Transition(r.Context(), r.PathValue("id"), b.To, actor, b.Reason)
	return h.done(w, r, o, err)
}

func (h *handlers) cancel(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeReason(r)
	if err != nil {
		return err
	}
	actor, _ := h.caller(r)
	o, err := h.s.Cancel(r.Context(), r.PathValue("id"), actor, b.Reason)
	return h.done(w, r, o, err)
}

func (h *handlers) fix(w http.ResponseWriter, r *http.Request) error {
	var f Fix
	if err := api.DecodeJSON(r, &f); err != nil {
		return err
	}
	actor, _ := h.caller(r)
	o, err := h.s.FixOrder(r.Context(), r.PathValue("id"), f, actor)
	return h.done(w, r, o, err)
}

func (h *handlers) approve(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeReason(r)
	if err != nil {
		return err
	}
	actor, _ := h.caller(r)
	o, err := h.s.Approve(r.Context(), r.PathValue("id"), actor, b.Reason)
	return h.done(w, r, o, err)
}

func (h *handlers) reject(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeReason(r)
	if err != nil {
		return err
	}
	actor, _ := h.caller(r)
	o, err := h.s.Reject(r.Context(), r.PathValue("id"), actor, b.Reason)
	return h.done(w, r, o, err)
}

func (h *handlers) replay(w http.ResponseWriter, r *http.Request) error {
	actor, _ := h.caller(r)
	o, err := h.s.Replay(r.Context(), r.PathValue("id"), actor)
	return h.done(w, r, o, err)
}

func (h *handlers) rules(w http.ResponseWriter, r *http.Request) error {
	rs, err := h.s.Rules(r.Context())
	if err != nil {
		return err
	}
	if rs == nil {
		rs = []Rule{}
	}
	return api.WriteJSON(w, http.StatusOK, map[string]any{"items": rs})
}

func (h *handlers) createRule(w http.ResponseWriter, r *http.Request) error {
	var ru Rule
	if err := api.DecodeJSON(r, &ru); err != nil {
		return err
	}
	ru.ID = ""
	actor, _ := h.caller(r)
	saved, err := h.s.SaveRule(r.Context(), ru, actor)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusCreated, saved)
}

func (h *handlers) updateRule(w http.ResponseWriter, r *http.Request) error {
	var ru Rule
	if err := api.DecodeJSON(r, &ru); err != nil {
		return err
	}
	ru.ID = r.PathValue("id")
	actor, _ := h.caller(r)
	saved, err := h.s.SaveRule(r.Context(), ru, actor)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, saved)
}

func (h *handlers) deleteRule(w http.ResponseWriter, r *http.Request) error {
	actor, _ := h.caller(r)
	if err := h.s.DeleteRule(r.Context(), r.PathValue("id"), actor); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handlers) dryRun(w http.ResponseWriter, r *http.Request) error {
	var req DryRunRequest
	if err := api.DecodeJSON(r, &req); err != nil {
		return err
	}
	res, err := h.s.DryRun(r.Context(), req)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, res)
}

func (h *handlers) blacklist(w http.ResponseWriter, r *http.Request) error {
	var e BlacklistEntry
	if err := api.DecodeJSON(r, &e); err != nil {
		return err
	}
	actor, _ := h.caller(r)
	saved, err := h.s.AddBlacklist(r.Context(), e, actor)
	if err != nil {
		return err
	}
	saved.Value = MaskPhone(saved.Value)
	return api.WriteJSON(w, http.StatusCreated, saved)
}

func (h *handlers) listBlacklist(w http.ResponseWriter, r *http.Request) error {
	l, err := h.s.Blacklist(r.Context())
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, map[string]any{"items": l})
}

func (h *handlers) unblacklist(w http.ResponseWriter, r *http.Request) error {
	actor, _ := h.caller(r)
	if err := h.s.RemoveBlacklist(r.Context(), r.PathValue("id"), actor); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
