package main

import "time"

// Result is everything one flowbench invocation measured; it is printed as
// a table and written as JSON (-out).
type Result struct {
	Mode      string        `json:"mode"` // full, short, sweep or soak
	StartedAt time.Time     `json:"started_at"`
	Seconds   float64       `json:"seconds"`
	Machine   Machine       `json:"machine"`
	Config    Config        `json:"config"`
	Baselines []*RunResult  `json:"baselines"`
	Runs      []*RunResult  `json:"runs"`
	History   *HistoryCheck `json:"history,omitempty"`
	Sweep     []*RunResult  `json:"sweep,omitempty"`
	Soak      *SoakResult   `json:"soak,omitempty"`
	Goals     []Goal        `json:"goals"`
	Notes     []string      `json:"notes"`
}

// Machine describes where the numbers come from.
type Machine struct {
	CPUs           int        `json:"cpus"`
	CPUModel       string     `json:"cpu_model"`
	MemTotalGiB    float64    `json:"mem_total_gib"`
	PostgreSQL     string     `json:"postgresql"`
	PostgresLocal  bool       `json:"postgres_local"` // its processes' CPU could be read
	GoVersion      string     `json:"go_version"`
	LoadAvgAtStart [3]float64 `json:"loadavg_at_start"`
	LoadAvgAtEnd   [3]float64 `json:"loadavg_at_end"`
}

// Config is flowd's configuration during the runs (sweep runs override
// the fetch settings and commit shards).
type Config struct {
	Workers           int     `json:"workers"`
	FetchCooldown     string  `json:"fetch_cooldown"`
	FetchPollInterval string  `json:"fetch_poll_interval"`
	CommitShards      int     `json:"commit_shards"`
	CommitBatch       int     `json:"commit_batch"`
	DBMaxConns        int     `json:"db_max_conns"`
	InFlight          int     `json:"inflight"`
	Clients           int     `json:"clients"`
	Repeat            int     `json:"repeat"`
	TargetDelay       string  `json:"target_delay"`
	RateLimit         float64 `json:"api_rate_limit"`
	LogLevel          string  `json:"log_level"`
	SQLSource         string  `json:"sql_source"`
	Tracing           bool    `json:"tracing"`
}

// RunResult is one measured run: a workload with one trigger path, or a
// baseline.
type RunResult struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"` // workload, baseline, history, sweep
	Workload string `json:"workload,omitempty"`
	Trigger  string `json:"trigger,omitempty"` // api or go

	Executions        int `json:"executions"` // jobs or requests for baselines
	StepsPerExecution int `json:"steps_per_execution"`
	Steps             int `json:"steps"`
	InFlight          int `json:"inflight,omitempty"`
	Succeeded         int `json:"succeeded"`
	Failed            int `json:"failed"`
	HistoryRows       int `json:"history_rows,omitempty"`

	WallSeconds   float64 `json:"wall_seconds"`
	SteadySeconds float64 `json:"steady_seconds"` // the middle 80% of completions
	ExecPerSec    float64 `json:"executions_per_second"`
	// Events, EventsPerSec and StartedPerSec are filled for an event run
	// (workload e): the events published, and the events and executions
	// started per second in the steady state of the executions' creation.
	Events        int     `json:"events,omitempty"`
	EventsPerSec  float64 `json:"events_per_second,omitempty"`
	StartedPerSec float64 `json:"executions_started_per_second,omitempty"`
	StepsPerSec   float64 `json:"steps_per_second"`
	// SliceRates are the completions per second of consecutive slices of
	// the steady state; SpreadPct is (max - min) / mean of them.
	SliceRates []float64 `json:"steady_slice_rates,omitempty"`
	SpreadPct  float64   `json:"steady_spread_pct"`

	TriggerToFirstRequest *Percentiles `json:"trigger_to_first_request,omitempty"`
	TriggerToFinished     *Percentiles `json:"trigger_to_finished,omitempty"`
	// Hops split trigger → first request (hopNames).
	Hops []Hop `json:"hops,omitempty"`

	FlowdCPUPer1k    float64 `json:"flowd_cpu_seconds_per_1000_steps"`
	PostgresCPUPer1k float64 `json:"postgres_cpu_seconds_per_1000_steps"`
	LoadCPUPer1k     float64 `json:"load_process_cpu_seconds_per_1000_steps"`
	FlowdCores       float64 `json:"flowd_cores"`
	PostgresCores    float64 `json:"postgres_cores"`
	LoadCores        float64 `json:"load_process_cores"`
	OtherDBsCPU      float64 `json:"other_databases_cpu_seconds"`
	OtherCores       float64 `json:"other_processes_cores"` // busy CPU of the machine not accounted above
	StealCores       float64 `json:"steal_cores"`           // CPU the hypervisor gave to other machines
	PeakRSSMiB       float64 `json:"peak_rss_mib"`
	// AllocsPerStep is the heap objects the flowd process allocated per
	// step (runtime/metrics; the harness's own share included).
	AllocsPerStep float64 `json:"allocs_per_step"`

	SQLPerStep float64 `json:"sql_statements_per_step"`
	// ExecutionUpdates and HOTUpdatePct are the updates of executions
	// during the run and the share of them that were HOT (no index
	// touched), from pg_stat_user_tables, which backends flush up to a
	// second late: an approximation over a run of several seconds.
	ExecutionUpdates int64       `json:"executions_updates"`
	HOTUpdatePct     float64     `json:"executions_hot_update_pct"`
	SQLSource        string      `json:"sql_source"`
	TracerPerStep    float64     `json:"pgx_traced_statements_per_step"`
	TopStatements    []Statement `json:"top_statements,omitempty"`
	FetchCooldown    string      `json:"fetch_cooldown,omitempty"`
	FetchPoll        string      `json:"fetch_poll_interval,omitempty"`
	CommitShards     int         `json:"commit_shards,omitempty"`
	LoadAvgAtStart   [3]float64  `json:"loadavg_at_start"`
	Errors           []string    `json:"errors,omitempty"`
}

// HistoryCheck compares SQL statements per step of workload b on an empty
// database and with old executions present.
type HistoryCheck struct {
	Rows             int     `json:"rows"`
	InsertSeconds    float64 `json:"insert_seconds"`
	Empty            string  `json:"empty_run"`
	With             string  `json:"with_history_run"`
	SQLPerStepEmpty  float64 `json:"sql_per_step_empty"`
	SQLPerStepWith   float64 `json:"sql_per_step_with_history"`
	StepsPerSecEmpty float64 `json:"steps_per_second_empty"`
	StepsPerSecWith  float64 `json:"steps_per_second_with_history"`
}

// Goal is one target with its verdict.
type Goal struct {
	Name string `json:"name"`
	Want string `json:"want"`
	Got  string `json:"got"`
	Pass bool   `json:"pass"`
	Note string `json:"note,omitempty"`
}

// Hop is one part of trigger → first request.
type Hop struct {
	Name string `json:"name"`
	Percentiles
}

// hopNames are the parts of trigger → first request, from the clocks of
// the same machine: the trigger call to its transaction's start
// (executions.created_at: the wait in the trigger group), then to River's
// fetch of the job (river_job.attempted_at: commit, NOTIFY, fetch
// cooldown), then to step 1's attempt starting (loading the execution and
// the running checkpoint's commit), then to the request's arrival at the
// target (HTTP).
var hopNames = []string{"trigger→tx start", "tx start→fetched", "fetched→step sent", "step sent→arrived"}
