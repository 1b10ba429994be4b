package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	stdsync "sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"omnihub/config"
	"omnihub/internal/app"
	"omnihub/internal/scenario"
	"omnihub/inventory"
	"omnihub/order"
	"omnihub/store"
	"omnihub/store/storetest"
	syncer "omnihub/sync"
)

// runMainEnv makes the test binary behave as the omnihub binary: the
// multi-process test starts its serve processes by running itself with
// this variable set, so the processes under test run exactly main() (with
// the race detector when the test has it) and no separate build is needed.
const runMainEnv = "OMNIHUB_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Schedules of the serve processes under test: short, so that a test of a
// few seconds sees many periods.
const (
	multiTick      = 300 * time.Millisecond
	multiReconcile = 2 * time.Second
)

// TestServeProcessesShareOnePostgres is the multi-process acceptance: two
// `omnihub serve` processes (real subprocesses, each with its own process
// id, River client, HTTP listener and sync engine) share one fresh
// PostgreSQL schema behind a round-robin load balancer that receives the
// API calls and the Douyin webhooks. Four simulated shops (two Taobao, two
// Douyin) sell for a few seconds while stock is received through the API.
// The test then proves that
//   - both processes did work (jobs finished per process, from River's
//     attempted_by),
//   - nothing was done twice: every platform order exists once and was
//     created once, every inbox message was processed by one job, no push
//     of a (shop, SKU, mark version) reached a platform twice and every call
//     the simulators counted is accounted for by one push-log row or one
//     reconciliation correction, no two runs of a per-shop job overlapped,
//     and every reconciliation report belongs to exactly one job,
//   - the periodic jobs (sync_tick, sync_reconcile_all) ran once per period:
//     every run on one leader's schedule, no more runs than periods served,
//   - and the end state equals the ground truth: every order in OmniHub,
//     every channel at its policy value, the ledger consistent.
//
// Subprocesses rather than two App values in this process: they share
// nothing but the database and the network, exactly as two hosts would, and
// each exits 0 on SIGTERM (a data race in either would make it exit 66).
func TestServeProcessesShareOnePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two serve processes for several seconds")
	}
	dbURL := storetest.FreshPostgresURL(t) // skips without PostgreSQL unless CI=true
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	secret := base64.StdEncoding.EncodeToString(key)

	// The test's own handle on the database: migrates the fresh schema,
	// seeds the merchant, drives stock and reads the outcome. It runs no
	// jobs (RunWorkers false), so every job is worked by a serve process.
	cfg := config.Default()
	cfg.DB, cfg.DataDir, cfg.SecretKey = dbURL, t.TempDir(), secret
	driver, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler), app.Options{Migrate: true, ProcessID: "test-driver"})
	if err != nil {
		t.Fatal(err)
	}
	defer driver.Close()

	procs := make([]*serveProc, 2)
	for i := range procs {
		procs[i] = startServe(t, ctx, i, dbURL, secret)
	}
	defer func() {
		for _, p := range procs {
			p.kill()
		}
		if t.Failed() {
			for _, p := range procs {
				t.Logf("log of %s (last lines):\n%s", p.id, p.tail(40))
			}
		}
	}()
	lb := newRoundRobin(t, procs)
	defer lb.srv.Close()

	progress := io.Discard
	if testing.Verbose() {
		progress = os.Stderr
	}
	sale := 8 * time.Second
	w, err := scenario.Setup(ctx, driver, lb.srv.URL, scenario.Options{TaobaoShops: 2, DouyinShops: 2, Sale: sale,
		DouyinRate: 12, TaobaoRate: 6, FlashStock: 120, Settle: 45 * time.Second, Seed: 7, Progress: progress})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// The serve processes have no default warehouse (that is a process
	// option the scenario sets on its own App); a routing rule is how a
	// merchant running several processes says where orders ship from. No
	// order exists yet, so no process has loaded (and cached) the rules.
	if _, err := driver.Orders.SaveRule(ctx, order.Rule{Kind: order.KindRoute, Name: "all from HZ", Expression: "true",
		Target: w.Warehouses[0].ID, Priority: 1, Enabled: true}, "test"); err != nil {
		t.Fatal(err)
	}

	// A steady stream of stock receipts through the load balancer while
	// buyers buy: each moves sellable numbers and so marks every shop.
	receipts := make(chan int, 1)
	go func() { receipts <- receiveStock(ctx, t, time.Now().Add(sale), lb.srv.URL, w) }()

	sum, err := w.Run(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	nReceipts := <-receipts
	t.Logf("summary: %d platform orders (%d paid), %d in OmniHub, %d held out of stock, %d stock pushes, %d receipts, settled in %s",
		sum.PlatformOrders, sum.PlatformPaid, sum.Ingested, sum.OutOfStockHeld, sum.StockPushes, nReceipts, sum.SettleDuration.Round(time.Millisecond))
	for _, v := range sum.Violations() {
		t.Error(v)
	}
	if sum.PlatformOrders == 0 || sum.Ingested != sum.PlatformOrders {
		t.Errorf("ingested %d of %d platform orders", sum.Ingested, sum.PlatformOrders)
	}
	if nReceipts == 0 {
		t.Error("no stock was received during the sale")
	}

	// Let work in flight finish (the platforms' last webhooks, message
	// jobs, pushes), then stop both processes as an operator would; each
	// must exit 0. From here on the database is at rest.
	for _, s := range w.Shops {
		if s.Douyin != nil {
			if err := s.Douyin.WaitPushes(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitQuiet(ctx, t, driver.DB)
	served := time.Since(procs[0].started)
	// Once the first process is stopped the other is the only one left and
	// becomes leader (River hands leadership over on a clean stop): its
	// periodic jobs then start a grid of their own, rightly. The one-grid
	// check covers the time both processes ran.
	bothStopping := time.Now()
	for _, p := range procs {
		if err := p.stop(); err != nil {
			t.Errorf("%s after SIGTERM: %v", p.id, err)
		}
	}
	t.Logf("load balancer: %d requests to %s, %d to %s", lb.hits[0].Load(), procs[0].id, lb.hits[1].Load(), procs[1].id)

	db := driver.DB
	checkSplit(ctx, t, db, procs)
	checkOrdersOnce(ctx, t, db)
	checkInboxOnce(ctx, t, db)
	checkNoOverlap(ctx, t, db)
	checkPeriodic(ctx, t, db, "sync_tick", multiTick, served, bothStopping)
	checkPeriodic(ctx, t, db, "sync_reconcile_all", multiReconcile, served, bothStopping)
	checkReconcileRuns(ctx, t, db, w)
	checkPushes(ctx, t, db, w)
	checkGroundTruth(ctx, t, driver, w)
}

// serveProc is one `omnihub serve` subprocess.
type serveProc struct {
	id      string // its process id among those sharing the database
	url     string
	started time.Time
	cmd     *exec.Cmd
	done    chan error
	mu      stdsync.Mutex
	log     bytes.Buffer
}

func startServe(t *testing.T, ctx context.Context, n int, dbURL, secret string) *serveProc {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "serve", "--db", dbURL, "--addr", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"), "--log-format", "json")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), runMainEnv+"=1",
		"OMNIHUB_SECRET_KEY="+secret,
		"OMNIHUB_SYNC_TICK="+multiTick.String(),
		"OMNIHUB_SYNC_RECONCILE_EVERY="+multiReconcile.String(),
		"OMNIHUB_JOB_BACKOFF_BASE=50ms", "OMNIHUB_JOB_BACKOFF_MAX=1s", "OMNIHUB_JOB_WORKERS=8")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &serveProc{cmd: cmd, done: make(chan error, 1), started: time.Now()}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	// app.DefaultProcessID: what serve names itself (and its River client).
	p.id = fmt.Sprintf("%s-%d", host, cmd.Process.Pid)
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.log.Write(sc.Bytes())
			p.log.WriteByte('\n')
			p.mu.Unlock()
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) == nil && line["msg"] == "omnihub serving" {
				addr <- line["addr"].(string)
			}
		}
		p.done <- cmd.Wait()
	}()
	select {
	case a := <-addr:
		p.url = "http://" + a
	case err := <-p.done:
		t.Fatalf("serve %d exited before serving: %v\n%s", n, err, p.tail(40))
	case <-time.After(30 * time.Second):
		p.kill()
		t.Fatalf("serve %d did not report its address\n%s", n, p.tail(40))
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	return p
}

// stop sends SIGTERM and waits for a graceful exit.
func (p *serveProc) stop() error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case err := <-p.done:
		p.done <- err // kill and later readers see it too
		return err
	case <-time.After(40 * time.Second):
		return fmt.Errorf("no exit within 40s of SIGTERM")
	}
}

func (p *serveProc) kill() {
	select {
	case err := <-p.done:
		p.done <- err
	default:
		_ = p.cmd.Process.Kill()
	}
}

func (p *serveProc) tail(n int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(p.log.String()), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// roundRobin is the load balancer in front of the serve processes.
type roundRobin struct {
	srv  *httptest.Server
	next atomic.Uint64
	hits []atomic.Int64
}

func newRoundRobin(t *testing.T, procs []*serveProc) *roundRobin {
	rr := &roundRobin{hits: make([]atomic.Int64, len(procs))}
	proxies := make([]*httputil.ReverseProxy, len(procs))
	for i, p := range procs {
		u, err := url.Parse(p.url)
		if err != nil {
			t.Fatal(err)
		}
		proxies[i] = httputil.NewSingleHostReverseProxy(u)
	}
	rr.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(rr.next.Add(1) % uint64(len(proxies)))
		rr.hits[i].Add(1)
		proxies[i].ServeHTTP(w, r)
	}))
	return rr
}

// receiveStock posts small receipts of random SKUs to random warehouses
// until the deadline and returns how many were accepted.
func receiveStock(ctx context.Context, t *testing.T, until time.Time, base string, w *scenario.World) int {
	codes := make([]string, 0, len(w.SKUs))
	for code := range w.SKUs {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	rng := mrand.New(mrand.NewPCG(1, 2))
	hc := &http.Client{Timeout: 10 * time.Second}
	n := 0
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := 1; time.Now().Before(until); i++ {
		select {
		case <-ctx.Done():
			return n
		case <-tick.C:
		}
		in := inventory.ReceiptInput{Doc: inventory.DocRef{Type: "receipt", ID: fmt.Sprintf("MP-%d", i), Line: 1},
			WarehouseID: w.Warehouses[rng.IntN(len(w.Warehouses))].ID, SKUID: w.SKUs[codes[rng.IntN(len(codes))]].ID, Qty: 1 + rng.Int64N(3)}
		body, _ := json.Marshal(in)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/inventory/receipts", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+w.Token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			t.Errorf("receipt %d: %v", i, err)
			return n
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("receipt %d: %d %s", i, resp.StatusCode, raw)
			return n
		}
		n++
	}
	return n
}

// effectKinds are the jobs whose work must be done before the processes
// stop; the rest (polls, pulls, reconciliations) are scheduled again by
// the next tick or period and may be left queued by a stop.
var effectKinds = []string{"sync_process_message", "sync_push_stock", "sync_upload_shipment", "sync_send_alert", "sync_burst_pull", "aftersales_respond"}

// waitQuiet waits until no effect job is queued or running, every inbox
// message is processed and every stock mark pushed, twice in a row.
func waitQuiet(ctx context.Context, t *testing.T, db store.DB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	quiet := 0
	for quiet < 2 {
		var jobs, inbox, marks int
		mustScan(t, db.QueryRow(ctx, `SELECT COUNT(*) FROM river_job WHERE state IN ('available', 'running', 'retryable', 'scheduled', 'pending')
			AND kind = ANY($1)`, effectKinds), &jobs)
		mustScan(t, db.QueryRow(ctx, `SELECT COUNT(*) FROM sync_inbox WHERE processed_at IS NULL`), &inbox)
		mustScan(t, db.QueryRow(ctx, `SELECT COUNT(*) FROM stock_push_marks WHERE version > pushed_version`), &marks)
		if jobs+inbox+marks == 0 {
			quiet++
		} else {
			quiet = 0
		}
		if time.Now().After(deadline) {
			var stuck []string
			for _, j := range readJobs(ctx, t, db) {
				if slices.Contains(effectKinds, j.kind) && j.state != "completed" && len(stuck) < 5 {
					stuck = append(stuck, fmt.Sprintf("%d %s %s attempt %d, %d snoozes, last error %q", j.id, j.kind, j.state, j.attempts, j.snoozes, j.lastError))
				}
			}
			t.Fatalf("not quiet after 30s: %d effect jobs queued, %d inbox messages, %d stock marks pending; e.g. %v", jobs, inbox, marks, stuck)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// jobRow is what the checks read from River's job table.
type jobRow struct {
	id                     int64
	kind, args, state      string
	lastBy                 string
	processes, attempts    int
	errors, snoozes        int
	lastError              string
	attemptedAt, finalized *time.Time
	createdAt              time.Time
}

func readJobs(ctx context.Context, t *testing.T, db store.DB) []jobRow {
	t.Helper()
	rows, err := db.Query(ctx, `SELECT id, kind, args::text, state::text,
			COALESCE(attempted_by[array_length(attempted_by, 1)], ''),
			(SELECT COUNT(DISTINCT p) FROM unnest(attempted_by) AS p), attempt,
			COALESCE(array_length(errors, 1), 0), COALESCE((metadata->>'snoozes')::int, 0),
			COALESCE(errors[array_length(errors, 1)]->>'error', ''),
			attempted_at, finalized_at, created_at
		FROM river_job ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []jobRow
	for rows.Next() {
		var j jobRow
		if err := rows.Scan(&j.id, &j.kind, &j.args, &j.state, &j.lastBy, &j.processes, &j.attempts, &j.errors, &j.snoozes, &j.lastError,
			&j.attemptedAt, &j.finalized, &j.createdAt); err != nil {
			t.Fatal(err)
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkSplit: both processes finished jobs, of the kinds that do the work
// (not only ticks); every job finished; none failed.
func checkSplit(ctx context.Context, t *testing.T, db store.DB, procs []*serveProc) {
	jobs := readJobs(ctx, t, db)
	byProc := map[string]map[string]int{}
	kinds := map[string]bool{}
	total := map[string]int{}
	var unfinished, failed, retried, handedOver []string
	for _, j := range jobs {
		if j.errors > 0 {
			retried = append(retried, fmt.Sprintf("%d %s (%d errors, last: %s)", j.id, j.kind, j.errors, j.lastError))
		}
		if j.state != "completed" {
			if j.state == "discarded" || j.state == "cancelled" {
				failed = append(failed, fmt.Sprintf("%d %s %s: %s", j.id, j.kind, j.state, j.lastError))
			} else if slices.Contains(effectKinds, j.kind) || j.state != "available" {
				unfinished = append(unfinished, fmt.Sprintf("%d %s %s %s", j.id, j.kind, j.state, j.args))
			}
			continue
		}
		if j.processes > 1 {
			handedOver = append(handedOver, fmt.Sprintf("%d %s (%d snoozes)", j.id, j.kind, j.snoozes))
		}
		if byProc[j.lastBy] == nil {
			byProc[j.lastBy] = map[string]int{}
		}
		byProc[j.lastBy][j.kind]++
		total[j.lastBy]++
		kinds[j.kind] = true
	}
	var ks []string
	for k := range kinds {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var b strings.Builder
	fmt.Fprintf(&b, "%-24s", "jobs finished by")
	for _, p := range procs {
		fmt.Fprintf(&b, " %22s", p.id)
	}
	for _, k := range ks {
		fmt.Fprintf(&b, "\n%-24s", k)
		for _, p := range procs {
			fmt.Fprintf(&b, " %22d", byProc[p.id][k])
		}
	}
	fmt.Fprintf(&b, "\n%-24s", "total")
	for _, p := range procs {
		fmt.Fprintf(&b, " %22d", total[p.id])
	}
	t.Logf("work split:\n%s", b.String())
	t.Logf("%d jobs ran on both processes (a snoozed or retried job fetched again elsewhere): %v", len(handedOver), first(handedOver, 10))
	for who := range byProc {
		if who != procs[0].id && who != procs[1].id {
			t.Errorf("%d jobs finished by %q, not a serve process", total[who], who)
		}
	}
	for _, p := range procs {
		work := 0 // jobs that call platforms or change data, not the periodic fan-outs
		for k, n := range byProc[p.id] {
			if k != "sync_tick" && k != "sync_reconcile_all" {
				work += n
			}
		}
		if work < 10 {
			t.Errorf("%s finished only %d sync jobs: the work is not shared", p.id, work)
		}
	}
	if len(unfinished) > 0 {
		t.Errorf("%d jobs not finished after a graceful stop: %v", len(unfinished), first(unfinished, 10))
	}
	// Retries are normal (a refund message processed before its order's
	// message waits for the order); a job given up is not.
	t.Logf("%d jobs retried: %v", len(retried), first(retried, 5))
	if len(failed) > 0 {
		t.Errorf("%d jobs dead-lettered or cancelled: %v", len(failed), first(failed, 10))
	}
}

// checkOrdersOnce: one row and one creation per platform order.
func checkOrdersOnce(ctx context.Context, t *testing.T, db store.DB) {
	var dupRows, dupCreated, orders, created int
	mustScan(t, db.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM orders GROUP BY shop_id, platform_order_id HAVING COUNT(*) > 1) d`), &dupRows)
	mustScan(t, db.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM order_events WHERE kind = 'transition' AND from_status = ''
		GROUP BY order_id HAVING COUNT(*) > 1) d`), &dupCreated)
	mustScan(t, db.QueryRow(ctx, `SELECT COUNT(*) FROM orders`), &orders)
	mustScan(t, db.QueryRow(ctx, `SELECT COUNT(DISTINCT order_id) FROM order_events WHERE kind = 'transition' AND from_status = ''`), &created)
	if dupRows != 0 || dupCreated != 0 || created != orders {
		t.Errorf("orders: %d platform orders stored twice, %d created twice, %d creations for %d orders", dupRows, dupCreated, created, orders)
	}
}

// checkInboxOnce: every stored platform message got one processing job,
// which ran once and marked it processed.
func checkInboxOnce(ctx context.Context, t *testing.T, db store.DB) {
	var inbox, unprocessed, jobs, distinct int
	mustScan(t, db.QueryRow(ctx, `SELECT COUNT(*), COUNT(*) FILTER (WHERE processed_at IS NULL) FROM sync_inbox`), &inbox, &unprocessed)
	mustScan(t, db.QueryRow(ctx, `SELECT COUNT(*), COUNT(DISTINCT args->>'inbox_id') FROM river_job WHERE kind = 'sync_process_message'`), &jobs, &distinct)
	t.Logf("inbox: %d platform messages, %d processing jobs", inbox, jobs)
	if inbox == 0 || unprocessed != 0 || jobs != inbox || distinct != inbox {
		t.Errorf("inbox: %d messages (%d unprocessed), %d processing jobs for %d distinct messages", inbox, unprocessed, jobs, distinct)
	}
}

// checkNoOverlap: a per-shop job never ran in both processes at once (River
// unique jobs) — two runs of the same kind and arguments never overlap.
func checkNoOverlap(ctx context.Context, t *testing.T, db store.DB) {
	rows, err := db.Query(ctx, `SELECT a.id, b.id, a.kind, a.args::text FROM river_job a JOIN river_job b
		ON a.kind = b.kind AND a.args = b.args AND a.id < b.id
		WHERE a.kind IN ('sync_tick', 'sync_reconcile_all', 'sync_pull_orders', 'sync_consume_messages', 'sync_reconcile', 'sync_refresh_token')
		AND a.state = 'completed' AND b.state = 'completed'
		AND a.attempted_at < b.finalized_at AND b.attempted_at < a.finalized_at`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var a, b int64
		var kind, args string
		if err := rows.Scan(&a, &b, &kind, &args); err != nil {
			t.Fatal(err)
		}
		t.Errorf("jobs %d and %d (%s %s) ran at the same time", a, b, kind, args)
	}
}

// checkPeriodic: a periodic job was enqueued once per period. River's
// leader stamps each periodic job with its slot (scheduled_at): the run on
// start, then every period after it, exactly. One leader therefore fills one
// grid, each slot once; a second process enqueuing too would add slots off
// that grid (its own start is another origin) or repeat one. The number of
// runs is also bounded by the periods served.
//
// Slots from before (only) are checked against the grid: after it, one
// process was stopping and the other may have taken the lead.
func checkPeriodic(ctx context.Context, t *testing.T, db store.DB, kind string, every, served time.Duration, before time.Time) {
	rows, err := db.Query(ctx, `SELECT scheduled_at, created_at, attempted_at, finalized_at,
			COALESCE(array_length(errors, 1), 0) + COALESCE((metadata->>'snoozes')::int, 0)
		FROM river_job WHERE kind = $1 ORDER BY scheduled_at`, kind)
	if err != nil {
		t.Fatal(err)
	}
	var slots []time.Time
	var maxWait, maxRun time.Duration // queued before a worker took it; running
	runs := 0
	for rows.Next() {
		var slot, created time.Time
		var started, ended *time.Time
		var moved int
		if err := rows.Scan(&slot, &created, &started, &ended, &moved); err != nil {
			t.Fatal(err)
		}
		if !created.Before(before) {
			continue // enqueued while the processes were stopping
		}
		runs++
		if moved == 0 && slot.Before(before) { // a retry or snooze moves scheduled_at off its slot
			slots = append(slots, slot)
		}
		if started != nil {
			maxWait = max(maxWait, started.Sub(created))
			if ended != nil {
				maxRun = max(maxRun, ended.Sub(*started))
			}
		}
	}
	rows.Close()
	limit := int(served/every) + 2 // + the run on start and one at the edge
	t.Logf("%s: %d runs in %s (period %s, at most %d); longest wait for a worker %s, longest run %s",
		kind, runs, served.Round(time.Millisecond), every, limit, maxWait.Round(time.Millisecond), maxRun.Round(time.Millisecond))
	if len(slots) < 3 {
		t.Fatalf("%s ran %d times (%d on their slot) in %s (every %s): too few to judge", kind, runs, len(slots), served, every)
	}
	if runs > limit {
		t.Errorf("%s ran %d times in %s, more than once per period", kind, runs, served)
	}
	const tolerance = time.Millisecond // the database keeps microseconds
	for i := 1; i < len(slots); i++ {
		d := slots[i].Sub(slots[0])
		off := d % every
		if d < every-tolerance || (off > tolerance && off < every-tolerance) {
			t.Errorf("%s slot %s is %s after the first, not a whole number of periods: enqueued by a second leader", kind,
				slots[i].Format("15:04:05.000000"), d)
		}
	}
}

// checkReconcileRuns: every reconciliation report belongs to one job (plus
// the scenario's initial one per shop), and a shop was never reconciled more
// often than reconcile-all runs and explicit requests asked for.
func checkReconcileRuns(ctx context.Context, t *testing.T, db store.DB, w *scenario.World) {
	var all int
	mustScan(t, db.QueryRow(ctx, `SELECT COUNT(*) FROM river_job WHERE kind = 'sync_reconcile_all' AND state = 'completed'`), &all)
	for _, s := range w.Shops {
		var jobs, reports int
		mustScan(t, db.QueryRow(ctx, `SELECT COUNT(*) FROM river_job WHERE kind = 'sync_reconcile' AND state = 'completed'
			AND args->>'shop_id' = $1`, s.Shop.ID), &jobs)
		mustScan(t, db.QueryRow(ctx, `SELECT COUNT(*) FROM sync_reconcile_runs WHERE shop_id = $1`, s.Shop.ID), &reports)
		if reports != jobs+1 {
			t.Errorf("%s: %d reconciliation reports for %d jobs and the initial run", s.Shop.Name, reports, jobs)
		}
		if jobs < 1 || jobs > all+4 { // the scenario may ask for a reconciliation now and then while converging
			t.Errorf("%s reconciled %d times by jobs; reconcile-all ran %d times", s.Shop.Name, jobs, all)
		}
	}
}

// checkPushes: no (shop, SKU, mark version) was pushed twice, and every
// stock call a simulator received is one push-log row or one correction in a
// reconciliation report — so the push log is the whole story.
func checkPushes(ctx context.Context, t *testing.T, db store.DB, w *scenario.World) {
	var dups, failed, logged int
	mustScan(t, db.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM sync_push_log WHERE ok
		GROUP BY shop_id, sku_id, platform_sku_id, version HAVING COUNT(*) > 1) d`), &dups)
	mustScan(t, db.QueryRow(ctx, `SELECT COUNT(*) FILTER (WHERE NOT ok), COUNT(*) FROM sync_push_log`), &failed, &logged)
	if dups != 0 || failed != 0 {
		t.Errorf("push log: %d (shop, SKU, version) pushed more than once, %d rejected pushes", dups, failed)
	}
	// Pushes and corrections per shop and platform SKU.
	want := map[string]map[string]int{}
	add := func(shopID, sku string, n int) {
		if want[shopID] == nil {
			want[shopID] = map[string]int{}
		}
		want[shopID][sku] += n
	}
	rows, err := db.Query(ctx, `SELECT shop_id, platform_sku_id, COUNT(*) FROM sync_push_log WHERE ok GROUP BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var shopID, sku string
		var n int
		if err := rows.Scan(&shopID, &sku, &n); err != nil {
			t.Fatal(err)
		}
		add(shopID, sku, n)
	}
	rows.Close()
	corrections, leftToPusher := 0, 0
	rows, err = db.Query(ctx, `SELECT shop_id, report FROM sync_reconcile_runs`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var shopID, raw string
		if err := rows.Scan(&shopID, &raw); err != nil {
			t.Fatal(err)
		}
		var rep syncer.ReconcileReport
		if err := json.Unmarshal([]byte(raw), &rep); err != nil {
			t.Fatal(err)
		}
		for _, d := range rep.StockDrift {
			if d.Corrected {
				add(shopID, d.PlatformSKUID, 1)
				corrections++
			}
			if d.Pending {
				leftToPusher++
			}
		}
	}
	rows.Close()
	t.Logf("stock: %d pushes logged, %d reconciliation corrections (the scenario's first run sets every listing), %d drifts left to a queued push",
		logged, corrections, leftToPusher)
	for _, s := range w.Shops {
		if s.Taobao != nil {
			got, n := s.Taobao.QuantityUpdates(), 0 // one per SKU, whichever stock API set it
			for _, c := range want[s.Shop.ID] {
				n += c
			}
			if got != n {
				t.Errorf("%s received %d quantity updates; OmniHub logged %d pushes and corrections", s.Shop.Name, got, n)
			}
			continue
		}
		for _, sku := range s.Douyin.SKUs() {
			got, _ := s.Douyin.StockSyncs(sku)
			if n := want[s.Shop.ID][strconv.FormatInt(sku, 10)]; got != n {
				t.Errorf("%s SKU %d received %d stock syncs; OmniHub logged %d pushes and corrections", s.Shop.Name, sku, got, n)
			}
		}
	}
}

// checkGroundTruth re-reads, with both processes stopped, what the
// scenario measured at convergence: channel stock at policy, ledger sound.
func checkGroundTruth(ctx context.Context, t *testing.T, a *app.App, w *scenario.World) {
	for _, s := range w.Shops {
		for code, sku := range w.SKUs {
			got, ok := s.ChannelStock(code)
			if !ok {
				continue
			}
			want, err := a.Inventory.Sellable(ctx, s.Shop.ID, sku.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got != max(want, 0) {
				t.Errorf("%s %s: channel %d, policy %d", s.Shop.Name, code, got, want)
			}
		}
	}
	rep, err := a.Inventory.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Errorf("inventory check: %v", rep.Violations)
	}
	var pending int
	mustScan(t, a.DB.QueryRow(ctx, `SELECT COUNT(*) FROM stock_push_marks WHERE version > pushed_version`), &pending)
	if pending != 0 {
		t.Errorf("%d stock changes never pushed", pending)
	}
}

func mustScan(t *testing.T, r store.Row, dst ...any) {
	t.Helper()
	if err := r.Scan(dst...); err != nil {
		t.Fatal(err)
	}
}

func first(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
