package console

import (
	"fmt"
	"html"
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/client"
)

// The console's charts are drawn on the server as inline SVG: no script,
// no image request, nothing the CSP has to allow. Every text in them is
// escaped here (they are returned as template.HTML) and every number is
// formatted by fmt, so a caller's label can never become markup.

// Sparkline geometry, in viewBox units: CSS scales the drawing to its box.
const (
	sparkW   = 120
	sparkH   = 32
	sparkPad = 2
)

// sparkline draws points as a small line over a filled area, oldest
// first, scaled so the largest point touches the top. label is its
// accessible name (e.g. "Tokens issued per day, last 30 days: 1,204 in
// all, most on 28 Nov"): the drawing is an image to assistive technology,
// so the label must say what a sighted reader sees. All zeros, one point
// or none draw a flat line on the baseline.
func sparkline(points []int64, label string) template.HTML {
	var b strings.Builder
	l := html.EscapeString(label)
	fmt.Fprintf(&b, `<svg class="sparkline" role="img" aria-label="%s" viewBox="0 0 %d %d" width="%d" height="%d" preserveAspectRatio="none">`,
		l, sparkW, sparkH, sparkW, sparkH)
	fmt.Fprintf(&b, `<title>%s</title>`, l)
	top := maxOf(points)
	base := float64(sparkH - sparkPad)
	xy := make([]string, 0, max(len(points), 2))
	switch len(points) {
	case 0:
		xy = append(xy, "0,"+svgNum(base), svgNum(sparkW)+","+svgNum(base))
	case 1:
		y := sparkY(points[0], top)
		xy = append(xy, "0,"+svgNum(y), svgNum(sparkW)+","+svgNum(y))
	default:
		step := float64(sparkW) / float64(len(points)-1)
		for i, v := range points {
			xy = append(xy, svgNum(float64(i)*step)+","+svgNum(sparkY(v, top)))
		}
	}
	line := strings.Join(xy, " ")
	fmt.Fprintf(&b, `<polygon class="spark-area" points="0,%s %s %s,%s"/>`, svgNum(sparkH), line, svgNum(sparkW), svgNum(sparkH))
	fmt.Fprintf(&b, `<polyline class="spark" points="%s"/>`, line)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// sparkY is the height of v in a sparkline whose largest point is top;
// a zero top keeps every point on the baseline rather than dividing by
// zero.
func sparkY(v, top int64) float64 {
	base := float64(sparkH - sparkPad)
	if top <= 0 || v <= 0 {
		return base
	}
	return base - float64(v)/float64(top)*float64(sparkH-2*sparkPad)
}

// barSpec is one bar chart: a bar per label, with its value.
type barSpec struct {
	// ID names the chart's title and description elements (id-title,
	// id-desc), so it must be unique on the page.
	ID string
	// Title and Desc are the chart's accessible name and description;
	// Desc should state what the bars show in words (a total, the peak).
	Title, Desc string
	// Labels and Values are the bars, in order; they must be as long as
	// each other. Labels are shown under every TickEvery-th bar (1 when
	// zero) and in full in the table of numbers.
	Labels []string
	Values []int64
	// Unit is what is counted ("secrets", "tokens"), for each bar's title.
	Unit string
	// LabelHeader and ValueHeader head the table of numbers' columns.
	LabelHeader, ValueHeader string
	TickEvery                int
	// Warn marks the bars to draw in the warning colour (e.g. the weeks
	// inside the expiry banner's window); nil marks none.
	Warn []bool
}

// Bar chart geometry, in viewBox units.
const (
	barW      = 600
	barH      = 220
	barLeft   = 44 // room for the value ticks
	barRight  = 8
	barTop    = 10
	barBottom = 26 // room for the labels
)

// barChart draws c as an SVG bar chart with a value axis and a few ticks,
// followed by its text alternative: a "Show the numbers" table, since a
// chart alone tells a screen reader (or a reader of a printed page)
// nothing. The value axis ends at a round number at or above the largest
// value, so bar heights are proportional to their values; a chart of
// zeros draws an empty plot.
func barChart(c barSpec) template.HTML {
	var b strings.Builder
	id := html.EscapeString(c.ID)
	fmt.Fprintf(&b, `<svg role="img" aria-labelledby="%s-title %s-desc" viewBox="0 0 %d %d" width="%d" height="%d">`,
		id, id, barW, barH, barW, barH)
	fmt.Fprintf(&b, `<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>`, id, html.EscapeString(c.Title), id, html.EscapeString(c.Desc))

	n := min(len(c.Values), len(c.Labels))
	top, ticks := niceScale(maxOf(c.Values[:n]))
	plotW := float64(barW - barLeft - barRight)
	plotH := float64(barH - barTop - barBottom)
	bottom := float64(barH - barBottom)

	// Value ticks and their grid marks.
	for _, t := range ticks {
		y := bottom
		if top > 0 {
			y = bottom - float64(t)/float64(top)*plotH
		}
		fmt.Fprintf(&b, `<line class="axis" x1="%s" y1="%s" x2="%d" y2="%s"/>`, svgNum(barLeft-4), svgNum(y), barLeft, svgNum(y))
		fmt.Fprintf(&b, `<text class="tick" x="%d" y="%s" text-anchor="end" dominant-baseline="middle">%s</text>`, barLeft-6, svgNum(y), groupDigits(t))
	}
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%s"/>`, barLeft, barTop, barLeft, svgNum(bottom))
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%s" x2="%d" y2="%s"/>`, barLeft, svgNum(bottom), barW-barRight, svgNum(bottom))

	every := max(c.TickEvery, 1)
	if n > 0 {
		slot := plotW / float64(n)
		w := slot * 0.7
		for i := 0; i < n; i++ {
			v := max(c.Values[i], 0)
			h := 0.0
			if top > 0 {
				h = float64(v) / float64(top) * plotH
			}
			x := float64(barLeft) + float64(i)*slot + (slot-w)/2
			class := "bar-fill"
			if i < len(c.Warn) && c.Warn[i] {
				class += " warn"
			}
			fmt.Fprintf(&b, `<rect class="%s" x="%s" y="%s" width="%s" height="%s"><title>%s: %s %s</title></rect>`,
				class, svgNum(x), svgNum(bottom-h), svgNum(w), svgNum(h),
				html.EscapeString(c.Labels[i]), groupDigits(c.Values[i]), html.EscapeString(c.Unit))
			if i%every == 0 {
				fmt.Fprintf(&b, `<text class="tick" x="%s" y="%d" text-anchor="middle">%s</text>`,
					svgNum(x+w/2), barH-8, html.EscapeString(c.Labels[i]))
			}
		}
	}
	b.WriteString(`</svg>`)

	// The text alternative.
	b.WriteString(`<details><summary>Show the numbers</summary><div class="table-wrap"><table>`)
	fmt.Fprintf(&b, `<caption class="visually-hidden">%s</caption>`, html.EscapeString(c.Title))
	fmt.Fprintf(&b, `<thead><tr><th scope="col">%s</th><th scope="col" class="num">%s</th></tr></thead><tbody>`,
		html.EscapeString(c.LabelHeader), html.EscapeString(c.ValueHeader))
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `<tr><th scope="row">%s</th><td class="num">%s</td></tr>`, html.EscapeString(c.Labels[i]), groupDigits(c.Values[i]))
	}
	b.WriteString(`</tbody></table></div></details>`)
	return template.HTML(b.String())
}

// niceScale returns the top of a value axis for a largest value of peak
// (a round number at or above it: 1, 2 or 5 times a power of ten, times
// up to four steps) and its ticks from 0. A peak of zero or less gives a
// top of 0 and the one tick 0.
func niceScale(peak int64) (int64, []int64) {
	if peak <= 0 {
		return 0, []int64{0}
	}
	// The smallest step of 1, 2 or 5 × 10^k that covers peak in at most
	// four steps.
	step := int64(1)
	for mult := 0; ; mult++ {
		for _, m := range []int64{1, 2, 5} {
			s := m * step
			if s*4 >= peak {
				steps := (peak + s - 1) / s
				ticks := make([]int64, 0, steps+1)
				for i := int64(0); i <= steps; i++ {
					ticks = append(ticks, i*s)
				}
				return steps * s, ticks
			}
		}
		step *= 10
	}
}

// maxOf is the largest of vs, 0 when there is none.
func maxOf(vs []int64) int64 {
	var m int64
	for _, v := range vs {
		m = max(m, v)
	}
	return m
}

// svgNum formats a coordinate: two decimals at most, no trailing zeros.
func svgNum(f float64) string {
	return strconv.FormatFloat(float64(int64(f*100+0.5*sign(f)))/100, 'f', -1, 64)
}

func sign(f float64) float64 {
	if f < 0 {
		return -1
	}
	return 1
}

// groupDigits writes n with a comma between each group of three digits
// ("1,204"), as the console shows every count.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// tokenSummary says in words what a chart of daily token counts shows:
// "Tokens issued per day, last 30 days: 1,204 in all, most on 28 Nov"
// (or "none" when no token was issued). It is the accessible label of
// the token sparklines and the description of the dashboard's chart.
func tokenSummary(days []client.DayCount) string {
	var total, peak int64
	var peakDay time.Time
	for _, d := range days {
		total += d.Tokens
		if d.Tokens > peak {
			peak, peakDay = d.Tokens, d.Day
		}
	}
	head := fmt.Sprintf("Tokens issued per day, last %d days: ", len(days))
	if total == 0 {
		return head + "none"
	}
	return head + groupDigits(total) + " in all, most on " + peakDay.UTC().Format("2 Jan")
}

// tokenPoints are the daily counts of days, for a sparkline.
func tokenPoints(days []client.DayCount) []int64 {
	out := make([]int64, len(days))
	for i, d := range days {
		out[i] = d.Tokens
	}
	return out
}
