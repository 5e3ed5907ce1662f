package audit

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"
)

// Diff collects what an update changed, field by field, for an Event's
// Changes, Before and After. Its zero value is an empty diff, ready to use.
//
// Values are rendered as strings, one convention for every domain: text
// as it is; a list as a JSON array of strings ("[]" when empty), since an
// element may itself hold a comma; a duration as whole seconds; a time in
// RFC 3339 with fractional seconds, in UTC, "" for the zero time; a bool
// as "true" or "false". A field whose value must never be shown (a
// password, a secret, a hash, a token) is named with Name only.
type Diff struct {
	Changes       []string
	Before, After map[string]string
}

// Name records that field changed, without its values.
func (d *Diff) Name(field string, changed bool) {
	if changed {
		d.Changes = append(d.Changes, field)
	}
}

// String records field's values when they differ.
func (d *Diff) String(field, before, after string) {
	if before == after {
		return
	}
	d.Changes = append(d.Changes, field)
	if d.Before == nil {
		d.Before, d.After = map[string]string{}, map[string]string{}
	}
	d.Before[field], d.After[field] = before, after
}

// List records field's values when the lists differ, order included.
func (d *Diff) List(field string, before, after []string) {
	if !slices.Equal(before, after) {
		d.String(field, ListValue(before), ListValue(after))
	}
}

// Seconds records field's values, in whole seconds, when they differ.
func (d *Diff) Seconds(field string, before, after time.Duration) {
	if before != after {
		d.String(field, SecondsValue(before), SecondsValue(after))
	}
}

// Time records field's values when they differ.
func (d *Diff) Time(field string, before, after time.Time) {
	if !before.Equal(after) {
		d.String(field, TimeValue(before), TimeValue(after))
	}
}

// Bool records field's values when they differ.
func (d *Diff) Bool(field string, before, after bool) {
	if before != after {
		d.String(field, strconv.FormatBool(before), strconv.FormatBool(after))
	}
}

// Empty reports whether nothing changed.
func (d *Diff) Empty() bool { return len(d.Changes) == 0 }

// Apply sets e's Changes (sorted), Before and After from d. A nil d
// leaves e as it is.
func (d *Diff) Apply(e *Event) {
	if d == nil {
		return
	}
	e.Changes = slices.Sorted(slices.Values(d.Changes))
	e.Before, e.After = d.Before, d.After
}

// ListValue renders a list as Diff does: a JSON array of strings.
func ListValue[S ~string](xs []S) string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	b, _ := json.Marshal(out) // strings always encode
	return string(b)
}

// SecondsValue renders a duration as Diff does: whole seconds.
func SecondsValue(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) }

// TimeValue renders a time as Diff does: RFC 3339 in UTC, "" when zero.
func TimeValue(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
