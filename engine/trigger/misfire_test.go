package trigger

import (
	"testing"
	"time"
)

func TestMisfired(t *testing.T) {
	const threshold = 10 * time.Second
	tests := []struct {
		late time.Duration
		want bool
	}{
		{-time.Second, false},
		{0, false},
		{9*time.Second + 999*time.Millisecond, false}, // late by less: runs late
		{10 * time.Second, true},                      // nextFireTime <= now - threshold
		{time.Hour, true},
	}
	scheduled := hm("10:00:00")
	for _, tt := range tests {
		if got := Misfired(scheduled, scheduled.Add(tt.late), threshold); got != tt.want {
			t.Errorf("Misfired(late %s) = %v, want %v", tt.late, got, tt.want)
		}
	}
}

func TestInstructionFor(t *testing.T) {
	tests := []struct {
		kind        Kind
		policy      MisfirePolicy
		repeatCount int
		want        Instruction
	}{
		{Cron, FireAndProceed, 0, CronFireOnceNow},
		{Cron, DoNothing, 0, CronDoNothing},
		// Simple triggers: Quartz's smart policy, whatever the policy says.
		{Simple, FireAndProceed, 0, SimpleFireNow},
		{Simple, DoNothing, 0, SimpleFireNow},
		{Simple, FireAndProceed, RepeatForever, SimpleRescheduleNextWithRemainingCount},
		{Simple, DoNothing, RepeatForever, SimpleRescheduleNextWithRemainingCount},
		{Simple, FireAndProceed, 1, SimpleRescheduleNowWithExistingRepeatCount},
		{Simple, FireAndProceed, 5, SimpleRescheduleNowWithExistingRepeatCount},
	}
	for _, tt := range tests {
		if got := InstructionFor(tt.kind, tt.policy, tt.repeatCount); got != tt.want {
			t.Errorf("InstructionFor(%s, %s, %d) = %s, want %s", tt.kind, tt.policy, tt.repeatCount, got, tt.want)
		}
	}
}

func TestParseMisfirePolicy(t *testing.T) {
	for in, want := range map[string]MisfirePolicy{"": FireAndProceed, "fireAndProceed": FireAndProceed, "doNothing": DoNothing} {
		got, err := ParseMisfirePolicy(in)
		if err != nil || got != want {
			t.Errorf("ParseMisfirePolicy(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	if _, err := ParseMisfirePolicy("DoNothing"); err == nil || err.Error() != "invalid misfire policy: DoNothing" {
		t.Errorf("ParseMisfirePolicy(DoNothing) error = %v", err)
	}
}

// TestDue is the misfire table: what a trigger does when it could start at
// now, for each kind, policy and repeat count.
func TestDue(t *testing.T) {
	const threshold = 10 * time.Second
	minute := every(time.Minute)
	cron := Spec{Kind: Cron, Calendar: minute}
	cronDoNothing := Spec{Kind: Cron, Calendar: minute, MisfirePolicy: DoNothing}
	cronEnd := Spec{Kind: Cron, Calendar: minute, End: hm("10:03:00")}
	cronEndDoNothing := Spec{Kind: Cron, Calendar: minute, End: hm("10:03:00"), MisfirePolicy: DoNothing}
	oneShot := Spec{Kind: Simple}
	oneShotEnd := Spec{Kind: Simple, End: hm("10:01:00")}
	forever := Spec{Kind: Simple, RepeatInterval: time.Minute, RepeatCount: RepeatForever}
	foreverEnd := Spec{Kind: Simple, RepeatInterval: time.Minute, RepeatCount: RepeatForever, End: hm("10:03:30")}
	five := Spec{Kind: Simple, RepeatInterval: time.Minute, RepeatCount: 5}
	fanOut := Spec{Kind: Simple, RepeatCount: 3}

	cronAt := State{Next: hm("10:00:00"), Start: hm("09:00:00")}
	simpleAt := State{Next: hm("10:00:00"), Start: hm("10:00:00")}
	oneShotAt := State{Next: hm("10:00:00"), Start: hm("10:00:00")}
	fiveAfterTwo := State{Next: hm("10:02:00"), Previous: hm("10:01:00"), Start: hm("10:00:00"), TimesTriggered: 2, RepeatCount: 5}
	fanOutAfterOne := State{Next: hm("10:00:00"), Previous: hm("10:00:00"), Start: hm("10:00:00"), TimesTriggered: 1, RepeatCount: 3}
	simpleAt.RepeatCount = RepeatForever

	type want struct {
		fire        bool
		misfired    bool
		instruction Instruction
		next        time.Time
		missed      int
		times       int
		repeatCount int
		start       time.Time
	}
	tests := []struct {
		name string
		spec Spec
		st   State
		now  time.Time
		want want
	}{
		{"not due yet", cron, cronAt, hm("09:59:59"), want{next: hm("10:00:00"), start: hm("09:00:00")}},
		{"on time", cron, cronAt, hm("10:00:00"), want{fire: true, next: hm("10:00:00"), start: hm("09:00:00")}},
		{"late by less than the threshold runs late", cron, cronAt, hm("10:00:09"),
			want{fire: true, next: hm("10:00:00"), start: hm("09:00:00")}},

		// Cron fireAndProceed = FIRE_ONCE_NOW: one fire now for every missed time.
		{"cron fireAndProceed, one time missed", cron, cronAt, hm("10:00:10"),
			want{fire: true, misfired: true, instruction: CronFireOnceNow, next: hm("10:00:10"), start: hm("09:00:00")}},
		{"cron fireAndProceed collapses six", cron, cronAt, hm("10:05:30"),
			want{fire: true, misfired: true, instruction: CronFireOnceNow, next: hm("10:05:30"), missed: 5, start: hm("09:00:00")}},
		{"cron fireAndProceed past the end completes", cronEnd, cronAt, hm("10:05:30"),
			want{misfired: true, instruction: CronFireOnceNow, missed: 4, start: hm("09:00:00")}},
		// Cron doNothing: skip to the next regular time.
		{"cron doNothing skips to the next time", cronDoNothing, cronAt, hm("10:05:30"),
			want{misfired: true, instruction: CronDoNothing, next: hm("10:06:00"), missed: 6, start: hm("09:00:00")}},
		{"cron doNothing on a fire time skips it too", cronDoNothing, cronAt, hm("10:05:00"),
			want{misfired: true, instruction: CronDoNothing, next: hm("10:06:00"), missed: 6, start: hm("09:00:00")}},
		{"cron doNothing past the end completes", cronEndDoNothing, cronAt, hm("10:05:30"),
			want{misfired: true, instruction: CronDoNothing, missed: 4, start: hm("09:00:00")}},

		// Simple, repeat count 0: FIRE_NOW.
		{"one-shot fires now", oneShot, oneShotAt, hm("10:05:00"),
			want{fire: true, misfired: true, instruction: SimpleFireNow, next: hm("10:05:00"), start: hm("10:00:00")}},
		{"one-shot past its end completes", oneShotEnd, oneShotAt, hm("10:05:00"),
			want{misfired: true, instruction: SimpleFireNow, missed: 1, start: hm("10:00:00")}},
		// Simple, forever: RESCHEDULE_NEXT_WITH_REMAINING_COUNT.
		{"forever waits for the next slot, missed ones count", forever, simpleAt, hm("10:05:30"),
			want{misfired: true, instruction: SimpleRescheduleNextWithRemainingCount, next: hm("10:06:00"), missed: 6, times: 6,
				repeatCount: RepeatForever, start: hm("10:00:00")}},
		{"forever past its end completes", foreverEnd, simpleAt, hm("10:05:30"),
			want{misfired: true, instruction: SimpleRescheduleNextWithRemainingCount, missed: 4,
				repeatCount: RepeatForever, start: hm("10:00:00")}},
		// Simple, n repeats: RESCHEDULE_NOW_WITH_EXISTING_REPEAT_COUNT.
		{"five repeats restart now with the rest", five, fiveAfterTwo, hm("10:10:30"),
			want{fire: true, misfired: true, instruction: SimpleRescheduleNowWithExistingRepeatCount, next: hm("10:10:30"),
				repeatCount: 3, start: hm("10:10:30")}},
		{"interval 0 restarts now with the rest", fanOut, fanOutAfterOne, hm("10:00:30"),
			want{fire: true, misfired: true, instruction: SimpleRescheduleNowWithExistingRepeatCount, next: hm("10:00:30"),
				repeatCount: 2, start: hm("10:00:30")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.spec.Due(tt.st, tt.now, threshold)
			w := tt.want
			if d.Fire != w.fire || d.Misfired != w.misfired || d.Misfire.Instruction != w.instruction ||
				!d.State.Next.Equal(w.next) || d.Misfire.Missed != w.missed ||
				d.State.TimesTriggered != w.times ||
				d.State.RepeatCount != w.repeatCount || !d.State.Start.Equal(w.start) {
				t.Fatalf("Due = fire %v misfired %v %s next %s missed %d times %d repeat %d start %s\nwant  fire %v misfired %v %s next %s missed %d times %d repeat %d start %s",
					d.Fire, d.Misfired, d.Misfire.Instruction, d.State.Next.Format(time.TimeOnly), d.Misfire.Missed,
					d.State.TimesTriggered, d.State.RepeatCount, d.State.Start.Format(time.TimeOnly),
					w.fire, w.misfired, w.instruction, w.next.Format(time.TimeOnly), w.missed,
					w.times, w.repeatCount, w.start.Format(time.TimeOnly))
			}
		})
	}
}

// TestRescheduleNowKeepsEveryFire follows a 5-repeat trigger through a
// misfire after two fires: the remaining four fires all happen, from now.
func TestRescheduleNowKeepsEveryFire(t *testing.T) {
	s := Spec{Kind: Simple, RepeatInterval: time.Minute, RepeatCount: 5}
	st := s.First(hm("10:00:00"))
	st = s.Fired(s.Fired(st)) // 10:00 and 10:01 ran
	d := s.Due(st, hm("10:10:30"), 10*time.Second)
	got := s.Upcoming(d.State, 10)
	want := times(hm("10:10:30"), hm("10:11:30"), hm("10:12:30"), hm("10:13:30"))
	if !equalTimes(got, want) {
		t.Fatalf("after misfire: %s, want %s", fmtTimes(got), fmtTimes(want))
	}
}

// TestApplyMisfireEveryInstruction pins the Quartz instructions that the
// smart policy does not choose, for stores or policies that ask for them.
func TestApplyMisfireEveryInstruction(t *testing.T) {
	s := Spec{Kind: Simple, RepeatInterval: time.Minute, RepeatCount: 10}
	st := State{Next: hm("10:02:00"), Previous: hm("10:01:00"), Start: hm("10:00:00"), TimesTriggered: 2, RepeatCount: 10}
	now := hm("10:05:30")
	tests := []struct {
		in                    Instruction
		next, start           time.Time
		times, repeat, missed int
	}{
		// FIRE_NOW on a repeating trigger is RESCHEDULE_NOW_WITH_REMAINING_REPEAT_COUNT.
		{SimpleFireNow, now, now, 0, 5, 3},
		{SimpleRescheduleNowWithRemainingRepeatCount, now, now, 0, 5, 3},
		{SimpleRescheduleNowWithExistingRepeatCount, now, now, 0, 8, 0},
		{SimpleRescheduleNextWithRemainingCount, hm("10:06:00"), hm("10:00:00"), 6, 10, 4},
		{SimpleRescheduleNextWithExistingCount, hm("10:06:00"), hm("10:00:00"), 2, 10, 4},
	}
	for _, tt := range tests {
		r := s.ApplyMisfire(st, now, tt.in)
		if !r.State.Next.Equal(tt.next) || !r.State.Start.Equal(tt.start) || r.State.TimesTriggered != tt.times ||
			r.State.RepeatCount != tt.repeat || r.Missed != tt.missed {
			t.Errorf("%s: next %s start %s times %d repeat %d missed %d; want next %s start %s times %d repeat %d missed %d",
				tt.in, r.State.Next.Format(time.TimeOnly), r.State.Start.Format(time.TimeOnly), r.State.TimesTriggered,
				r.State.RepeatCount, r.Missed, tt.next.Format(time.TimeOnly), tt.start.Format(time.TimeOnly), tt.times, tt.repeat, tt.missed)
		}
	}
}

func TestMissedIsBounded(t *testing.T) {
	s := Spec{Kind: Cron, Calendar: every(time.Second), MisfirePolicy: DoNothing}
	st := State{Next: hm("00:00:00"), Start: hm("00:00:00")}
	r := s.ApplyMisfire(st, hm("23:00:00"), CronDoNothing)
	if r.Missed != MaxCountedMisses || !r.State.Next.Equal(hm("23:00:01")) {
		t.Fatalf("Missed = %d, Next = %s; want %d, 23:00:01", r.Missed, r.State.Next, MaxCountedMisses)
	}
}
