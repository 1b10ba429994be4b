package aftersales

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"omnihub/errs"
)

// Violation is one broken invariant found by Check.
type Violation struct {
	CaseID string `json:"case_id"`
	Rule   string `json:"rule"`
	Detail string `json:"detail"`
}

// Check proves the after-sales invariants over the whole database, for
// `omnihub check`: every case's state is where its history leads, cases
// past QC have exactly one result per returned unit, and only settled
// cases carry a refunded amount. It returns the violations found (none
// when the data is consistent).
func (s *Service) Check(ctx context.Context) ([]Violation, error) {
	var out []Violation
	collect := func(rule, q string, args ...any) error {
		rows, err := s.db.Query(ctx, q, args...)
		if err != nil {
			return errs.Wrap(err, errs.Internal, "check %s", rule)
		}
		defer rows.Close()
		for rows.Next() {
			var id, a, b string
			if err := rows.Scan(&id, &a, &b); err != nil {
				return errs.Wrap(err, errs.Internal, "check %s", rule)
			}
			out = append(out, Violation{CaseID: id, Rule: rule, Detail: fmt.Sprintf(detail[rule], a, b)})
		}
		return errs.Wrap(rows.Err(), errs.Internal, "check %s", rule)
	}
	if err := collect("history", `SELECT c.id, c.state, COALESCE(e.to_state, '(none)') FROM aftersales_cases c
		LEFT JOIN aftersales_case_events e ON e.case_id = c.id
			AND e.seq = (SELECT MAX(seq) FROM aftersales_case_events WHERE case_id = c.id)
		WHERE e.to_state IS NULL OR e.to_state <> c.state`); err != nil {
		return nil, err
	}
	if err := collect("qc", `SELECT l.case_id, CAST(l.qty AS TEXT), CAST(COUNT(q.unit_no) AS TEXT)
		FROM aftersales_lines l JOIN aftersales_cases c ON c.id = l.case_id
		LEFT JOIN aftersales_qc q ON q.case_id = l.case_id AND q.line_no = l.line_no
		WHERE c.state IN ('qc_done', 'restocked')
		GROUP BY l.case_id, l.line_no, l.qty HAVING COUNT(q.unit_no) <> l.qty`); err != nil {
		return nil, err
	}
	var open []string
	args := []any{}
	for _, st := range States {
		if st.Open() || st == Refused || st == Cancelled {
			args = append(args, string(st))
			open = append(open, "$"+strconv.Itoa(len(args)))
		}
	}
	if err := collect("refunded", `SELECT id, state, CAST(refunded_amount AS TEXT) FROM aftersales_cases
		WHERE refunded_amount <> 0 AND state IN (`+strings.Join(open, ",")+`)`, args...); err != nil {
		return nil, err
	}
	return out, nil
}

var detail = map[string]string{
	"history":  "case is %s but its history ends at %s",
	"qc":       "a line of %s units has %s QC results",
	"refunded": "case is %s yet records %s fen refunded",
}
