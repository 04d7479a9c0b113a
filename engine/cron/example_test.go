package cron_test

import (
	"fmt"
	"time"

	"sundial/engine/cron"
)

func Example() {
	e, err := cron.Parse("0 15 10 LW * ?")
	if err != nil {
		panic(err)
	}
	fmt.Println(e.Describe())
	t := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 3; i++ {
		t = e.Next(t)
		fmt.Println(t.Format(time.RFC3339))
	}
	// Output:
	// at 10:15:00, on the last weekday of the month
	// 2026-11-30T10:15:00Z
	// 2026-12-31T10:15:00Z
	// 2027-01-29T10:15:00Z
}

func ExampleParse_error() {
	_, err := cron.Parse("0 0 12 * * MON")
	fmt.Println(err)
	// Output:
	// invalid cron expression "0 0 12 * * MON": day-of-month and day-of-week: one of them must be '?'
}
