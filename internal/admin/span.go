package admin

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseSpan reads a span of time as operators write it: a whole number
// of days ("90d") or a Go duration ("24h", "90m"). The CLI's flags and the
// admin API's query parameters share it, so "30d" means the same in both.
func ParseSpan(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 || n > 100000 {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (like 24h or 90d)", s)
	}
	return d, nil
}
