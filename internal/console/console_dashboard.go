package console

import (
	"html/template"
	"net/http"
	"net/url"
	"time"

	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
)

// dashboardRoutes are the console's start page.
func (p *Pages) dashboardRoutes() []consoleRoute {
	return []consoleRoute{{path: "/{$}", handlers: map[string]consoleHandler{"GET": p.dashboard}}}
}

// dashCard is one count of the dashboard, linking to the clients it
// counts.
type dashCard struct {
	Label, Value, Href string
}

// dashboardView is the console's start page.
type dashboardView struct {
	// Clients says the admin may view clients: the figures are theirs
	// (over their divisions); without it the page only points the way.
	Clients bool
	// Empty says the admin sees no client at all.
	Empty     bool
	CanCreate bool
	Cards     []dashCard
	// Soon and Expired are the banner's words, SoonHref the list of the
	// clients they count; empty when no secret needs attention.
	Soon, Expired, SoonHref string
	ExpiryChart             template.HTML
	TokenChart              template.HTML
}

// dashboard is the console's start page: the fleet's counts by status, a
// banner for secrets that expire soon or have expired, and charts of the
// secrets expiring per week and the tokens issued per day. The figures
// are the domain's, over the clients the admin may view.
func (p *Pages) dashboard(w http.ResponseWriter, r *http.Request, d *desk) {
	v := &dashboardView{Clients: d.actor.RequireSome(authz.ClientView) == nil,
		CanCreate: d.actor.RequireSome(authz.ClientAdd) == nil}
	if !v.Clients {
		p.renderConsole(w, r, http.StatusOK, "dashboard", d.view("dashboard", v))
		return
	}
	st, err := p.cfg.Admin.Clients.Stats(r.Context(), d.actor)
	if err != nil {
		p.fail(w, r, d, err)
		return
	}
	fillDashboard(d, v, st, p.now())
	p.renderConsole(w, r, http.StatusOK, "dashboard", d.view("dashboard", v))
}

// fillDashboard puts the fleet's figures, as of now, into the view.
func fillDashboard(d *desk, v *dashboardView, st *client.Stats, now time.Time) {
	v.Empty = st.Total == 0
	list := func(q url.Values) string { return d.url("/clients", q) }
	v.Cards = []dashCard{{Label: "All clients", Value: groupDigits(st.Total), Href: list(nil)}}
	for _, s := range []client.Status{client.StatusActive, client.StatusInactive, client.StatusRevoked} {
		v.Cards = append(v.Cards, dashCard{Label: statusLabel(s), Value: groupDigits(st.ByStatus[s]),
			Href: list(url.Values{"status": {string(s)}})})
	}
	// The banner's list: active clients whose secret expires before the
	// day the window ends, those expired included, soonest first.
	end := now.Add(client.ExpiringSoon).UTC().Format(time.DateOnly)
	if st.ExpiringSoon > 0 || st.Expired > 0 {
		v.SoonHref = list(url.Values{"status": {string(client.StatusActive)}, "expires_before": {end},
			"sort": {string(client.SortSecretExpiresAt)}})
	}
	days := int64(client.ExpiringSoon / (24 * time.Hour))
	switch st.ExpiringSoon {
	case 0:
	case 1:
		v.Soon = "1 client secret expires within " + groupDigits(days) + " days"
	default:
		v.Soon = groupDigits(st.ExpiringSoon) + " client secrets expire within " + groupDigits(days) + " days"
	}
	switch st.Expired {
	case 0:
	case 1:
		v.Expired = "1 client secret has expired"
	default:
		v.Expired = groupDigits(st.Expired) + " client secrets have expired"
	}
	v.ExpiryChart = barChart(expirySpec(st.ExpiringWeeks, now))
	v.TokenChart = barChart(tokenSpec(st.TokensDaily))
}

// expirySpec is the chart of secrets expiring per week from now; the
// weeks that reach into the banner's window are drawn in its colour.
func expirySpec(weeks []int64, now time.Time) barSpec {
	s := barSpec{ID: "expiry-chart", Title: "Client secrets expiring per week, next " + groupDigits(int64(len(weeks))) + " weeks",
		Values: weeks, Unit: "secrets", LabelHeader: "Week starting", ValueHeader: "Secrets expiring", TickEvery: 4}
	var total, peak int64
	peakAt := 0
	for i, n := range weeks {
		start := now.Add(time.Duration(i) * 7 * 24 * time.Hour)
		s.Labels = append(s.Labels, start.UTC().Format("2 Jan"))
		s.Warn = append(s.Warn, time.Duration(i)*7*24*time.Hour < client.ExpiringSoon)
		total += n
		if n > peak {
			peak, peakAt = n, i
		}
	}
	if total == 0 {
		s.Desc = "No client secret expires in the next " + groupDigits(int64(len(weeks))) + " weeks."
		return s
	}
	verb := " expire"
	if total == 1 {
		verb = " expires"
	}
	s.Desc = plural(total, "client secret") + verb + " in the next " + groupDigits(int64(len(weeks))) +
		" weeks, most (" + groupDigits(peak) + ") in the week starting " + s.Labels[peakAt] + "."
	return s
}

// tokenSpec is the chart of tokens issued per day.
func tokenSpec(days []client.DayCount) barSpec {
	s := barSpec{ID: "tokens-chart", Title: "Tokens issued per day, last " + groupDigits(int64(len(days))) + " days",
		Values: tokenPoints(days), Unit: "tokens", LabelHeader: "Day", ValueHeader: "Tokens issued", TickEvery: 7,
		Desc: tokenSummary(days) + "."}
	for _, d := range days {
		s.Labels = append(s.Labels, d.Day.UTC().Format("2 Jan"))
	}
	return s
}
