package inventory

import (
	"context"
	"net/http"

	"omnihub/api"
	"omnihub/errs"
	"omnihub/store"
)

// Permissions of the inventory routes.
const (
	PermRead  = "inventory.read"
	PermWrite = "inventory.write"
)

// WarehouseInput creates a warehouse.
type WarehouseInput struct {
	Code string `json:"code"`
	Name string `json:"name"`
	// Priority: lower is preferred by order routing; nil: DefaultWarehousePriority.
	Priority *int `json:"priority,omitempty"`
	// Provinces the warehouse serves: names (浙江省, 浙江) or GB/T 2260 codes (33).
	Provinces []string `json:"provinces,omitempty"`
}

// BinInput adds a bin.
type BinInput struct {
	Code string `json:"code"`
}

// ReceiptInput puts stock on hand.
type ReceiptInput struct {
	Doc         DocRef `json:"doc"`
	WarehouseID string `json:"warehouse_id"`
	SKUID       string `json:"sku_id"`
	Qty         int64  `json:"qty"`
}

// TransferInput ships a transfer out.
type TransferInput struct {
	FromWarehouseID string         `json:"from_warehouse_id"`
	ToWarehouseID   string         `json:"to_warehouse_id"`
	Lines           []TransferLine `json:"lines"`
	Note            string         `json:"note,omitempty"`
}

// ReserveInput reserves lines, all or nothing.
type ReserveInput struct {
	Lines []ReserveLine `json:"lines"`
}

// DocInput names a document, optionally one line and a quantity of it.
type DocInput struct {
	DocType string `json:"doc_type"`
	DocID   string `json:"doc_id"`
	// Line and Qty release part of one line (release only).
	Line int   `json:"line,omitempty"`
	Qty  int64 `json:"qty,omitempty"`
}

// RestockInput returns goods to stock.
type RestockInput struct {
	Doc         DocRef `json:"doc"`
	WarehouseID string `json:"warehouse_id"`
	SKUID       string `json:"sku_id"`
	Qty         int64  `json:"qty"`
	Defective   bool   `json:"defective"`
}

// PolicyView is a policy with its per-SKU overrides.
type PolicyView struct {
	Policy    Policy     `json:"policy"`
	Overrides []Override `json:"overrides"`
}

// SellableView is what a shop may sell.
type SellableView struct {
	ShopID   string           `json:"shop_id"`
	Sellable map[string]int64 `json:"sellable"`
}

// CheckView is the answer of the check route.
type CheckView struct {
	OK bool `json:"ok"`
	Report
}

// Routes registers the inventory HTTP API on srv.
func (s *Service) Routes(srv *api.Server) {
	tags := []string{"inventory"}
	op := func(method, path, perm, summary string, req, resp any, status int, query ...string) api.Op {
		return api.Op{Method: method, Path: "/api/v1/inventory" + path, Permission: perm, Tags: tags, Summary: summary,
			Request: req, Response: resp, Status: status, Query: query}
	}
	srv.HandleOp(op("GET", "/warehouses", PermRead, "List warehouses", nil, []Warehouse{}, 0), func(w http.ResponseWriter, r *http.Request) error {
		ws, err := s.Warehouses(r.Context())
		if err != nil {
			return err
		}
		return api.WriteJSON(w, http.StatusOK, nonNil(ws))
	})
	srv.HandleOp(op("POST", "/warehouses", PermWrite, "Create a warehouse", WarehouseInput{}, Warehouse{}, http.StatusCreated), func(w http.ResponseWriter, r *http.Request) error {
		var in WarehouseInput
		if err := api.DecodeJSON(r, &in); err != nil {
			return err
		}
		wh, err := s.CreateWarehouseFrom(r.Context(), in)
		if err != nil {
			return err
		}
		return api.WriteJSON(w, http.StatusCreated, wh)
	})
	srv.HandleOp(op("PATCH", "/warehouses/{id}", PermWrite, "Change a warehouse (id or code): name, active, priority, provinces", WarehousePatch{}, Warehouse{}, 0), func(w http.ResponseWriter, r *http.Request) error {
		var in WarehousePatch
		if err := api.DecodeJSON(r, &in); err != nil {
			return err
		}
		wh, err := s.UpdateWarehouse(r.Context(), r.PathValue("id"), in)
		if err != nil {
			return err
		}
		return api.WriteJSON(w, http.StatusOK, wh)
	})
	srv.HandleOp(op("GET", "/warehouses/{id}/bins", PermRead, "List a warehouse's bins (id or code)", nil, []Bin{}, 0), func(w http.ResponseWriter, r *http.Request) error {
		bs, err := s.Bins(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		return api.WriteJSON(w, http.StatusOK, nonNil(bs))
	})
	srv.HandleOp(op("POST", "/warehouses/{id}/bins", PermWrite, "Add a bin location", BinInput{}, Bin{}, http.StatusCreated), func(w http.ResponseWriter, r *http.Request) error {
		var in BinInput
		if err := api.DecodeJSON(r, &in); err != nil {
			return err
		}
		b, err := s.AddBin(r.Context(), r.PathValue("id"), in.Code)
		if err != nil {
			return err
		}
		return api.WriteJSON(w, http.StatusCreated, b)
	})
	srv.HandleOp(op("GET", "/balances", PermRead, "List balances by (warehouse, SKU)", nil, api.Page[Balance]{}, 0, "warehouse_id", "sku_id", "cursor", "limit"),
		func(w http.ResponseWriter, r *http.Request) error {
			limit, err := api.QueryInt(r, "limit", 100, 1, 1000)
			if err != nil {
				return err
			}
			q := r.URL.Query()
			bs, next, err := s.Balances(r.Context(), BalanceQuery{WarehouseID: q.Get("warehouse_id"), SKUID: q.Get("sku_id"), Cursor: q.Get("cursor"), Limit: limit})
			if err != nil {
				return err
			}
			return api.WriteJSON(w, http.StatusOK, api.Page[Balance]{Items: nonNil(bs), NextCursor: next})
		})
	srv.HandleOp(op("GET", "/ledger", PermRead, "Read the stock ledger in order (cursor = last seq seen)", nil, api.Page[LedgerEntry]{}, 0,
		"warehouse_id", "sku_id", "doc_type", "doc_id", "cursor", "limit"),
		func(w http.ResponseWriter, r *http.Request) error {
			limit, err := api.QueryInt(r, "limit", 100, 1, 1000)
			if err != nil {
				return err
			}
			q := r.URL.Query()
			es, next, err := s.Ledger(r.Context(), LedgerQuery{WarehouseID: q.Get("warehouse_id"), SKUID: q.Get("sku_id"),
				DocType: q.Get("doc_type"), DocID: q.Get("doc_id"), Cursor: q.Get("cursor"), Limit: limit})
			if err != nil {
				return err
			}
			return api.WriteJSON(w, http.StatusOK, api.Page[LedgerEntry]{Items: nonNil(es), NextCursor: next})
		})
	srv.HandleOp(op("POST", "/receipts", PermWrite, "Receive stock (on hand +qty)", ReceiptInput{}, Balance{}, 0), func(w http.ResponseWriter, r *http.Request) error {
		var in ReceiptInput
		if err := api.DecodeJSON(r, &in); err != nil {
			return err
		}
		if err := s.Receive(r.Context(), in.Doc, in.WarehouseID, in.SKUID, in.Qty); err != nil {
			return err
		}
		return s.writeBalance(w, r, in.WarehouseID, in.SKUID)
	})
	srv.HandleOp(op("POST", "/adjustments", PermWrite, "Adjust on hand by a delta, or to a counted quantity (stocktake)", Adjustment{}, Balance{}, 0),
		func(w http.ResponseWriter, r *http.Request) error {
			var in Adjustment
			if err := api.DecodeJSON(r, &in); err != nil {
				return err
			}
			if err := s.Adjust(r.Context(), in); err != nil {
				return err
			}
			return s.writeBalance(w, r, in.WarehouseID, in.SKUID)
		})
	srv.HandleOp(op("POST", "/transfers", PermWrite, "Ship a transfer between warehouses (stock goes in transit)", TransferInput{}, Transfer{}, http.StatusCreated),
		func(w http.ResponseWriter, r *http.Request) error {
			var in TransferInput
			if err := api.DecodeJSON(r, &in); err != nil {
				return err
			}
			t, err := s.TransferOut(r.Context(), in.FromWarehouseID, in.ToWarehouseID, in.Lines, in.Note)
			if err != nil {
				return err
			}
			return api.WriteJSON(w, http.StatusCreated, t)
		})
	srv.HandleOp(op("GET", "/transfers/{id}", PermRead, "Get a transfer", nil, Transfer{}, 0), func(w http.ResponseWriter, r *http.Request) error {
		t, err := s.GetTransfer(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		return api.WriteJSON(w, http.StatusOK, t)
	})
	srv.HandleOp(op("POST", "/transfers/{id}/receive", PermWrite, "Receive a transfer at its destination", nil, Transfer{}, 0), func(w http.ResponseWriter, r *http.Request) error {
		if err := s.TransferIn(r.Context(), r.PathValue("id")); err != nil {
			return err
		}
		t, err := s.GetTransfer(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		return api.WriteJSON(w, http.StatusOK, t)
	})
	srv.HandleOp(op("GET", "/reservations", PermRead, "List a document's reservations", nil, []Reservation{}, 0, "doc_type", "doc_id"),
		func(w http.ResponseWriter, r *http.Request) error {
			q := r.URL.Query()
			if q.Get("doc_type") == "" || q.Get("doc_id") == "" {
				return errs.E(errs.Invalid, "doc_type and doc_id are required")
			}
			rs, err := s.Reservations(r.Context(), q.Get("doc_type"), q.Get("doc_id"))
			if err != nil {
				return err
			}
			return api.WriteJSON(w, http.StatusOK, nonNil(rs))
		})
	srv.HandleOp(op("POST", "/reservations", PermWrite, "Reserve document lines (all or nothing, idempotent per line; 409 names the short SKU)",
		ReserveInput{}, []Reservation{}, http.StatusCreated), func(w http.ResponseWriter, r *http.Request) error {
		var in ReserveInput
		if err := api.DecodeJSON(r, &in); err != nil {
			return err
		}
		if err := s.Reserve(r.Context(), in.Lines); err != nil {
			return err
		}
		var out []Reservation
		seen := map[[2]string]bool{}
		for _, l := range in.Lines {
			k := [2]string{l.Doc.Type, l.Doc.ID}
			if seen[k] {
				continue
			}
			seen[k] = true
			rs, err := s.Reservations(r.Context(), l.Doc.Type, l.Doc.ID)
			if err != nil {
				return err
			}
			out = append(out, rs...)
		}
		return api.WriteJSON(w, http.StatusCreated, nonNil(out))
	})
	srv.HandleOp(op("POST", "/reservations/release", PermWrite, "Release a document's open reservations (or qty of one line)", DocInput{}, nil, http.StatusNoContent),
		func(w http.ResponseWriter, r *http.Request) error {
			var in DocInput
			if err := api.DecodeJSON(r, &in); err != nil {
				return err
			}
			err := s.db.InTx(r.Context(), func(ctx context.Context, tx store.Tx) error {
				if in.Line > 0 {
					return s.ReleaseLineTx(ctx, tx, DocRef{Type: in.DocType, ID: in.DocID, Line: in.Line}, in.Qty)
				}
				return s.ReleaseTx(ctx, tx, in.DocType, in.DocID)
			})
			if err != nil {
				return err
			}
			w.WriteHeader(http.StatusNoContent)
			return nil
		})
	srv.HandleOp(op("POST", "/reservations/ship", PermWrite, "Ship a document: consume its open reservations", DocInput{}, nil, http.StatusNoContent),
		func(w http.ResponseWriter, r *http.Request) error {
			var in DocInput
			if err := api.DecodeJSON(r, &in); err != nil {
				return err
			}
			if err := s.db.InTx(r.Context(), func(ctx context.Context, tx store.Tx) error { return s.ShipTx(ctx, tx, in.DocType, in.DocID) }); err != nil {
				return err
			}
			w.WriteHeader(http.StatusNoContent)
			return nil
		})
	srv.HandleOp(op("POST", "/restocks", PermWrite, "Restock returned goods (good: on hand; defective: defective bucket), once per document line",
		RestockInput{}, Balance{}, 0), func(w http.ResponseWriter, r *http.Request) error {
		var in RestockInput
		if err := api.DecodeJSON(r, &in); err != nil {
			return err
		}
		err := s.db.InTx(r.Context(), func(ctx context.Context, tx store.Tx) error {
			return s.RestockTx(ctx, tx, in.Doc, in.WarehouseID, in.SKUID, in.Qty, in.Defective)
		})
		if err != nil {
			return err
		}
		return s.writeBalance(w, r, in.WarehouseID, in.SKUID)
	})
	srv.HandleOp(op("GET", "/policies", PermRead, "List channel allocation policies", nil, []Policy{}, 0), func(w http.ResponseWriter, r *http.Request) error {
		ps, err := s.Policies(r.Context())
		if err != nil {
			return err
		}
		return api.WriteJSON(w, http.StatusOK, nonNil(ps))
	})
	srv.HandleOp(op("GET", "/policies/{shop_id}", PermRead, "Get a shop's policy and per-SKU overrides", nil, PolicyView{}, 0), func(w http.ResponseWriter, r *http.Request) error {
		p, os, err := s.GetPolicy(r.Context(), r.PathValue("shop_id"))
		if err != nil {
			return err
		}
		return api.WriteJSON(w, http.StatusOK, PolicyView{Policy: p, Overrides: nonNil(os)})
	})
	srv.HandleOp(op("PUT", "/policies/{shop_id}", PermWrite, "Set a shop's policy (re-marks every SKU whose sellable number moves)", Policy{}, Policy{}, 0),
		func(w http.ResponseWriter, r *http.Request) error {
			var in Policy
			if err := api.DecodeJSON(r, &in); err != nil {
				return err
			}
			in.ShopID = r.PathValue("shop_id")
			p, err := s.SetPolicy(r.Context(), in)
			if err != nil {
				return err
			}
			return api.WriteJSON(w, http.StatusOK, p)
		})
	srv.HandleOp(op("PUT", "/policies/{shop_id}/skus/{sku_id}", PermWrite, "Set a per-SKU override of a shop's policy", Override{}, Override{}, 0),
		func(w http.ResponseWriter, r *http.Request) error {
			var in Override
			if err := api.DecodeJSON(r, &in); err != nil {
				return err
			}
			in.ShopID, in.SKUID = r.PathValue("shop_id"), r.PathValue("sku_id")
			o, err := s.SetOverride(r.Context(), in)
			if err != nil {
				return err
			}
			return api.WriteJSON(w, http.StatusOK, o)
		})
	srv.HandleOp(op("DELETE", "/policies/{shop_id}/skus/{sku_id}", PermWrite, "Remove a per-SKU override", nil, nil, http.StatusNoContent),
		func(w http.ResponseWriter, r *http.Request) error {
			if err := s.DeleteOverride(r.Context(), r.PathValue("shop_id"), r.PathValue("sku_id")); err != nil {
				return err
			}
			w.WriteHeader(http.StatusNoContent)
			return nil
		})
	srv.HandleOp(op("GET", "/sellable/{shop_id}", PermRead, "What a shop may sell now (one SKU with sku_id, else every SKU)", nil, SellableView{}, 0, "sku_id"),
		func(w http.ResponseWriter, r *http.Request) error {
			shop := r.PathValue("shop_id")
			if sku := r.URL.Query().Get("sku_id"); sku != "" {
				v, err := s.Sellable(r.Context(), shop, sku)
				if err != nil {
					return err
				}
				return api.WriteJSON(w, http.StatusOK, SellableView{ShopID: shop, Sellable: map[string]int64{sku: v}})
			}
			m, err := s.SellableAll(r.Context(), shop)
			if err != nil {
				return err
			}
			return api.WriteJSON(w, http.StatusOK, SellableView{ShopID: shop, Sellable: m})
		})
	srv.HandleOp(op("GET", "/push-marks/{shop_id}", PermRead, "Pending stock pushes of a shop (version > pushed_version)", nil, []PushMark{}, 0, "limit"),
		func(w http.ResponseWriter, r *http.Request) error {
			limit, err := api.QueryInt(r, "limit", 100, 1, 1000)
			if err != nil {
				return err
			}
			ms, err := s.PendingPushes(r.Context(), r.PathValue("shop_id"), limit)
			if err != nil {
				return err
			}
			return api.WriteJSON(w, http.StatusOK, nonNil(ms))
		})
	srv.HandleOp(op("GET", "/check", PermRead, "Prove the stock invariants (ok=false lists each violation)", nil, CheckView{}, 0),
		func(w http.ResponseWriter, r *http.Request) error {
			rep, err := s.Check(r.Context())
			if err != nil {
				return err
			}
			if rep.Violations == nil {
				rep.Violations = []Violation{}
			}
			return api.WriteJSON(w, http.StatusOK, CheckView{OK: rep.OK(), Report: rep})
		})
}

func (s *Service) writeBalance(w http.ResponseWriter, r *http.Request, warehouse, skuID string) error {
	wh, err := s.Warehouse(r.Context(), warehouse)
	if err != nil {
		return err
	}
	b, err := s.Balance(r.Context(), wh.ID, skuID)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, b)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
