package flow

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseSchedule(t *testing.T) {
	t.Parallel()

	from := time.Date(2024, 3, 10, 10, 7, 12, 0, time.UTC)
	tests := []struct {
		expr    string
		want    time.Time // next run after from
		wantErr bool
	}{
		{expr: "*/5 * * * *", want: time.Date(2024, 3, 10, 10, 10, 0, 0, time.UTC)},
		{expr: "  0 3 * * *  ", want: time.Date(2024, 3, 11, 3, 0, 0, 0, time.UTC)},
		{expr: "@hourly", want: time.Date(2024, 3, 10, 11, 0, 0, 0, time.UTC)},
		{expr: "@daily", want: time.Date(2024, 3, 11, 0, 0, 0, 0, time.UTC)},
		{expr: "@every 30s", want: time.Date(2024, 3, 10, 10, 7, 42, 0, time.UTC)},
		{expr: "0 9 * * MON-FRI", want: time.Date(2024, 3, 11, 9, 0, 0, 0, time.UTC)},
		{expr: "", wantErr: true},
		{expr: "   ", wantErr: true},
		{expr: "* * * * * *", wantErr: true}, // no seconds field
		{expr: "* * * *", wantErr: true},
		{expr: "61 * * * *", wantErr: true},
		{expr: "@sometimes", wantErr: true},
		{expr: "@every nonsense", wantErr: true},
		{expr: "TZ=Europe/Paris 0 3 * * *", wantErr: true},
		{expr: "CRON_TZ=UTC 0 3 * * *", wantErr: true},
		{expr: "0 0 30 2 *", wantErr: true}, // never fires
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			t.Parallel()
			sched, err := ParseSchedule(tt.expr)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseSchedule(%q) succeeded, want error", tt.expr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSchedule(%q): %v", tt.expr, err)
			}
			if diff := cmp.Diff(tt.want, sched.Next(from)); diff != "" {
				t.Errorf("Next (-want +got):\n%s", diff)
			}
		})
	}
}
