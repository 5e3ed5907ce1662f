package console

// auditRoutes are the console's pages of this area.
func (p *Pages) auditRoutes() []consoleRoute { return nil }
