package oauth

import "time"

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func secs(s int) time.Duration { return time.Duration(s) * time.Second }
