package scheduler

import (
	"testing"
	"time"

	"github.com/flowd/flowd/flow"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func TestNextSlot(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		expr, after, want string
	}{
		{"@every 1s", "2026-03-01T10:00:00Z", "2026-03-01T10:00:01Z"},
		{"@every 1s", "2026-03-01T10:00:00.5Z", "2026-03-01T10:00:01Z"},
		{"@every 30s", "2026-03-01T10:00:10Z", "2026-03-01T10:00:30Z"},
		{"@every 30s", "2026-03-01T10:00:30Z", "2026-03-01T10:01:00Z"},
		{"@every 1h", "2026-03-01T10:20:00Z", "2026-03-01T11:00:00Z"},
		{"@every 500ms", "2026-03-01T10:00:00.2Z", "2026-03-01T10:00:01Z"}, // rounded up to 1s
		{"*/15 * * * *", "2026-03-01T10:07:00Z", "2026-03-01T10:15:00Z"},
		{"*/15 * * * *", "2026-03-01T10:15:00Z", "2026-03-01T10:30:00Z"},
		{"0 0 * * *", "2026-03-01T23:59:59.9Z", "2026-03-02T00:00:00Z"},
		{"@daily", "2026-03-01T10:00:00+05:00", "2026-03-02T00:00:00Z"}, // evaluated in UTC
		{"0 9 * * 1", "2026-03-01T10:00:00Z", "2026-03-02T09:00:00Z"},   // 2026-03-02 is a Monday
	} {
		sched, err := flow.ParseSchedule(tc.expr)
		if err != nil {
			t.Fatalf("parse %q: %v", tc.expr, err)
		}
		after, err := time.Parse(time.RFC3339Nano, tc.after) // kept in its own zone
		if err != nil {
			t.Fatal(err)
		}
		if got := nextSlot(sched, after); !got.Equal(utc(tc.want)) || got.Location() != time.UTC {
			t.Errorf("nextSlot(%q, %s) = %s, want %s (UTC)", tc.expr, tc.after, got, tc.want)
		}
	}
}

func TestLatestSlot(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		expr, first, now, want string
	}{
		{"@every 1s", "2026-03-01T10:00:00Z", "2026-03-01T10:00:00.4Z", "2026-03-01T10:00:00Z"},
		{"@every 1s", "2026-03-01T10:00:00Z", "2026-03-01T10:00:03.4Z", "2026-03-01T10:00:03Z"},
		{"@every 1s", "2025-03-01T10:00:00Z", "2026-03-01T10:00:03.4Z", "2026-03-01T10:00:03Z"},
		{"7 * * * *", "2026-03-01T05:07:00Z", "2026-03-01T10:06:59Z", "2026-03-01T09:07:00Z"},
		{"7 * * * *", "2026-03-01T05:07:00Z", "2026-03-01T10:07:00Z", "2026-03-01T10:07:00Z"},
		{"* 0 * * *", "2020-01-01T00:00:00Z", "2026-03-01T23:59:00Z", "2026-03-01T00:59:00Z"},
		{"0 0 1 1 *", "2020-01-01T00:00:00Z", "2026-03-01T00:00:00Z", "2026-01-01T00:00:00Z"},
	} {
		sched, err := flow.ParseSchedule(tc.expr)
		if err != nil {
			t.Fatalf("parse %q: %v", tc.expr, err)
		}
		if got := latestSlot(sched, utc(tc.first), utc(tc.now)); !got.Equal(utc(tc.want)) {
			t.Errorf("latestSlot(%q, %s, %s) = %s, want %s", tc.expr, tc.first, tc.now, got, tc.want)
		}
	}
}

// TestReindexScheduleFollowsRetention: River's indexes are rebuilt once per
// job retention when flowd caps it below River's 24 h (never more than once
// a minute), and on River's own daily schedule otherwise.
func TestReindexScheduleFollowsRetention(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 30, 10, 17, 3, 0, time.UTC)
	for _, tc := range []struct {
		keep time.Duration
		next time.Duration // 0: River's default schedule (nil)
	}{
		{0, 0},
		{720 * time.Hour, 0},
		{24 * time.Hour, 0},
		{6 * time.Hour, 6 * time.Hour},
		{time.Minute, time.Minute},
		{5 * time.Second, time.Minute},
	} {
		s := reindexSchedule(tc.keep)
		if tc.next == 0 {
			if s != nil {
				t.Errorf("retention %v: schedule next at %v, want River's default (nil)", tc.keep, s.Next(at))
			}
			continue
		}
		if s == nil {
			t.Errorf("retention %v: River's default schedule, want every %v", tc.keep, tc.next)
			continue
		}
		if got := s.Next(at); !got.Equal(at.Add(tc.next)) {
			t.Errorf("retention %v: next reindex at %v, want %v", tc.keep, got, at.Add(tc.next))
		}
	}
}
