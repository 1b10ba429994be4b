// Package txgroup lets concurrent callers share transactions (group
// commit).
//
// A durable commit costs a flush of the log to disk, and on SQLite every
// transaction of the process goes through one write connection, so many
// small concurrent transactions queue behind each other's commits. A Group
// runs the calls that arrive while a transaction is in progress together
// in the next one: the first caller to find the group idle leads and runs,
// in one transaction, every call queued by then, each inside a savepoint of
// its own; callers arriving meanwhile queue for the following transaction.
// There is no timer: a lone call runs at once, alone, and batches grow only
// as far as the load makes callers wait anyway. (The queueing is package
// batchq's.)
//
// What a caller sees is what it would see with a transaction of its own:
//   - a call that fails (or panics) is rolled back to its savepoint and
//     gets its error; the others in the transaction commit;
//   - if the transaction as a whole fails (the commit, or the group's
//     Finish), every call in it gets that error and none is applied;
//   - a call returns only once its work is committed or abandoned;
//   - AfterCommit hooks registered by a call run after the shared commit,
//     and only if the call succeeded.
//
// One difference: inside a shared transaction a call's callback gets its
// caller's context values but not its cancellation (on SQLite an
// interrupted statement may roll back the whole transaction, every caller's
// work with it). A caller whose context ends while its call is still queued
// is dropped from the queue and gets the context's error.
package txgroup

import (
	"context"
	"sync"

	"omnihub/errs"
	"omnihub/internal/batchq"
	"omnihub/store"
)

// TxFunc is the shape of store.DB's InTx.
type TxFunc func(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error

// Group shares transactions between concurrent Do calls. Each successful
// call yields a value of type T; Finish, when set, runs last in every
// transaction with the values of the calls that succeeded in it (to do
// once per transaction what each call would otherwise do on its own). A
// Group must not be copied after first use.
type Group[T any] struct {
	// InTx runs one transaction (a store.DB's InTx, or an engine's own).
	InTx   TxFunc
	Finish func(ctx context.Context, tx store.Tx, done []T) error
	// MaxBatch bounds the calls of one transaction (default 256), so that
	// one transaction does not hold the writer for too long.
	MaxBatch int

	init sync.Once
	q    batchq.Queue[*call[T]]
}

type call[T any] struct {
	ctx   context.Context
	fn    func(ctx context.Context, tx store.Tx) (T, error)
	val   T
	err   error
	after []func()
}

// Do runs fn in a transaction, shared with the concurrent callers of the
// group, and returns once that transaction has committed or failed. Like
// any InTx callback, fn may be run again if the engine retries the
// transaction, so it must have no side effects outside it.
func (g *Group[T]) Do(ctx context.Context, fn func(ctx context.Context, tx store.Tx) (T, error)) error {
	c := &call[T]{ctx: ctx, fn: fn}
	g.init.Do(func() { g.q.Max = g.MaxBatch })
	if err := g.q.Do(ctx, c, g.run); err != nil {
		return err
	}
	return c.err
}

// run executes one batch in one transaction and answers every call in it.
func (g *Group[T]) run(batch []*call[T]) {
	if len(batch) == 1 {
		// Alone: the transaction is the call's own, with its context.
		c := batch[0]
		c.err = g.InTx(c.ctx, func(ctx context.Context, tx store.Tx) error {
			v, err := safely(ctx, tx, c.fn)
			if err != nil {
				return err
			}
			if g.Finish != nil {
				return g.Finish(ctx, tx, []T{v})
			}
			return nil
		})
		return
	}
	ctx := context.WithoutCancel(batch[0].ctx)
	err := g.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		var vals []T
		for _, c := range batch {
			var zero T
			c.val, c.err, c.after = zero, nil, nil
			// One name serves every call: each savepoint is released
			// before the next is taken, and one statement text keeps the
			// prepared-statement cache small.
			if _, err := tx.Exec(ctx, "SAVEPOINT txgroup_call"); err != nil {
				return errs.Wrap(err, errs.Internal, "txgroup: savepoint")
			}
			ct := &callTx{Tx: tx}
			v, err := safely(context.WithoutCancel(c.ctx), ct, c.fn)
			if err != nil {
				c.err = err
				if _, rerr := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT txgroup_call"); rerr != nil {
					return errs.Wrap(rerr, errs.Internal, "txgroup: roll back a failed call")
				}
			} else {
				c.val, c.after = v, ct.after
				vals = append(vals, v)
			}
			if _, err := tx.Exec(ctx, "RELEASE SAVEPOINT txgroup_call"); err != nil {
				return errs.Wrap(err, errs.Internal, "txgroup: release savepoint")
			}
		}
		if g.Finish != nil && len(vals) > 0 {
			if err := g.Finish(ctx, tx, vals); err != nil {
				return err
			}
		}
		for _, c := range batch {
			for _, f := range c.after {
				tx.AfterCommit(f)
			}
		}
		return nil
	})
	if err != nil {
		for _, c := range batch {
			c.err = err
		}
	}
}

// safely runs fn, turning a panic into an error of that call alone (in a
// shared transaction the panic would otherwise unwind another caller's
// goroutine).
func safely[T any](ctx context.Context, tx store.Tx, fn func(ctx context.Context, tx store.Tx) (T, error)) (v T, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = errs.E(errs.Internal, "txgroup: transaction callback panicked: %v", p)
		}
	}()
	return fn(ctx, tx)
}

// callTx is the shared transaction as one call sees it: its AfterCommit
// hooks are kept apart, to be dropped if the call is rolled back.
type callTx struct {
	store.Tx
	after []func()
}

func (t *callTx) AfterCommit(fn func()) { t.after = append(t.after, fn) }

var _ store.Tx = (*callTx)(nil)
