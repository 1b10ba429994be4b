package aftersales

import (
	"context"
	"strings"
	"sync"
	"time"

	"omnihub/errs"
	"omnihub/ids"
	"omnihub/rules"
	"omnihub/store"
)

// ActRuleError records a rule that failed to evaluate on a case (treated as
// no match, so a person decides).
const ActRuleError Action = "rule_error"

// RuleEnv is what an auto-approval rule sees of a case. Amounts are fen:
// `type == "refund_only" && amount < 5000 && !shipped` approves refunds under
// 50 yuan asked before shipment.
type RuleEnv struct {
	Type     string   `expr:"type" json:"type"`
	Amount   int64    `expr:"amount" json:"amount"`
	Shipped  bool     `expr:"shipped" json:"shipped"`
	Reason   string   `expr:"reason" json:"reason"`
	ShopID   string   `expr:"shop_id" json:"shop_id"`
	Qty      int64    `expr:"qty" json:"qty"`
	Lines    int      `expr:"lines" json:"lines"`
	SKUs     []string `expr:"skus" json:"skus"`
	Manual   bool     `expr:"manual" json:"manual"`
	Evidence string   `expr:"evidence" json:"evidence"`
}

// EnvOf builds a rule environment from a case (shipped as known).
func EnvOf(c Case, shipped bool) RuleEnv {
	env := RuleEnv{Type: string(c.Type), Amount: c.RefundAmount, Shipped: shipped, Reason: c.Reason,
		ShopID: c.ShopID, Lines: len(c.Lines), SKUs: []string{}, Manual: c.Manual(), Evidence: c.Evidence}
	for _, l := range c.Lines {
		env.Qty += l.Qty
		env.SKUs = append(env.SKUs, l.SKUID)
	}
	return env
}

// CompileRule validates a rule's source with the shared rules package: it
// must parse, use only RuleEnv's names and yield a boolean.
func CompileRule(src string) (*rules.Program, error) {
	return rules.Compile(src, RuleEnv{}, rules.Bool)
}

type ruleCache struct {
	mu sync.Mutex
	m  map[string]*rules.Program
}

func newRuleCache() *ruleCache { return &ruleCache{m: map[string]*rules.Program{}} }

func (c *ruleCache) get(src string) (*rules.Program, error) {
	c.mu.Lock()
	p, ok := c.m[src]
	c.mu.Unlock()
	if ok {
		return p, nil
	}
	p, err := CompileRule(src)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) > 1000 {
		clear(c.m)
	}
	c.m[src] = p
	c.mu.Unlock()
	return p, nil
}

// Rule is a stored auto-approval rule. Enabled rules are tried in priority
// order (lowest first, then name) on every new case; the first that
// matches approves it, attributed to "rule:<name>".
type Rule struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Expr      string    `json:"expression"`
	Priority  int64     `json:"priority"`
	Enabled   bool      `json:"enabled"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// RuleInput creates or replaces a rule.
type RuleInput struct {
	Name     string `json:"name"`
	Expr     string `json:"expression"`
	Priority int64  `json:"priority"`
	Enabled  bool   `json:"enabled"`
}

func (in RuleInput) validate() error {
	if strings.TrimSpace(in.Name) == "" || len(in.Name) > 100 {
		return errs.WithField("name", "required, at most 100 characters")
	}
	_, err := CompileRule(in.Expr)
	return err
}

const ruleColumns = `id, name, expr, priority, enabled, created_at, updated_at`

func scanRule(r scanner) (Rule, error) {
	var x Rule
	var en int64
	err := r.Scan(&x.ID, &x.Name, &x.Expr, &x.Priority, &en, &x.CreatedAt, &x.UpdatedAt)
	x.Enabled = en != 0
	return x, err
}

// CreateRule stores a rule after validating it.
func (s *Service) CreateRule(ctx context.Context, in RuleInput) (Rule, error) {
	if err := in.validate(); err != nil {
		return Rule{}, err
	}
	now := s.now()
	r := Rule{ID: ids.New(), Name: in.Name, Expr: in.Expr, Priority: in.Priority, Enabled: in.Enabled, CreatedAt: now, UpdatedAt: now}
	_, err := s.db.Exec(ctx, `INSERT INTO aftersales_rules (`+ruleColumns+`) VALUES ($1,$2,$3,$4,$5,$6,$7)`,
		r.ID, r.Name, r.Expr, r.Priority, b2i(r.Enabled), r.CreatedAt, r.UpdatedAt)
	if store.IsUniqueViolation(err) {
		return Rule{}, errs.E(errs.Conflict, "a rule named %q exists", in.Name).WithField("name", "taken")
	}
	return r, errs.Wrap(err, errs.Internal, "save rule")
}

// UpdateRule replaces a rule after validating it.
func (s *Service) UpdateRule(ctx context.Context, id string, in RuleInput) (Rule, error) {
	if err := in.validate(); err != nil {
		return Rule{}, err
	}
	n, err := s.db.Exec(ctx, `UPDATE aftersales_rules SET name=$2, expr=$3, priority=$4, enabled=$5, updated_at=$6 WHERE id=$1`,
		id, in.Name, in.Expr, in.Priority, b2i(in.Enabled), s.now())
	if store.IsUniqueViolation(err) {
		return Rule{}, errs.E(errs.Conflict, "a rule named %q exists", in.Name).WithField("name", "taken")
	}
	if err != nil {
		return Rule{}, errs.Wrap(err, errs.Internal, "save rule")
	}
	if n == 0 {
		return Rule{}, errs.E(errs.NotFound, "rule %s not found", id)
	}
	return s.GetRule(ctx, id)
}

// DeleteRule removes a rule.
func (s *Service) DeleteRule(ctx context.Context, id string) error {
	n, err := s.db.Exec(ctx, `DELETE FROM aftersales_rules WHERE id = $1`, id)
	if err != nil {
		return errs.Wrap(err, errs.Internal, "delete rule")
	}
	if n == 0 {
		return errs.E(errs.NotFound, "rule %s not found", id)
	}
	return nil
}

// GetRule returns one rule.
func (s *Service) GetRule(ctx context.Context, id string) (Rule, error) {
	r, err := scanRule(s.db.QueryRow(ctx, `SELECT `+ruleColumns+` FROM aftersales_rules WHERE id = $1`, id))
	return r, store.NotFoundIfNoRows(err, "rule %s not found", id)
}

// Rules lists every rule in evaluation order.
func (s *Service) Rules(ctx context.Context) ([]Rule, error) {
	return listRules(ctx, s.db, false)
}

func listRules(ctx context.Context, q store.Querier, enabledOnly bool) ([]Rule, error) {
	where := ""
	if enabledOnly {
		where = " WHERE enabled = 1"
	}
	rows, err := q.Query(ctx, `SELECT `+ruleColumns+` FROM aftersales_rules`+where+` ORDER BY priority, name`)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "list rules")
	}
	defer rows.Close()
	out := []Rule{}
	for rows.Next() {
		r, err := scanRule(rows)
		if err != nil {
			return nil, errs.Wrap(err, errs.Internal, "scan rule")
		}
		out = append(out, r)
	}
	return out, errs.Wrap(rows.Err(), errs.Internal, "list rules")
}

// DryRun is the outcome of trying a rule on a sample case.
type DryRun struct {
	Matched bool    `json:"matched"`
	Env     RuleEnv `json:"env"`
	// Error is a runtime failure of the rule on this sample (no match).
	Error string `json:"error,omitempty"`
}

// DryRun evaluates a rule source against a sample case without storing
// anything. shipped tells whether the goods had left. A rule that does not
// compile is an Invalid error (with its position, see rules.PositionOf).
func (s *Service) DryRun(src string, sample Case, shipped bool) (DryRun, error) {
	p, err := CompileRule(src)
	if err != nil {
		return DryRun{}, err
	}
	env := EnvOf(sample, shipped || sample.GoodsShipped)
	ok, err := p.Bool(env)
	if err != nil {
		return DryRun{Env: env, Error: errs.MessageOf(err)}, nil
	}
	return DryRun{Matched: ok, Env: env}, nil
}

// DryRunCase evaluates a rule source against a stored case.
func (s *Service) DryRunCase(ctx context.Context, src, caseID string) (DryRun, error) {
	c, err := s.Get(ctx, caseID)
	if err != nil {
		return DryRun{}, err
	}
	return s.DryRun(src, c, c.GoodsShipped)
}

// autoApprove tries the enabled rules on a new case and approves it on the
// first match.
func (s *Service) autoApprove(ctx context.Context, tx store.Tx, c *Case) error {
	rules, err := listRules(ctx, tx, true)
	if err != nil || len(rules) == 0 {
		return err
	}
	shipped, err := s.shippedTx(ctx, tx, c)
	if err != nil {
		return err
	}
	env := EnvOf(*c, shipped)
	for _, r := range rules {
		p, err := s.rules.get(r.Expr)
		var ok bool
		if err == nil {
			ok, err = p.Bool(env)
		}
		if err != nil {
			if err := addEventTx(ctx, tx, c.ID, Event{At: s.now(), Actor: ActorRulePrefix + r.Name, Action: ActRuleError,
				From: c.State, To: c.State, Note: err.Error()}); err != nil {
				return err
			}
			continue
		}
		if ok {
			return s.approveTx(ctx, tx, c, ActorRulePrefix+r.Name, r.Expr)
		}
	}
	return nil
}
