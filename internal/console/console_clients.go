package console

// clientListRoutes are the console's pages of this area.
func (p *Pages) clientListRoutes() []consoleRoute { return nil }
