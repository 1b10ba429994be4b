package sqlstore

import (
	"container/list"
	"context"
	"database/sql"
	stdsync "sync"
	"time"
)

// StmtCache keeps prepared statements of one *sql.DB by query text, least
// recently used first out. SQLite parses and plans a statement each time it
// is prepared, and database/sql prepares every query it is given; the hot
// queries of OmniHub (ingest, reservations, push marks) are a few dozen
// texts run thousands of times a second, and preparing them was a sixth of
// the CPU. A statement taken into a transaction (Tx.StmtContext) reuses the
// connection's prepared copy.
type StmtCache struct {
	db  *sql.DB
	max int

	mu      stdsync.Mutex
	order   *list.List // of *cachedStmt, most recent at the front
	byKey   map[string]*list.Element
	pending map[string]bool // being prepared in the background
	closed  bool
}

type cachedStmt struct {
	query string
	stmt  *sql.Stmt
}

// NewStmtCache caches up to max statements of db (max ≤ 0: 256).
func NewStmtCache(db *sql.DB, max int) *StmtCache {
	if max <= 0 {
		max = 256
	}
	return &StmtCache{db: db, max: max, order: list.New(), byKey: map[string]*list.Element{}}
}

// get returns the prepared statement for query, preparing it on first use.
// ok is false when it is not prepared (yet): the caller runs the query
// directly. Inside a transaction nothing is prepared on the spot: the
// transaction holds the connection (the SQLite writer has only one), so the
// statement is prepared in the background, once the connection is free, for
// the next use.
func (c *StmtCache) get(ctx context.Context, query string, inTx bool) (*sql.Stmt, bool) {
	c.mu.Lock()
	if el, found := c.byKey[query]; found {
		c.order.MoveToFront(el)
		st := el.Value.(*cachedStmt).stmt
		c.mu.Unlock()
		return st, true
	}
	if inTx {
		if c.pending == nil {
			c.pending = map[string]bool{}
		}
		if !c.pending[query] && !c.closed {
			c.pending[query] = true
			go c.prepareLater(query)
		}
		c.mu.Unlock()
		return nil, false
	}
	c.mu.Unlock()
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, false
	}
	return c.add(query, st), true
}

func (c *StmtCache) prepareLater(query string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := c.db.PrepareContext(ctx, query)
	c.mu.Lock()
	delete(c.pending, query)
	closed := c.closed
	c.mu.Unlock()
	if err != nil {
		return
	}
	if closed {
		_ = st.Close()
		return
	}
	c.add(query, st)
}

// add caches st for query (or returns the statement cached meanwhile).
func (c *StmtCache) add(query string, st *sql.Stmt) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, found := c.byKey[query]; found {
		// Prepared concurrently: keep the first, drop ours.
		_ = st.Close()
		c.order.MoveToFront(el)
		return el.Value.(*cachedStmt).stmt
	}
	c.byKey[query] = c.order.PushFront(&cachedStmt{query: query, stmt: st})
	for c.order.Len() > c.max {
		old := c.order.Back()
		c.order.Remove(old)
		cs := old.Value.(*cachedStmt)
		delete(c.byKey, cs.query)
		// database/sql closes it once statements derived from it in
		// running transactions are done.
		_ = cs.stmt.Close()
	}
	return st
}

// Len is the number of cached statements.
func (c *StmtCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// Close closes every cached statement.
func (c *StmtCache) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for el := c.order.Front(); el != nil; el = el.Next() {
		_ = el.Value.(*cachedStmt).stmt.Close()
	}
	c.order.Init()
	c.byKey = map[string]*list.Element{}
	return nil
}

// stmtFor returns what to run query on: a cached statement (within the
// transaction when the querier is one) or the connection itself.
func (q Querier) stmtFor(ctx context.Context, query string) (Conn, bool) {
	if q.Stmts == nil {
		return nil, false
	}
	tx, isTx := q.Conn.(*sql.Tx)
	st, ok := q.Stmts.get(ctx, query, isTx)
	if !ok {
		return nil, false
	}
	if isTx {
		st = tx.StmtContext(ctx, st)
	}
	return stmtConn{st}, true
}

// stmtConn runs a prepared statement through the Conn interface (the query
// text is the statement's own and is ignored).
type stmtConn struct{ st *sql.Stmt }

func (s stmtConn) ExecContext(ctx context.Context, _ string, args ...any) (sql.Result, error) {
	return s.st.ExecContext(ctx, args...)
}

func (s stmtConn) QueryContext(ctx context.Context, _ string, args ...any) (*sql.Rows, error) {
	return s.st.QueryContext(ctx, args...)
}

func (s stmtConn) QueryRowContext(ctx context.Context, _ string, args ...any) *sql.Row {
	return s.st.QueryRowContext(ctx, args...)
}
