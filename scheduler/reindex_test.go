package scheduler_test

import (
	"testing"
	"time"

	"github.com/flowd/flowd/scheduler"
)

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
		s := scheduler.ReindexSchedule(tc.keep)
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
