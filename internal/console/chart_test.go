package console

import (
	"encoding/xml"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/client"
)

// xmlNode is a parsed element of a chart, for asserting its geometry.
type xmlNode struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Text     string     `xml:",chardata"`
	Children []xmlNode  `xml:",any"`
}

func (n xmlNode) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// find returns every element named name under n, in document order.
func (n xmlNode) find(name string) []xmlNode {
	var out []xmlNode
	for _, c := range n.Children {
		if c.XMLName.Local == name {
			out = append(out, c)
		}
		out = append(out, c.find(name)...)
	}
	return out
}

// parseChart parses a chart's markup as XML (strictly: every element
// closed, every entity known), failing the test when it does not.
func parseChart(t *testing.T, markup string) xmlNode {
	t.Helper()
	var root xmlNode
	d := xml.NewDecoder(strings.NewReader("<root>" + markup + "</root>"))
	d.Strict = true
	if err := d.Decode(&root); err != nil {
		t.Fatalf("chart is not well-formed: %v\n%s", err, markup)
	}
	return root
}

func num(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		t.Fatalf("not a finite number: %q", s)
	}
	return f
}

// sparkYs are the heights of a sparkline's line, left to right.
func sparkYs(t *testing.T, root xmlNode) []float64 {
	t.Helper()
	lines := root.find("polyline")
	if len(lines) != 1 || lines[0].attr("class") != "spark" {
		t.Fatalf("want one polyline.spark, got %+v", lines)
	}
	var ys []float64
	for _, p := range strings.Fields(lines[0].attr("points")) {
		x, y, ok := strings.Cut(p, ",")
		if !ok {
			t.Fatalf("point %q", p)
		}
		num(t, x)
		ys = append(ys, num(t, y))
	}
	return ys
}

func TestSparklineScalesToItsLargestPoint(t *testing.T) {
	root := parseChart(t, string(sparkline([]int64{0, 5, 10, 5}, "Tokens")))
	svg := root.find("svg")
	if len(svg) != 1 || svg[0].attr("role") != "img" || svg[0].attr("aria-label") != "Tokens" || svg[0].attr("viewBox") != "0 0 120 32" {
		t.Fatalf("svg = %+v", svg)
	}
	if got, want := sparkYs(t, root), []float64{30, 16, 2, 16}; !reflect.DeepEqual(got, want) {
		t.Errorf("ys = %v, want %v", got, want)
	}
	areas := root.find("polygon")
	if len(areas) != 1 || areas[0].attr("class") != "spark-area" {
		t.Fatalf("want one polygon.spark-area, got %+v", areas)
	}
	// The area closes along the bottom edge.
	pts := strings.Fields(areas[0].attr("points"))
	if pts[0] != "0,32" || pts[len(pts)-1] != "120,32" || len(pts) != 6 {
		t.Errorf("area points = %v", pts)
	}
	if got := root.find("title"); len(got) != 1 || got[0].Text != "Tokens" {
		t.Errorf("title = %+v", got)
	}
}

// Zero data, one point and no points draw a flat line, never NaN.
func TestSparklineWithoutData(t *testing.T) {
	for name, tc := range map[string]struct {
		points []int64
		want   []float64
	}{
		"zeros": {[]int64{0, 0, 0}, []float64{30, 30, 30}},
		"none":  {nil, []float64{30, 30}},
		"one":   {[]int64{7}, []float64{2, 2}},
	} {
		t.Run(name, func(t *testing.T) {
			markup := string(sparkline(tc.points, "x"))
			if strings.Contains(markup, "NaN") || strings.Contains(markup, "Inf") {
				t.Fatalf("markup holds a non-number: %s", markup)
			}
			if got := sparkYs(t, parseChart(t, markup)); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ys = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSparklineEscapesItsLabel(t *testing.T) {
	markup := string(sparkline([]int64{1}, `<script>alert("x")</script> & 'y'`))
	if strings.Contains(markup, "<script") {
		t.Fatalf("label not escaped: %s", markup)
	}
	root := parseChart(t, markup)
	if got := root.find("svg")[0].attr("aria-label"); got != `<script>alert("x")</script> & 'y'` {
		t.Errorf("aria-label reads %q", got)
	}
}

func rectsOf(t *testing.T, root xmlNode) []xmlNode {
	t.Helper()
	var out []xmlNode
	for _, r := range root.find("rect") {
		if strings.Contains(r.attr("class"), "bar-fill") {
			out = append(out, r)
		}
	}
	return out
}

func TestBarChartHeightsAreProportional(t *testing.T) {
	spec := barSpec{ID: "weeks", Title: "Secrets expiring per week", Desc: "7 in all",
		Labels: []string{"1 Dec", "8 Dec", "15 Dec", "22 Dec"}, Values: []int64{1, 2, 4, 0},
		Unit: "secrets", LabelHeader: "Week starting", ValueHeader: "Secrets", TickEvery: 2, Warn: []bool{true}}
	root := parseChart(t, string(barChart(spec)))
	svg := root.find("svg")
	if len(svg) != 1 || svg[0].attr("role") != "img" || svg[0].attr("aria-labelledby") != "weeks-title weeks-desc" {
		t.Fatalf("svg = %+v", svg)
	}
	if ts := svg[0].Children; ts[0].XMLName.Local != "title" || ts[0].attr("id") != "weeks-title" || ts[0].Text != spec.Title ||
		ts[1].XMLName.Local != "desc" || ts[1].Text != "7 in all" {
		t.Errorf("title and desc = %+v %+v", ts[0], ts[1])
	}
	rects := rectsOf(t, root)
	if len(rects) != 4 {
		t.Fatalf("%d bars, want 4", len(rects))
	}
	h := make([]float64, 4)
	for i, r := range rects {
		h[i] = num(t, r.attr("height"))
		// Every bar stands on the same baseline.
		if base := num(t, r.attr("y")) + h[i]; math.Abs(base-float64(barH-barBottom)) > 0.02 {
			t.Errorf("bar %d ends at %v", i, base)
		}
	}
	if h[0] <= 0 || math.Abs(h[1]/h[0]-2) > 0.01 || math.Abs(h[2]/h[0]-4) > 0.01 || h[3] != 0 {
		t.Errorf("heights %v are not 1:2:4:0", h)
	}
	// The axis ends at the largest value here, so its bar is full height.
	if math.Abs(h[2]-float64(barH-barTop-barBottom)) > 0.02 {
		t.Errorf("the largest bar is %v high", h[2])
	}
	if rects[0].attr("class") != "bar-fill warn" || rects[1].attr("class") != "bar-fill" {
		t.Errorf("warn classes: %q %q", rects[0].attr("class"), rects[1].attr("class"))
	}
	if got := rects[2].find("title"); len(got) != 1 || got[0].Text != "15 Dec: 4 secrets" {
		t.Errorf("bar title = %+v", got)
	}
	// Ticks: the values 0 to 4, and every second label.
	var ticks []string
	for _, tx := range root.find("text") {
		if tx.attr("class") == "tick" {
			ticks = append(ticks, tx.Text)
		}
	}
	if want := []string{"0", "1", "2", "3", "4", "1 Dec", "15 Dec"}; !reflect.DeepEqual(ticks, want) {
		t.Errorf("ticks = %q, want %q", ticks, want)
	}
	if len(root.find("line")) < 2 {
		t.Error("no axis lines")
	}
	// The numbers, as a table.
	if got := root.find("summary"); len(got) != 1 || got[0].Text != "Show the numbers" {
		t.Errorf("summary = %+v", got)
	}
	rows := root.find("tbody")[0].Children
	if len(rows) != 4 || rows[2].Children[0].Text != "15 Dec" || rows[2].Children[0].attr("scope") != "row" || rows[2].Children[1].Text != "4" {
		t.Errorf("table rows = %+v", rows)
	}
	if ths := root.find("thead")[0].find("th"); ths[0].Text != "Week starting" || ths[1].Text != "Secrets" || ths[0].attr("scope") != "col" {
		t.Errorf("table head = %+v", ths)
	}
}

// A chart of zeros (or of nothing) draws an empty plot: no NaN from
// dividing by a zero maximum, one tick at 0.
func TestBarChartOfZeros(t *testing.T) {
	for name, values := range map[string][]int64{"zeros": {0, 0, 0}, "none": nil} {
		t.Run(name, func(t *testing.T) {
			labels := make([]string, len(values))
			for i := range labels {
				labels[i] = strconv.Itoa(i)
			}
			markup := string(barChart(barSpec{ID: "z", Title: "Z", Labels: labels, Values: values}))
			if strings.Contains(markup, "NaN") || strings.Contains(markup, "Inf") {
				t.Fatalf("markup holds a non-number: %s", markup)
			}
			root := parseChart(t, markup)
			rects := rectsOf(t, root)
			if len(rects) != len(values) {
				t.Fatalf("%d bars, want %d", len(rects), len(values))
			}
			for _, r := range rects {
				if num(t, r.attr("height")) != 0 {
					t.Errorf("a zero bar is %s high", r.attr("height"))
				}
			}
			var ticks []string
			for _, tx := range root.find("text") {
				if _, err := strconv.Atoi(tx.Text); err == nil && tx.attr("text-anchor") == "end" {
					ticks = append(ticks, tx.Text)
				}
			}
			if !reflect.DeepEqual(ticks, []string{"0"}) {
				t.Errorf("value ticks = %v", ticks)
			}
		})
	}
}

func TestBarChartEscapesText(t *testing.T) {
	x := `<script>alert(1)</script>"&'`
	markup := string(barChart(barSpec{ID: `a"b`, Title: x, Desc: x, Labels: []string{x}, Values: []int64{3},
		Unit: x, LabelHeader: x, ValueHeader: x}))
	if strings.Contains(markup, "<script") || strings.Contains(markup, `id="a"b`) {
		t.Fatalf("text not escaped: %s", markup)
	}
	root := parseChart(t, markup)
	if got := root.find("desc")[0].Text; got != x {
		t.Errorf("desc reads %q", got)
	}
	if got := root.find("caption")[0].Text; got != x {
		t.Errorf("caption reads %q", got)
	}
}

// Values and labels of unequal length draw the bars both have, no more.
func TestBarChartUnevenInput(t *testing.T) {
	root := parseChart(t, string(barChart(barSpec{ID: "u", Labels: []string{"a", "b"}, Values: []int64{1, 2, 3}})))
	if n := len(rectsOf(t, root)); n != 2 {
		t.Errorf("%d bars, want 2", n)
	}
	// A negative value (never a count, but not a crash) draws no bar.
	root = parseChart(t, string(barChart(barSpec{ID: "n", Labels: []string{"a", "b"}, Values: []int64{-5, 2}})))
	if h := rectsOf(t, root)[0].attr("height"); h != "0" {
		t.Errorf("negative bar height %s", h)
	}
}

func TestNiceScale(t *testing.T) {
	for _, tc := range []struct {
		peak  int64
		top   int64
		ticks int
	}{
		{0, 0, 1}, {-3, 0, 1}, {1, 1, 2}, {3, 3, 4}, {4, 4, 5}, {5, 6, 4}, {7, 8, 5}, {9, 10, 3}, {10, 10, 3},
		{41, 60, 4}, {1204, 1500, 4}, {1_000_000, 1_000_000, 3},
	} {
		top, ticks := niceScale(tc.peak)
		if top != tc.top || len(ticks) != tc.ticks || ticks[0] != 0 || ticks[len(ticks)-1] != top {
			t.Errorf("niceScale(%d) = %d %v, want top %d with %d ticks", tc.peak, top, ticks, tc.top, tc.ticks)
		}
		if top < tc.peak {
			t.Errorf("niceScale(%d): top %d below the peak", tc.peak, top)
		}
	}
}

func TestGroupDigits(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 1204: "1,204", 1_000_000: "1,000,000",
		-12345: "-12,345", 123456: "123,456"} {
		if got := groupDigits(n); got != want {
			t.Errorf("groupDigits(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestTokenSummary(t *testing.T) {
	day := func(d int, n int64) client.DayCount {
		return client.DayCount{Day: time.Date(2026, 11, d, 0, 0, 0, 0, time.UTC), Tokens: n}
	}
	days := []client.DayCount{day(27, 200), day(28, 1000), day(29, 4), day(30, 1000)}
	if got, want := tokenSummary(days), "Tokens issued per day, last 4 days: 2,204 in all, most on 28 Nov"; got != want {
		t.Errorf("tokenSummary = %q, want %q", got, want)
	}
	if got, want := tokenSummary([]client.DayCount{day(1, 0), day(2, 0)}), "Tokens issued per day, last 2 days: none"; got != want {
		t.Errorf("tokenSummary = %q, want %q", got, want)
	}
	if got := tokenPoints(days); !reflect.DeepEqual(got, []int64{200, 1000, 4, 1000}) {
		t.Errorf("tokenPoints = %v", got)
	}
}
