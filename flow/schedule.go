package flow

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Schedules are standard five-field cron expressions (minute, hour, day of
// month, month, day of week), evaluated in UTC, or one of the descriptors
// @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly and
// @every <duration> (for example "@every 30s"; durations under a second are
// rounded up to one second). There is no seconds field, and no TZ= or
// CRON_TZ= prefix: every flow schedule runs in UTC.
var scheduleParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// maxScheduleLen bounds the length of a schedule expression.
const maxScheduleLen = 200

// ParseSchedule parses a flow's cron schedule (five fields or a descriptor,
// UTC). It refuses time-zone prefixes and schedules that never fire, such as
// "0 0 30 2 *".
func ParseSchedule(expr string) (cron.Schedule, error) {
	expr = strings.TrimSpace(expr)
	switch {
	case expr == "":
		return nil, errors.New("schedule is empty")
	case len(expr) > maxScheduleLen:
		return nil, fmt.Errorf("schedule is longer than %d characters", maxScheduleLen)
	case strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ="):
		return nil, errors.New("time zones are not supported: schedules run in UTC")
	}
	sched, err := scheduleParser.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("invalid cron expression: %w", err)
	}
	if sched.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return nil, errors.New("schedule never fires")
	}
	return sched, nil
}
