package inventory_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"omnihub/api"
	"omnihub/errs"
	"omnihub/inventory"
	"omnihub/jobs"
	"omnihub/store"
	"omnihub/store/storetest"
)

func intp(n int) *int { return &n }

// A warehouse's priority and provinces: defaults, names and codes stored as
// sorted 2-digit codes, validation before anything is stored, and changes.
func TestWarehouseRoutingFields(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		ctx := context.Background()
		now := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
		svc := inventory.New(db, inventory.Options{Now: func() time.Time { now = now.Add(time.Second); return now }})

		// Defaults: priority 100, no provinces.
		old, err := svc.CreateWarehouse(ctx, "OLD", "")
		if err != nil {
			t.Fatal(err)
		}
		if inventory.DefaultWarehousePriority != 100 || old.Priority != inventory.DefaultWarehousePriority || len(old.Provinces) != 0 {
			t.Fatalf("defaults: %+v", old)
		}
		// Names (full, short), 2- and 6-digit codes, duplicates, blanks.
		east, err := svc.CreateWarehouseFrom(ctx, inventory.WarehouseInput{Code: "EAST", Priority: intp(10),
			Provinces: []string{"浙江省", " 上海 ", "33", "320000", ""}})
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"31", "32", "33"}; !slices.Equal(east.Provinces, want) || east.Priority != 10 {
			t.Fatalf("east: %+v, want provinces %v", east, want)
		}
		got, err := svc.Warehouse(ctx, "EAST")
		if err != nil || !slices.Equal(got.Provinces, east.Provinces) || got.Priority != 10 {
			t.Fatalf("east as stored: %+v %v", got, err)
		}
		var stored string
		if err := db.QueryRow(ctx, `SELECT provinces FROM inv_warehouses WHERE id = $1`, east.ID).Scan(&stored); err != nil || stored != "31,32,33" {
			t.Fatalf("stored provinces %q %v", stored, err)
		}
		// Priority 0 is allowed and is the most preferred.
		first, err := svc.CreateWarehouseFrom(ctx, inventory.WarehouseInput{Code: "FIRST", Priority: intp(0), Provinces: []string{"新疆"}})
		if err != nil || first.Priority != 0 || !slices.Equal(first.Provinces, []string{"65"}) {
			t.Fatalf("first: %+v %v", first, err)
		}

		// Validation: nothing is stored.
		count := func() int {
			t.Helper()
			var n int
			if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM inv_warehouses`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		n0 := count()
		for _, c := range []struct {
			in    inventory.WarehouseInput
			field string
			word  string
		}{
			{inventory.WarehouseInput{Code: "NEG", Priority: intp(-1)}, "priority", "negative"},
			{inventory.WarehouseInput{Code: "BAD", Provinces: []string{"浙江", "火星"}}, "provinces", "火星"},
			{inventory.WarehouseInput{Code: "BAD2", Provinces: []string{"99"}}, "provinces", `"99"`},
			{inventory.WarehouseInput{Code: "BAD3", Provinces: []string{"3301"}}, "provinces", "3301"},
			{inventory.WarehouseInput{Code: "BAD4", Provinces: []string{"杭州市"}}, "provinces", "杭州市"},
		} {
			_, err := svc.CreateWarehouseFrom(ctx, c.in)
			if !errs.Is(err, errs.Invalid) || !strings.Contains(errs.FieldsOf(err)[c.field], c.word) {
				t.Fatalf("%s: %v (fields %v), want invalid %s naming %s", c.in.Code, err, errs.FieldsOf(err), c.field, c.word)
			}
		}
		if n := count(); n != n0 {
			t.Fatalf("refused creations stored %d warehouses", n-n0)
		}

		// Changes: only the fields given; the rest is kept.
		upd, err := svc.UpdateWarehouse(ctx, "OLD", inventory.WarehousePatch{Priority: intp(1), Provinces: &[]string{"广东"}})
		if err != nil || upd.Priority != 1 || !slices.Equal(upd.Provinces, []string{"44"}) || upd.Name != "OLD" || !upd.Active {
			t.Fatalf("update OLD: %+v %v", upd, err)
		}
		off := false
		if w, err := svc.UpdateWarehouse(ctx, first.ID, inventory.WarehousePatch{Active: &off}); err != nil || w.Active || w.Priority != 0 {
			t.Fatalf("deactivate FIRST: %+v %v", w, err)
		}
		if w, err := svc.Warehouse(ctx, "FIRST"); err != nil || w.Active || w.Priority != 0 || !slices.Equal(w.Provinces, []string{"65"}) {
			t.Fatalf("FIRST as stored: %+v %v", w, err)
		}
		// Clearing provinces; renaming.
		name := " 华东仓 "
		if w, err := svc.UpdateWarehouse(ctx, "EAST", inventory.WarehousePatch{Name: &name, Provinces: &[]string{}}); err != nil || w.Name != "华东仓" || len(w.Provinces) != 0 {
			t.Fatalf("clear provinces: %+v %v", w, err)
		}
		// Refused changes leave the warehouse as it was.
		empty := ""
		for _, p := range []inventory.WarehousePatch{{Priority: intp(-5)}, {Provinces: &[]string{"Atlantis"}}, {Name: &empty}} {
			if _, err := svc.UpdateWarehouse(ctx, "OLD", p); !errs.Is(err, errs.Invalid) {
				t.Fatalf("patch %+v: %v, want invalid", p, err)
			}
		}
		if w, _ := svc.Warehouse(ctx, "OLD"); w.Priority != 1 || !slices.Equal(w.Provinces, []string{"44"}) || w.Name != "OLD" {
			t.Fatalf("OLD after refused patches: %+v", w)
		}
		if _, err := svc.UpdateWarehouse(ctx, "NOPE", inventory.WarehousePatch{Priority: intp(1)}); !errs.Is(err, errs.NotFound) {
			t.Fatalf("unknown warehouse: %v", err)
		}
	})
}

// The warehouse API creates and changes priority, provinces and active.
func TestWarehouseHTTP(t *testing.T) {
	db := storetest.OpenSQLite(t, jobs.Config{})
	svc := inventory.New(db, inventory.Options{})
	srv := api.New(api.Options{Logger: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry(), DB: db})
	srv.Authenticate = func(perm string, next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.Contains(","+r.Header.Get("X-Perms")+",", ","+perm+",") {
				api.WriteError(w, r, errs.E(errs.Forbidden, "missing %s", perm))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	svc.Routes(srv)
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	const rw = "inventory.read,inventory.write"
	call := func(method, path, perms, body string, want int) []byte {
		t.Helper()
		req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		req.Header.Set("X-Perms", perms)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != want {
			t.Fatalf("%s %s = %d, want %d: %s", method, path, res.StatusCode, want, b)
		}
		return b
	}
	var w inventory.Warehouse
	if err := json.Unmarshal(call("POST", "/api/v1/inventory/warehouses", rw, `{"code":"GZ","priority":20,"provinces":["广东省","45"]}`, http.StatusCreated), &w); err != nil {
		t.Fatal(err)
	}
	if w.Priority != 20 || !slices.Equal(w.Provinces, []string{"44", "45"}) {
		t.Fatalf("created %+v", w)
	}
	var p api.Problem
	_ = json.Unmarshal(call("POST", "/api/v1/inventory/warehouses", rw, `{"code":"X","provinces":["Narnia"]}`, http.StatusBadRequest), &p)
	if !strings.Contains(p.Fields["provinces"], "Narnia") {
		t.Fatalf("unknown province problem %+v", p)
	}
	_ = json.Unmarshal(call("POST", "/api/v1/inventory/warehouses", rw, `{"code":"Y","priority":-1}`, http.StatusBadRequest), &p)
	if p.Fields["priority"] == "" {
		t.Fatalf("negative priority problem %+v", p)
	}
	call("PATCH", "/api/v1/inventory/warehouses/GZ", "inventory.read", `{"active":false}`, http.StatusForbidden)
	if err := json.Unmarshal(call("PATCH", "/api/v1/inventory/warehouses/GZ", rw, `{"active":false,"priority":5,"provinces":[]}`, http.StatusOK), &w); err != nil {
		t.Fatal(err)
	}
	if w.Active || w.Priority != 5 || w.Provinces == nil || len(w.Provinces) != 0 {
		t.Fatalf("patched %+v", w)
	}
	call("PATCH", "/api/v1/inventory/warehouses/NOPE", rw, `{"priority":1}`, http.StatusNotFound)
	var ws []inventory.Warehouse
	_ = json.Unmarshal(call("GET", "/api/v1/inventory/warehouses", rw, "", http.StatusOK), &ws)
	if len(ws) != 1 || ws[0].Active || ws[0].Priority != 5 {
		t.Fatalf("listed %+v", ws)
	}
}
