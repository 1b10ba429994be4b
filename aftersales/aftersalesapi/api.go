// Package aftersalesapi exposes the after-sales service over OmniHub's HTTP
// API: cases (list, detail with attributed history, manual create, every
// step), reports, and auto-approval rules with dry runs. Handlers decode,
// call aftersales.Service and encode; the rules live in the service.
package aftersalesapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"omnihub/aftersales"
	"omnihub/api"
	"omnihub/auth"
	"omnihub/errs"
)

// Options configure the routes.
type Options struct {
	// Actor names who is calling, for the case history. Default: the
	// authenticated principal (auth.ActorFrom).
	Actor func(r *http.Request) string
}

type handlers struct {
	svc   *aftersales.Service
	actor func(r *http.Request) string
}

const (
	read  = "aftersales.read"
	write = "aftersales.write"
	base  = "/api/v1/aftersales"
)

var tags = []string{"aftersales"}

// Register adds the after-sales routes to s.
func Register(s *api.Server, svc *aftersales.Service, opts Options) {
	h := &handlers{svc: svc, actor: opts.Actor}
	if h.actor == nil {
		h.actor = func(r *http.Request) string { return auth.ActorFrom(r.Context()) }
	}
	op := func(method, path, perm, summary string, req, resp any, status int, query []string, fn api.HandlerFunc) {
		s.HandleOp(api.Op{Method: method, Path: base + path, Permission: perm, Summary: summary, Tags: tags,
			Request: req, Response: resp, Status: status, Query: query}, fn)
	}
	op("GET", "/cases", read, "List after-sales cases, newest first", nil, api.Page[aftersales.Case]{}, 0,
		[]string{"shop_id", "state", "type", "platform_order_id", "open", "older_than", "limit", "cursor"}, h.list)
	op("POST", "/cases", write, "Open a case by hand", aftersales.NewCase{}, aftersales.Case{}, http.StatusCreated, nil, h.create)
	op("GET", "/cases/{id}", read, "A case with its lines, QC results and full attributed history", nil, aftersales.Case{}, 0, nil, h.get)
	op("POST", "/cases/{id}/approve", write, "Approve (answers the platform); optionally set the warehouse and replacement SKUs",
		aftersales.Approval{}, aftersales.Case{}, 0, nil, h.approve)
	op("POST", "/cases/{id}/refuse", write, "Refuse with a reason (answers the platform)", reasonBody{}, aftersales.Case{}, 0, nil, h.refuse)
	op("POST", "/cases/{id}/return-tracking", write, "Record the buyer's return parcel", trackingBody{}, aftersales.Case{}, 0, nil,
		h.tracking(h.svc.ReturnShipped))
	op("POST", "/cases/{id}/receive", write, "The return arrived at the warehouse", noteBody{}, aftersales.Case{}, 0, nil,
		h.note(h.svc.Receive))
	op("POST", "/cases/{id}/qc", write, "Record QC per returned unit (good or defective)", qcBody{}, aftersales.Case{}, 0, nil, h.qc)
	op("POST", "/cases/{id}/restock", write, "Book inspected units back into stock", nil, aftersales.Case{}, 0, nil, h.restock)
	op("POST", "/cases/{id}/refund", write, "Record the refund (for returns, confirms receipt to the platform)", noteBody{}, aftersales.Case{}, 0, nil,
		h.note(h.svc.Refund))
	op("POST", "/cases/{id}/ship", write, "Ship an exchange's or a reship's replacement", trackingBody{}, aftersales.Case{}, 0, nil,
		h.tracking(h.svc.Ship))
	op("POST", "/cases/{id}/cancel", write, "Cancel an open case", noteBody{}, aftersales.Case{}, 0, nil, h.note(h.svc.Cancel))
	op("POST", "/cases/{id}/close", write, "Close a settled case", noteBody{}, aftersales.Case{}, 0, nil, h.note(h.svc.Close))

	op("GET", "/reports/open", read, "Open cases by state and age", nil, []aftersales.OpenBucket{}, 0, []string{"shop_id"}, h.open)
	op("GET", "/reports/reasons", read, "Cases by reason and type", nil, []aftersales.ReasonCount{}, 0, []string{"shop_id", "since"}, h.reasons)
	op("GET", "/reports/defects", read, "Defect rate of returned units by SKU", nil, []aftersales.DefectRate{}, 0, []string{"since"}, h.defects)

	op("GET", "/rules", read, "Auto-approval rules in evaluation order", nil, []aftersales.Rule{}, 0, nil, h.rules)
	op("POST", "/rules", write, "Create an auto-approval rule (validated)", aftersales.RuleInput{}, aftersales.Rule{}, http.StatusCreated, nil, h.createRule)
	op("GET", "/rules/{id}", read, "One rule", nil, aftersales.Rule{}, 0, nil, h.getRule)
	op("PUT", "/rules/{id}", write, "Replace a rule (validated)", aftersales.RuleInput{}, aftersales.Rule{}, 0, nil, h.updateRule)
	op("DELETE", "/rules/{id}", write, "Delete a rule", nil, nil, http.StatusNoContent, nil, h.deleteRule)
	op("POST", "/rules/dry-run", read, "Try a rule on a stored case or a sample, storing nothing", DryRunBody{}, aftersales.DryRun{}, 0, nil, h.dryRun)
}

type noteBody struct {
	Note string `json:"note,omitempty"`
}

type reasonBody struct {
	Reason string `json:"reason"`
}

type trackingBody struct {
	Carrier    string `json:"carrier"`
	TrackingNo string `json:"tracking_no"`
}

type qcBody struct {
	Units []aftersales.QCInput `json:"units"`
}

// DryRunBody tries a rule on a stored case (case_id) or on a sample.
type DryRunBody struct {
	Expression string           `json:"expression"`
	CaseID     string           `json:"case_id,omitempty"`
	Sample     *aftersales.Case `json:"sample,omitempty"`
	Shipped    bool             `json:"shipped,omitempty"`
}

// optionalBody decodes a body that may be absent.
func optionalBody(r *http.Request, v any) error {
	if r.ContentLength == 0 {
		return nil
	}
	return api.DecodeJSON(r, v)
}

func (h *handlers) note(fn func(ctx context.Context, id, actor, note string) (aftersales.Case, error)) api.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var b noteBody
		if err := optionalBody(r, &b); err != nil {
			return err
		}
		c, err := fn(r.Context(), r.PathValue("id"), h.actor(r), b.Note)
		if err != nil {
			return err
		}
		return api.WriteJSON(w, http.StatusOK, c)
	}
}

func (h *handlers) tracking(fn func(ctx context.Context, id, actor, carrier, no string) (aftersales.Case, error)) api.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var b trackingBody
		if err := api.DecodeJSON(r, &b); err != nil {
			return err
		}
		c, err := fn(r.Context(), r.PathValue("id"), h.actor(r), b.Carrier, b.TrackingNo)
		if err != nil {
			return err
		}
		return api.WriteJSON(w, http.StatusOK, c)
	}
}

func (h *handlers) approve(w http.ResponseWriter, r *http.Request) error {
	var a aftersales.Approval
	if err := optionalBody(r, &a); err != nil {
		return err
	}
	c, err := h.svc.ApproveWith(r.Context(), r.PathValue("id"), h.actor(r), a)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, c)
}

func (h *handlers) refuse(w http.ResponseWriter, r *http.Request) error {
	var b reasonBody
	if err := api.DecodeJSON(r, &b); err != nil {
		return err
	}
	c, err := h.svc.Refuse(r.Context(), r.PathValue("id"), h.actor(r), b.Reason)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, c)
}

func (h *handlers) qc(w http.ResponseWriter, r *http.Request) error {
	var b qcBody
	if err := api.DecodeJSON(r, &b); err != nil {
		return err
	}
	c, err := h.svc.QC(r.Context(), r.PathValue("id"), h.actor(r), b.Units)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, c)
}

func (h *handlers) restock(w http.ResponseWriter, r *http.Request) error {
	c, err := h.svc.Restock(r.Context(), r.PathValue("id"), h.actor(r))
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, c)
}

func (h *handlers) create(w http.ResponseWriter, r *http.Request) error {
	var n aftersales.NewCase
	if err := api.DecodeJSON(r, &n); err != nil {
		return err
	}
	c, err := h.svc.Create(r.Context(), n, h.actor(r))
	if err != nil {
		return err
	}
	full, err := h.svc.Get(r.Context(), c.ID)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusCreated, full)
}

func (h *handlers) get(w http.ResponseWriter, r *http.Request) error {
	c, err := h.svc.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, c)
}

func (h *handlers) list(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := api.QueryInt(r, "limit", 50, 1, 500)
	if err != nil {
		return err
	}
	f := aftersales.Filter{ShopID: q.Get("shop_id"), Type: aftersales.Type(q.Get("type")),
		PlatformOrderID: q.Get("platform_order_id"), After: q.Get("cursor"), Limit: limit, OpenOnly: q.Get("open") == "true"}
	if f.Type != "" && !f.Type.Valid() {
		return errs.WithField("type", "unknown case type")
	}
	if st := q.Get("state"); st != "" {
		for _, s := range strings.Split(st, ",") {
			f.States = append(f.States, aftersales.State(s))
		}
	}
	if o := q.Get("older_than"); o != "" {
		d, err := time.ParseDuration(o)
		if err != nil || d < 0 {
			return errs.WithField("older_than", "must be a duration such as 24h")
		}
		f.CreatedBefore = time.Now().Add(-d)
	}
	items, next, err := h.svc.List(r.Context(), f)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, api.Page[aftersales.Case]{Items: items, NextCursor: next})
}

func since(r *http.Request) (time.Time, error) {
	s := r.URL.Query().Get("since")
	if s == "" {
		return time.Now().Add(-30 * 24 * time.Hour), nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return t, errs.WithField("since", "must be RFC 3339 or a duration such as 720h")
	}
	return t, nil
}

func (h *handlers) open(w http.ResponseWriter, r *http.Request) error {
	b, err := h.svc.OpenByStatus(r.Context(), r.URL.Query().Get("shop_id"))
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, b)
}

func (h *handlers) reasons(w http.ResponseWriter, r *http.Request) error {
	t, err := since(r)
	if err != nil {
		return err
	}
	out, err := h.svc.ReturnReasons(r.Context(), r.URL.Query().Get("shop_id"), t)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, out)
}

func (h *handlers) defects(w http.ResponseWriter, r *http.Request) error {
	t, err := since(r)
	if err != nil {
		return err
	}
	out, err := h.svc.DefectRates(r.Context(), t)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, out)
}

func (h *handlers) rules(w http.ResponseWriter, r *http.Request) error {
	out, err := h.svc.Rules(r.Context())
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, out)
}

func (h *handlers) createRule(w http.ResponseWriter, r *http.Request) error {
	var in aftersales.RuleInput
	if err := api.DecodeJSON(r, &in); err != nil {
		return err
	}
	out, err := h.svc.CreateRule(r.Context(), in)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusCreated, out)
}

func (h *handlers) getRule(w http.ResponseWriter, r *http.Request) error {
	out, err := h.svc.GetRule(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, out)
}

func (h *handlers) updateRule(w http.ResponseWriter, r *http.Request) error {
	var in aftersales.RuleInput
	if err := api.DecodeJSON(r, &in); err != nil {
		return err
	}
	out, err := h.svc.UpdateRule(r.Context(), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, out)
}

func (h *handlers) deleteRule(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.DeleteRule(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handlers) dryRun(w http.ResponseWriter, r *http.Request) error {
	var b DryRunBody
	if err := api.DecodeJSON(r, &b); err != nil {
		return err
	}
	var (
		out aftersales.DryRun
		err error
	)
	switch {
	case b.CaseID != "":
		out, err = h.svc.DryRunCase(r.Context(), b.Expression, b.CaseID)
	case b.Sample != nil:
		out, err = h.svc.DryRun(b.Expression, *b.Sample, b.Shipped)
	default:
		return errs.WithField("case_id", "give case_id or sample")
	}
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, out)
}
