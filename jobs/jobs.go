// Package jobs is OmniHub's durable job queue, built on River.
//
// Every outbound effect (push stock, upload a shipment, answer a refund, send
// an alert) is a River job inserted in the same transaction as the change
// that caused it (see store.Tx.InsertJob). A job that fails is retried with
// exponential backoff; one that exhausts its attempts is kept by River in the
// "discarded" state, which OmniHub presents as a dead letter that a person can
// list, retry or skip.
//
// River's client is generic over the engine's transaction type; Client
// erases that so domain code and the HTTP API see one Queue.
package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"omnihub/errs"
)

// Queue is the engine-independent face of the job queue.
type Queue interface {
	// Workers is the bundle job workers register into (river.AddWorker)
	// before Start.
	Workers() *river.Workers
	// PeriodicJobs schedules jobs that run once per period across all
	// processes sharing the database (only the elected leader enqueues them).
	// It is nil on an insert-only queue.
	PeriodicJobs() *river.PeriodicJobBundle
	Start(ctx context.Context) error
	// Stop stops fetching new jobs and waits for running ones to finish.
	Stop(ctx context.Context) error
	// Insert enqueues a job outside any business transaction.
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (int64, error)
	// Get returns one job by id.
	Get(ctx context.Context, id int64) (*rivertype.JobRow, error)
	// DeadLetters lists jobs that exhausted their attempts, oldest first,
	// after the given id (0 for the start).
	DeadLetters(ctx context.Context, afterID int64, limit int) ([]DeadLetter, error)
	// Retry makes a dead letter run again now. Any other job (completed,
	// cancelled, still pending or running) is an errs.Conflict: retrying a
	// finished job would do its work twice (a shipment uploaded again).
	Retry(ctx context.Context, id int64) error
	// Skip removes a dead letter that a person decided not to retry.
	Skip(ctx context.Context, id int64) error
	// Subscribe delivers job completion and failure events until the returned
	// cancel is called.
	Subscribe(kinds ...river.EventKind) (<-chan *river.Event, func())
}

// DeadLetter is a job that exhausted its attempts.
type DeadLetter struct {
	ID          int64           `json:"id"`
	Kind        string          `json:"kind"`
	Queue       string          `json:"queue"`
	Args        json.RawMessage `json:"args"`
	Attempts    int             `json:"attempts"`
	MaxAttempts int             `json:"max_attempts"`
	LastError   string          `json:"last_error"`
	CreatedAt   time.Time       `json:"created_at"`
	FinalizedAt time.Time       `json:"finalized_at"`
}

// Config tunes the queue. Zero values take defaults.
type Config struct {
	// RunWorkers starts job processing in this process. False gives an
	// insert-only client (CLI commands that enqueue but do not work).
	RunWorkers bool
	// MaxWorkers is the number of concurrent jobs in the default queue (default 8).
	MaxWorkers int
	// MaxAttempts before a job becomes a dead letter (default 10).
	MaxAttempts int
	// BackoffBase is the first retry delay; each further attempt doubles it
	// up to BackoffMax (defaults 1s and 10m). Tests use milliseconds.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// PollInterval is how often workers look for new jobs when not notified
	// (default 1s; SQLite has no notifications so this bounds its latency).
	PollInterval time.Duration
	// ID names this process among those sharing a database.
	ID string
}

func (c Config) withDefaults() Config {
	if c.MaxWorkers <= 0 {
		c.MaxWorkers = 8
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 10
	}
	if c.BackoffBase <= 0 {
		c.BackoffBase = time.Second
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = 10 * time.Minute
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	return c
}

// Backoff is an exponential retry policy with ±10% jitter.
type Backoff struct {
	Base, Max time.Duration
}

// Delay returns the wait before the given retry (attempt counts from 1).
func (b Backoff) Delay(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := b.Base
	for i := 1; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	if d > b.Max {
		d = b.Max
	}
	jitter := time.Duration(float64(d) * 0.1 * (rand.Float64()*2 - 1))
	return d + jitter
}

// NextRetry implements river.ClientRetryPolicy.
func (b Backoff) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().Add(b.Delay(len(job.Errors) + 1))
}

// RiverConfig builds River's client configuration from ours.
func RiverConfig(c Config, workers *river.Workers) *river.Config {
	c = c.withDefaults()
	rc := &river.Config{
		ID:          c.ID,
		MaxAttempts: c.MaxAttempts,
		RetryPolicy: Backoff{Base: c.BackoffBase, Max: c.BackoffMax},
		// Dead letters are kept until a person acts on them.
		DiscardedJobRetentionPeriod: 100 * 365 * 24 * time.Hour,
		CompletedJobRetentionPeriod: 24 * time.Hour,
		JobTimeout:                  5 * time.Minute,
	}
	if c.RunWorkers {
		rc.Workers = workers
		rc.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: c.MaxWorkers}}
		rc.FetchPollInterval = c.PollInterval
		if rc.FetchPollInterval < 100*time.Millisecond {
			rc.FetchPollInterval = 100 * time.Millisecond
		}
		rc.FetchCooldown = min(rc.FetchPollInterval, 50*time.Millisecond)
	} else {
		// An insert-only client still validates kinds against workers when
		// they are known; we leave them out so CLI commands can enqueue.
		rc.Workers = nil
	}
	return rc
}

// Client adapts a River client of any transaction type to Queue.
type Client[TTx any] struct {
	River   *river.Client[TTx]
	workers *river.Workers
}

// NewClient wraps a River client. workers must be the bundle passed in the
// River configuration (or a fresh one for insert-only clients).
func NewClient[TTx any](rc *river.Client[TTx], workers *river.Workers) *Client[TTx] {
	return &Client[TTx]{River: rc, workers: workers}
}

// PingArgs is a job that does nothing: inserting one and seeing it complete
// proves the queue works end to end (used by checks and smoke tests).
type PingArgs struct {
	Note string `json:"note,omitempty"`
}

func (PingArgs) Kind() string { return "omnihub_ping" }

type pingWorker struct{ river.WorkerDefaults[PingArgs] }

func (pingWorker) Work(context.Context, *river.Job[PingArgs]) error { return nil }

// NewWorkers returns a worker bundle with the queue's own workers registered.
func NewWorkers() *river.Workers {
	w := river.NewWorkers()
	river.AddWorker(w, pingWorker{})
	return w
}

func (c *Client[TTx]) Workers() *river.Workers { return c.workers }

// PeriodicJobs returns the periodic job bundle, or nil for an insert-only
// client (a CLI command), which never runs periodic jobs.
func (c *Client[TTx]) PeriodicJobs() (b *river.PeriodicJobBundle) {
	defer func() {
		if recover() != nil {
			b = nil // River refuses periodic jobs on a client that does not work jobs
		}
	}()
	return c.River.PeriodicJobs()
}

func (c *Client[TTx]) Start(ctx context.Context) error {
	if err := c.River.Start(ctx); err != nil {
		return errs.Wrap(err, errs.Internal, "start job queue")
	}
	return nil
}

func (c *Client[TTx]) Stop(ctx context.Context) error {
	err := c.River.Stop(ctx)
	if err != nil && !errors.Is(err, context.Canceled) {
		return errs.Wrap(err, errs.Internal, "stop job queue")
	}
	return nil
}

// InsertTx enqueues a job in the engine's native transaction.
func (c *Client[TTx]) InsertTx(ctx context.Context, tx TTx, args river.JobArgs, opts *river.InsertOpts) error {
	if _, err := c.River.InsertTx(ctx, tx, args, opts); err != nil {
		return errs.Wrap(err, errs.Internal, "enqueue %s job", args.Kind())
	}
	return nil
}

// InsertManyTx enqueues several jobs in the engine's native transaction,
// in one statement.
func (c *Client[TTx]) InsertManyTx(ctx context.Context, tx TTx, params []river.InsertManyParams) error {
	if len(params) == 0 {
		return nil
	}
	if _, err := c.River.InsertManyFastTx(ctx, tx, params); err != nil {
		return errs.Wrap(err, errs.Internal, "enqueue %d jobs", len(params))
	}
	return nil
}

func (c *Client[TTx]) Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (int64, error) {
	res, err := c.River.Insert(ctx, args, opts)
	if err != nil {
		return 0, errs.Wrap(err, errs.Internal, "enqueue %s job", args.Kind())
	}
	return res.Job.ID, nil
}

func (c *Client[TTx]) Get(ctx context.Context, id int64) (*rivertype.JobRow, error) {
	job, err := c.River.JobGet(ctx, id)
	if errors.Is(err, rivertype.ErrNotFound) {
		return nil, errs.E(errs.NotFound, "job %d not found", id)
	}
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "get job %d", id)
	}
	return job, nil
}

func (c *Client[TTx]) DeadLetters(ctx context.Context, afterID int64, limit int) ([]DeadLetter, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	params := river.NewJobListParams().
		States(rivertype.JobStateDiscarded).
		OrderBy(river.JobListOrderByID, river.SortOrderAsc).
		First(limit)
	if afterID > 0 {
		params = params.Where("id > @after", river.NamedArgs{"after": afterID})
	}
	res, err := c.River.JobList(ctx, params)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "list dead letters")
	}
	out := make([]DeadLetter, 0, len(res.Jobs))
	for _, j := range res.Jobs {
		out = append(out, ToDeadLetter(j))
	}
	return out, nil
}

// ToDeadLetter describes a discarded job.
func ToDeadLetter(j *rivertype.JobRow) DeadLetter {
	dl := DeadLetter{
		ID: j.ID, Kind: j.Kind, Queue: j.Queue, Args: json.RawMessage(j.EncodedArgs),
		Attempts: j.Attempt, MaxAttempts: j.MaxAttempts, CreatedAt: j.CreatedAt,
	}
	if n := len(j.Errors); n > 0 {
		dl.LastError = j.Errors[n-1].Error
	}
	if j.FinalizedAt != nil {
		dl.FinalizedAt = *j.FinalizedAt
	}
	return dl
}

func (c *Client[TTx]) Retry(ctx context.Context, id int64) error {
	job, err := c.Get(ctx, id)
	if err != nil {
		return err
	}
	if job.State != rivertype.JobStateDiscarded {
		return errs.E(errs.Conflict, "job %d is %s, not a dead letter: only a discarded job can be retried", id, job.State)
	}
	if _, err := c.River.JobRetry(ctx, id); err != nil {
		if errors.Is(err, rivertype.ErrNotFound) {
			return errs.E(errs.NotFound, "job %d not found", id)
		}
		return errs.Wrap(err, errs.Internal, "retry job %d", id)
	}
	return nil
}

func (c *Client[TTx]) Skip(ctx context.Context, id int64) error {
	job, err := c.Get(ctx, id)
	if err != nil {
		return err
	}
	if job.State != rivertype.JobStateDiscarded {
		return errs.E(errs.Conflict, "job %d is %s, not a dead letter", id, job.State)
	}
	if _, err := c.River.JobDelete(ctx, id); err != nil {
		return errs.Wrap(err, errs.Internal, "skip job %d", id)
	}
	return nil
}

func (c *Client[TTx]) Subscribe(kinds ...river.EventKind) (<-chan *river.Event, func()) {
	return c.River.Subscribe(kinds...)
}

// Describe is a short human description of a job for logs and alerts.
func Describe(j *rivertype.JobRow) string {
	return fmt.Sprintf("job %d (%s, attempt %d/%d)", j.ID, j.Kind, j.Attempt, j.MaxAttempts)
}
