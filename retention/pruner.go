package retention

import (
	"cmp"
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/flowd/flowd/internal/ctxtime"
	"github.com/flowd/flowd/store"
)

// Defaults of Config (README "Data lifecycle" says why each).
const (
	// RetentionDefault is how long finished executions are kept.
	RetentionDefault = 720 * time.Hour
	// PruneIntervalDefault is the time between two cycles of a process.
	PruneIntervalDefault = 5 * time.Minute
	// BatchSizeDefault is the number of executions (with their attempts,
	// about four rows per execution for a 3-step chain) one batch deletes:
	// measured at 0.05-0.3 s a batch on this machine kind under load (up to
	// 1 s when the workers saturate it),
	// short enough that no worker waits on it, while the pruner still
	// deletes faster than the chain can insert (README "Data lifecycle").
	BatchSizeDefault = 500
	// BatchPauseDefault is the least pause between two batches; the pause
	// is at least twice as long as the batch took (pauseFactor), so the
	// pruner keeps at most a third of one connection busy whatever the
	// machine's load, and the workers get the rest, until a cycle lasts
	// longer than the interval (Pruner.pause).
	BatchPauseDefault = 20 * time.Millisecond
	// StatementTimeoutDefault bounds every batch statement.
	StatementTimeoutDefault = 10 * time.Second
	// LockTimeoutDefault bounds every wait of a batch for a row lock: the
	// pruner gives up the batch (and the cycle) rather than queue behind
	// the workers.
	LockTimeoutDefault = time.Second
)

// pauseFactor is the pause after a batch as a multiple of its duration.
const pauseFactor = 2

// Observer receives the pruner's events for metrics; methods must be safe
// for concurrent use.
type Observer interface {
	// Pruned counts rows deleted from table.
	Pruned(table string, n int64)
	// PruneSucceeded records the end of a cycle without error.
	PruneSucceeded(at time.Time)
	// PruneFailed counts a cycle that ended with an error.
	PruneFailed()
}

type nopObserver struct{}

func (nopObserver) Pruned(string, int64)     {}
func (nopObserver) PruneSucceeded(time.Time) {}
func (nopObserver) PruneFailed()             {}

// Config configures a Pruner; zero values mean the defaults, except
// Retention, whose zero keeps everything (Start does nothing).
type Config struct {
	Retention        time.Duration
	Interval         time.Duration
	BatchSize        int
	BatchPause       time.Duration
	StatementTimeout time.Duration
	LockTimeout      time.Duration
	Observer         Observer
	Logger           *slog.Logger
	// OnCycle, when set, is called after each cycle Start runs, with what
	// it did and its error (a cycle another pruner held is not reported).
	OnCycle func(Cycle, error)
	// OnVacuum, when set, is called after each VACUUM pass Start runs
	// apart from its cycles.
	OnVacuum func(Vacuum)
}

// Pruner deletes rows past the retention, in batches.
type Pruner struct {
	st     *store.Store
	cfg    Config
	obs    Observer
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a Pruner on st.
func New(st *store.Store, cfg *Config) *Pruner {
	c := *cfg
	c.Interval = cmp.Or(c.Interval, PruneIntervalDefault)
	c.BatchSize = cmp.Or(c.BatchSize, BatchSizeDefault)
	c.BatchPause = cmp.Or(c.BatchPause, BatchPauseDefault)
	c.StatementTimeout = cmp.Or(c.StatementTimeout, StatementTimeoutDefault)
	c.LockTimeout = cmp.Or(c.LockTimeout, LockTimeoutDefault)
	var obs Observer = nopObserver{}
	if c.Observer != nil {
		obs = c.Observer
	}
	return &Pruner{st: st, cfg: c, obs: obs, log: cmp.Or(c.Logger, slog.New(slog.DiscardHandler))}
}

// Cycle is what one Prune did.
type Cycle struct {
	// Ran is false when another pruner held the lock: nothing was done.
	Ran    bool
	Cutoff time.Time
	// Pruned counts the rows deleted per table, zeros included.
	Pruned  store.Pruned
	Batches int
	// Vacuumed lists the tables the cycle vacuumed (store.PruneVacuum;
	// Prune's cycles only: Start's vacuum apart, see Vacuum).
	Vacuumed []string
	// Started is when the lock was taken, Finished just before it was
	// released; Deleted is when the last batch ended and the VACUUM began
	// (the cycle's time between the two is the VACUUM's).
	Started, Deleted, Finished time.Time
	// vacuums is true of a cycle that vacuums after its deletes (Prune's,
	// not Start's).
	vacuums bool
}

// Vacuum is what one VACUUM pass of Start did, apart from the cycles.
type Vacuum struct {
	// Tables lists the tables vacuumed (store.PruneVacuum).
	Tables            []string
	Started, Finished time.Time
	Err               error
}

// Cutoff is the instant before which rows are past a retention of d,
// now.
func Cutoff(d time.Duration) time.Time { return time.Now().Add(-d) }

// Prune runs one cycle: every step of store.PruneSteps in order, each in
// batches until a batch comes back short, rows older than cutoff; then,
// when it deleted rows, a VACUUM of the tables with many dead rows
// (store.PruneVacuum). Each batch commits on its own; on an error (a timeout, ctx cancelled) the
// batch in flight is rolled back, the cycle stops, and what earlier
// batches deleted stays deleted. The cycle holds the pruners' advisory
// lock: when another pruner holds it, Prune returns at once with Ran
// false.
func (p *Pruner) Prune(ctx context.Context, cutoff time.Time) (Cycle, error) {
	return p.prune(ctx, cutoff, true)
}

// prune runs one cycle; with vacuum false it ends after the deletes (Start
// vacuums apart from its cycles).
func (p *Pruner) prune(ctx context.Context, cutoff time.Time, vacuum bool) (Cycle, error) {
	c := Cycle{Cutoff: cutoff, Pruned: zeroCounts(), vacuums: vacuum}
	ps, locked, err := p.st.OpenPruneSession(ctx, p.cfg.StatementTimeout, p.cfg.LockTimeout)
	if err != nil || !locked {
		return c, err
	}
	defer ps.Close(context.WithoutCancel(ctx))
	c.Ran, c.Started = true, time.Now()
	err = p.run(ctx, ps.Store, &c, vacuum)
	c.Finished = time.Now()
	return c, err
}

func (p *Pruner) run(ctx context.Context, st *store.Store, c *Cycle, vacuum bool) error {
	for _, step := range store.PruneSteps() {
		for {
			began := time.Now()
			got, err := st.PruneBatch(ctx, step, c.Cutoff, p.cfg.BatchSize)
			if err != nil {
				return err
			}
			c.Batches++
			c.Pruned.Add(got)
			for table, n := range got {
				p.obs.Pruned(table, n)
			}
			if got[step.Name] < int64(step.Limit(p.cfg.BatchSize)) {
				break
			}
			if err := ctxtime.Sleep(ctx, p.pause(c.Started, time.Since(began))); err != nil {
				return err
			}
		}
	}
	c.Deleted = time.Now()
	if !vacuum || c.Pruned.Total() == 0 {
		return nil
	}
	var err error
	c.Vacuumed, err = st.PruneVacuum(ctx, vacuumTables(), c.Pruned)
	return err
}

// vacuumTables are the tables PruneVacuum looks at: the pruner's, and
// River's job table, which River's cleaner empties in the same rhythm.
func vacuumTables() []string { return append(Tables(), riverJobTable) }

// riverJobTable is River's job table, vacuumed with flowd's.
const riverJobTable = "river_job"

// pause is the sleep after a batch that lasted took, in a cycle started at
// started: pauseFactor times the batch, so that the workers get most of
// the database; but once the cycle has lasted longer than the interval,
// the pruner is falling behind the rows coming in, and storage must not
// grow for ever: it then pauses only BatchPause until it has caught up.
func (p *Pruner) pause(started time.Time, took time.Duration) time.Duration {
	if time.Since(started) > p.cfg.Interval {
		return p.cfg.BatchPause
	}
	return max(p.cfg.BatchPause, pauseFactor*took)
}

// DryRun counts, per table, the rows a cycle with cutoff would delete now,
// changing nothing.
func (p *Pruner) DryRun(ctx context.Context, cutoff time.Time) (store.Pruned, error) {
	out := zeroCounts()
	for _, step := range store.PruneSteps() {
		got, err := p.st.PruneCount(ctx, step, cutoff)
		if err != nil {
			return nil, err
		}
		out.Add(got)
	}
	return out, nil
}

// Tables lists every table the pruner deletes from, in step order.
func Tables() []string {
	var out []string
	for _, step := range store.PruneSteps() {
		out = append(out, step.Tables...)
	}
	return out
}

func zeroCounts() store.Pruned {
	out := store.Pruned{}
	for _, t := range Tables() {
		out[t] = 0
	}
	return out
}

// Start runs a cycle now and then one every Interval until Stop, with
// the cutoff Retention before each cycle's start. Cycles start Interval
// apart, counted from start to start; one that outlasted the interval is
// followed by the next at once (the pruner is behind, and rows older than
// the retention pile up meanwhile). The VACUUM after the deletes runs
// apart from the cycles, on a session of its own (vacuumer), so that a
// long throttled VACUUM does not hold up the next cycle's deletes. With
// Retention 0 it does nothing: everything is kept.
func (p *Pruner) Start(ctx context.Context) {
	if p.cfg.Retention <= 0 {
		p.log.Info("retention off: nothing is pruned (FLOWD_RETENTION=0)")
		return
	}
	ctx, p.cancel = context.WithCancel(context.WithoutCancel(ctx))
	p.done = make(chan struct{})
	v := &vacuumer{p: p, kick: make(chan struct{}, 1), done: make(chan struct{})}
	go v.loop(ctx)
	go func() {
		defer close(p.done)
		defer func() { <-v.done }()
		for {
			started := time.Now()
			if c := p.cycle(ctx); c.Pruned.Total() > 0 {
				v.add(c.Pruned)
			}
			if ctxtime.Sleep(ctx, untilNext(started, time.Now(), p.cfg.Interval)) != nil {
				return
			}
		}
	}()
}

// untilNext is how long to wait at now before the cycle after one started
// at started: cycles start interval apart, and at once after one that
// outlasted it.
func untilNext(started, now time.Time, interval time.Duration) time.Duration {
	return max(started.Add(interval).Sub(now), 0)
}

// vacuumer runs the VACUUM of Start's cycles apart from them: the rows
// each cycle deleted add to its debt, and one pass at a time vacuums the
// tables whose dead rows pass the threshold (store.PruneVacuum). Cycles
// that end while a pass runs add to the next pass's debt.
type vacuumer struct {
	p    *Pruner
	mu   sync.Mutex
	debt store.Pruned
	kick chan struct{}
	done chan struct{}
}

// add records rows a cycle deleted and wakes the loop.
func (v *vacuumer) add(deleted store.Pruned) {
	v.owe(deleted)
	select {
	case v.kick <- struct{}{}:
	default: // a pass is already due
	}
}

func (v *vacuumer) loop(ctx context.Context) {
	defer close(v.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-v.kick:
		}
		v.mu.Lock()
		debt := v.debt
		v.debt = nil
		v.mu.Unlock()
		if v.p.vacuum(ctx, debt) != nil {
			// Kept for the next pass (after the next cycle): after a
			// server crash the statistics no longer count the dead rows.
			v.owe(debt)
		}
	}
}

// owe adds deleted rows to the debt of the next pass.
func (v *vacuumer) owe(deleted store.Pruned) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.debt == nil {
		v.debt = store.Pruned{}
	}
	v.debt.Add(deleted)
}

// vacuum runs one pass on a session of its own, logs it, and returns its
// error.
func (p *Pruner) vacuum(ctx context.Context, deleted store.Pruned) error {
	pass := Vacuum{Started: time.Now()}
	pass.Tables, pass.Err = p.vacuumPass(ctx, deleted)
	pass.Finished = time.Now()
	if ctx.Err() != nil {
		return nil // stopping
	}
	if p.cfg.OnVacuum != nil {
		p.cfg.OnVacuum(pass)
	}
	attrs := []any{"vacuumed", pass.Tables, "duration", pass.Finished.Sub(pass.Started).Round(time.Millisecond).String()}
	switch {
	case pass.Err != nil:
		p.obs.PruneFailed()
		p.log.Warn("prune vacuum failed", append(attrs, "error", pass.Err)...)
	case len(pass.Tables) > 0:
		p.log.Info("prune vacuum", attrs...)
	default:
		p.log.Debug("prune vacuum: no table needed it", attrs...)
	}
	return pass.Err
}

func (p *Pruner) vacuumPass(ctx context.Context, deleted store.Pruned) ([]string, error) {
	vs, err := p.st.OpenVacuumSession(ctx)
	if err != nil {
		return nil, err
	}
	defer vs.Close(context.WithoutCancel(ctx))
	return vs.PruneVacuum(ctx, vacuumTables(), deleted)
}

// Stop ends the loop, cancelling a cycle in progress (its batch in flight
// is rolled back), and waits for it.
func (p *Pruner) Stop() {
	if p.cancel != nil {
		p.cancel()
		<-p.done
	}
}

// cycle runs one scheduled cycle (its deletes: the vacuumer vacuums),
// logs its summary line, and returns it.
func (p *Pruner) cycle(ctx context.Context) Cycle {
	c, err := p.prune(ctx, Cutoff(p.cfg.Retention), false)
	if c.Ran && ctx.Err() == nil && p.cfg.OnCycle != nil {
		p.cfg.OnCycle(c, err)
	}
	switch {
	case err != nil && ctx.Err() != nil:
		// stopping
	case err != nil:
		p.obs.PruneFailed()
		p.log.Warn("prune cycle failed", append(c.attrs(), "error", err)...)
	case !c.Ran:
		p.log.Debug("prune cycle skipped: another process is pruning")
	default:
		p.obs.PruneSucceeded(c.Finished)
		p.log.Info("prune cycle", c.attrs()...)
	}
	return c
}

// attrs are the summary line's attributes: cutoff, duration, batches and
// one count per table.
func (c Cycle) attrs() []any {
	out := []any{"cutoff", c.Cutoff.UTC().Format(time.RFC3339), "batches", c.Batches, "vacuumed", c.Vacuumed,
		"duration", c.Finished.Sub(c.Started).Round(time.Millisecond).String()}
	if c.vacuums && !c.Deleted.IsZero() { // the deletes ended: the rest was the VACUUM
		out = append(out, "vacuum_duration", c.Finished.Sub(c.Deleted).Round(time.Millisecond).String())
	}
	tables := make([]string, 0, len(c.Pruned))
	for t := range c.Pruned {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	for _, t := range tables {
		out = append(out, t, c.Pruned[t])
	}
	return out
}
