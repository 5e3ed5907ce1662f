package console

import "net/http"

// dashboardRoutes are the console's start page.
func (p *Pages) dashboardRoutes() []consoleRoute {
	return []consoleRoute{{path: "/{$}", handlers: map[string]consoleHandler{"GET": p.dashboard}}}
}

// dashboard is the console's start page.
func (p *Pages) dashboard(w http.ResponseWriter, r *http.Request, d *desk) {
	p.renderConsole(w, r, http.StatusOK, "dashboard", d.view("dashboard", nil))
}
