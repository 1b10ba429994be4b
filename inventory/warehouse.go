package inventory

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"omnihub/errs"
	"omnihub/geo"
	"omnihub/store"
)

// DefaultWarehousePriority is the priority of a warehouse created without
// one. Lower is preferred, so a merchant can put a warehouse before the
// others (below 100) or after them (above) without renumbering.
const DefaultWarehousePriority = 100

// warehouseCols are the columns scanWarehouse reads, in its order.
const warehouseCols = `id, code, name, active, priority, provinces, created_at`

// scanWarehouse reads one row of warehouseCols. The scan error is returned
// as is, so that a caller can tell store.ErrNoRows.
func scanWarehouse(r interface{ Scan(dest ...any) error }) (Warehouse, error) {
	var w Warehouse
	var provinces string
	if err := r.Scan(&w.ID, &w.Code, &w.Name, &w.Active, &w.Priority, &provinces, &w.CreatedAt); err != nil {
		return Warehouse{}, err
	}
	w.Provinces = splitProvinces(provinces)
	return w, nil
}

// joinProvinces is the stored form of province codes: comma-separated, no
// spaces ("31,33"); empty for none.
func joinProvinces(codes []string) string { return strings.Join(codes, ",") }

// splitProvinces reads the stored form back; never nil, so that JSON shows [].
func splitProvinces(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

func checkPriority(p int) error {
	if p < 0 {
		return errs.WithField("priority", "must not be negative (0 is the most preferred)")
	}
	return nil
}

// provinceCodes turns the provinces a merchant gives — full or short
// names (浙江省, 浙江) or GB/T 2260 codes, province-level (33) or the
// 6-digit form of a province (330000) — into sorted, distinct 2-digit
// codes. Blank entries are ignored. An entry that is no province is
// errs.Invalid on field provinces, naming it. The names and codes are
// those of the embedded GB/T 2260 table (geo.Default).
func provinceCodes(in []string) ([]string, error) {
	out := []string{}
	for _, p := range in {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		code, ok := provinceCode(p)
		if !ok {
			return nil, errs.WithField("provinces", fmt.Sprintf("%q is not a GB/T 2260 province (name or 2-digit code)", p))
		}
		if !slices.Contains(out, code) {
			out = append(out, code)
		}
	}
	slices.Sort(out)
	return out, nil
}

func provinceCode(p string) (string, bool) {
	if len(p) == 6 && strings.HasSuffix(p, "0000") {
		p = p[:2]
	}
	if len(p) == 2 {
		if _, ok := geo.Default().Name(p); ok {
			return p, true
		}
		return "", false
	}
	// A name: Resolve fills the province before it looks at the city.
	if r := geo.Default().Resolve(p, "", ""); r.Province.Code != "" {
		return r.Province.Code, true
	}
	return "", false
}

// WarehousePatch changes a warehouse; a nil field is left as it is. The
// code cannot change (sheets and rules may name the warehouse by it).
type WarehousePatch struct {
	Name   *string `json:"name,omitempty"`
	Active *bool   `json:"active,omitempty"`
	// Priority: lower is preferred; not negative.
	Priority *int `json:"priority,omitempty"`
	// Provinces replaces the list (names or codes, as for creation); an
	// empty list clears it.
	Provinces *[]string `json:"provinces,omitempty"`
}

// UpdateWarehouse changes the warehouse given by id or code and returns it
// as stored. Validation is that of CreateWarehouseFrom; an empty name is
// errs.Invalid. A deactivated warehouse is left out of routing (see
// ActiveWarehousesTx); its stock and open reservations stay as they are.
func (s *Service) UpdateWarehouse(ctx context.Context, idOrCode string, p WarehousePatch) (Warehouse, error) {
	var w Warehouse
	if p.Priority != nil {
		if err := checkPriority(*p.Priority); err != nil {
			return Warehouse{}, err
		}
	}
	var provinces []string
	if p.Provinces != nil {
		var err error
		if provinces, err = provinceCodes(*p.Provinces); err != nil {
			return Warehouse{}, err
		}
	}
	name := ""
	if p.Name != nil {
		if name = strings.TrimSpace(*p.Name); name == "" {
			return Warehouse{}, errs.WithField("name", "must not be empty")
		}
	}
	err := s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		w, err = scanWarehouse(tx.QueryRow(ctx, `SELECT `+warehouseCols+` FROM inv_warehouses WHERE id = $1 OR code = $1`+forUpdate(tx), idOrCode))
		if err != nil {
			return store.NotFoundIfNoRows(err, "no warehouse %q", idOrCode)
		}
		if p.Name != nil {
			w.Name = name
		}
		if p.Active != nil {
			w.Active = *p.Active
		}
		if p.Priority != nil {
			w.Priority = *p.Priority
		}
		if p.Provinces != nil {
			w.Provinces = provinces
		}
		_, err = tx.Exec(ctx, `UPDATE inv_warehouses SET name = $1, active = $2, priority = $3, provinces = $4 WHERE id = $5`,
			w.Name, w.Active, w.Priority, joinProvinces(w.Provinces), w.ID)
		return errs.Wrap(err, errs.Internal, "update warehouse %s", w.Code)
	})
	if err != nil {
		return Warehouse{}, err
	}
	return w, nil
}
