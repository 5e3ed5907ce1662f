package console

// clientRoutes are the console's pages of this area.
func (p *Pages) clientRoutes() []consoleRoute { return nil }
