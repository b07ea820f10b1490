package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/flowd/flowd/store"
)

type workersBundle struct {
	*testBundle
	queue string // a queue of the test's own, so parallel tests do not see each other's jobs
}

func setupWorkers(t *testing.T) *workersBundle {
	t.Helper()
	return &workersBundle{testBundle: setup(t), queue: "q_" + uuid.NewString()[:8]}
}

// runningJob inserts a running job of b.queue last attempted by worker,
// started ago.
func (b *workersBundle) runningJob(t *testing.T, worker string, ago time.Duration) int64 {
	t.Helper()
	var id int64
	err := b.pool.QueryRow(context.Background(), `INSERT INTO river_job
		(args, attempt, attempted_at, attempted_by, kind, max_attempts, queue, state, scheduled_at)
		VALUES ($1, 1, now() - $2 * interval '1 second', ARRAY['earlier-worker', $3], 'flowd.execution', 50, $4, 'running', now() - $2 * interval '1 second')
		RETURNING id`,
		fmt.Sprintf(`{"execution_id": %q}`, uuid.NewString()), ago.Seconds(), worker, b.queue).Scan(&id)
	if err != nil {
		t.Fatalf("insert job: %v", err)
	}
	return id
}

// heartbeat gives worker a heartbeat ago in the past.
func (b *workersBundle) heartbeat(t *testing.T, worker string, ago time.Duration) {
	t.Helper()
	if err := b.store.WorkerHeartbeat(context.Background(), worker); err != nil {
		t.Fatal(err)
	}
	_, err := b.pool.Exec(context.Background(), `UPDATE flowd_workers SET heartbeat_at = now() - $2 * interval '1 second' WHERE client_id = $1`, worker, ago.Seconds())
	if err != nil {
		t.Fatal(err)
	}
}

func TestJobRescueOrphans(t *testing.T) {
	t.Parallel()
	const after = 30 * time.Second
	for _, tc := range []struct {
		name       string
		heartbeat  time.Duration // < 0: no heartbeat row
		stopped    bool
		self       bool
		running    bool // the job is among the caller's running jobs
		startedAgo time.Duration
		want       bool
	}{
		{name: "silent worker", heartbeat: time.Minute, startedAgo: 2 * time.Minute, want: true},
		{name: "silent worker, job just started", heartbeat: time.Minute, startedAgo: time.Second, want: true},
		{name: "live worker, long job", heartbeat: time.Second, startedAgo: time.Hour, want: false},
		{name: "worker silent for less than after", heartbeat: 20 * time.Second, startedAgo: time.Minute, want: false},
		{name: "stopped worker", heartbeat: 0, stopped: true, startedAgo: time.Second, want: true},
		{name: "no heartbeat row, old job", heartbeat: -1, startedAgo: time.Minute, want: true},
		{name: "no heartbeat row, young job", heartbeat: -1, startedAgo: 5 * time.Second, want: false},
		{name: "own job River forgot", heartbeat: time.Hour, self: true, startedAgo: time.Minute, want: true},
		{name: "own job still running", heartbeat: time.Hour, self: true, running: true, startedAgo: time.Minute, want: false},
		{name: "own young job not running yet", heartbeat: time.Hour, self: true, startedAgo: time.Second, want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupWorkers(t)
			ctx := context.Background()
			worker := "w-" + uuid.NewString()[:8]
			if tc.heartbeat >= 0 {
				b.heartbeat(t, worker, tc.heartbeat)
			}
			if tc.stopped {
				if err := b.store.WorkerStopped(ctx, worker); err != nil {
					t.Fatal(err)
				}
			}
			id := b.runningJob(t, worker, tc.startedAgo)
			self := "someone-else"
			var running []int64
			if tc.self {
				self = worker
			}
			if tc.running {
				running = []int64{id}
			}
			got, err := b.store.JobRescueOrphans(ctx, store.RescueParams{Queue: b.queue, After: after, Self: self, Running: running})
			if err != nil {
				t.Fatal(err)
			}
			var state string
			var attempt int
			var nErrors int
			var from *string
			err = b.pool.QueryRow(ctx, `SELECT state, attempt, coalesce(array_length(errors, 1), 0), metadata->>'flowd_rescued_from'
				FROM river_job WHERE id = $1`, id).Scan(&state, &attempt, &nErrors, &from)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.want {
				if len(got) != 0 || state != "running" {
					t.Errorf("want the job left running, got state %s and rescued %+v", state, got)
				}
				return
			}
			if len(got) != 1 || got[0].ID != id || got[0].Worker != worker || got[0].ExecutionID == uuid.Nil {
				t.Fatalf("rescued: want job %d of %s, got %+v", id, worker, got)
			}
			if state != "available" || attempt != 1 || nErrors != 1 || from == nil || *from != worker {
				t.Errorf("rescued job: state %s attempt %d errors %d from %v; want available, attempt kept, one error, from %s",
					state, attempt, nErrors, from, worker)
			}
			// A second rescuer (or round) finds nothing more to do.
			again, err := b.store.JobRescueOrphans(ctx, store.RescueParams{Queue: b.queue, After: after, Self: "third"})
			if err != nil || len(again) != 0 {
				t.Errorf("second rescue: want nothing, got %+v, %v", again, err)
			}
		})
	}
}

func TestJobRescueOrphansLeavesOtherStatesAndQueues(t *testing.T) {
	t.Parallel()
	b := setupWorkers(t)
	other := setupWorkers(t)
	ctx := context.Background()
	dead := "w-" + uuid.NewString()[:8]
	b.heartbeat(t, dead, time.Hour)
	mine := b.runningJob(t, dead, time.Hour)
	elsewhere := other.runningJob(t, dead, time.Hour)
	done := b.runningJob(t, dead, time.Hour)
	if _, err := b.pool.Exec(ctx, `UPDATE river_job SET state = 'completed', finalized_at = now() WHERE id = $1`, done); err != nil {
		t.Fatal(err)
	}
	got, err := b.store.JobRescueOrphans(ctx, store.RescueParams{Queue: b.queue, After: 30 * time.Second, Self: "x"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, j := range got {
		ids = append(ids, j.ID)
	}
	if d := cmp.Diff([]int64{mine}, ids); d != "" {
		t.Errorf("rescued jobs (-want +got):\n%s", d)
	}
	var state string
	_ = b.pool.QueryRow(ctx, `SELECT state FROM river_job WHERE id = $1`, elsewhere).Scan(&state)
	if state != "running" {
		t.Errorf("job of another queue: state %s, want running", state)
	}
}

func TestWorkerDeleteDead(t *testing.T) {
	t.Parallel()
	b := setupWorkers(t)
	ctx := context.Background()
	gone, holding, alive := "w-"+uuid.NewString()[:8], "w-"+uuid.NewString()[:8], "w-"+uuid.NewString()[:8]
	b.heartbeat(t, gone, 3*time.Hour)
	b.heartbeat(t, holding, 3*time.Hour)
	b.heartbeat(t, alive, time.Second)
	b.runningJob(t, holding, 3*time.Hour)
	if _, err := b.store.WorkerDeleteDead(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	rows, _ := b.pool.Query(ctx, `SELECT client_id FROM flowd_workers WHERE client_id = ANY($1) ORDER BY client_id`, []string{gone, holding, alive})
	left, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := []string{holding, alive}
	if want[0] > want[1] {
		want[0], want[1] = want[1], want[0]
	}
	if d := cmp.Diff(want, left); d != "" {
		t.Errorf("heartbeat rows kept (-want +got):\n%s", d)
	}
}
