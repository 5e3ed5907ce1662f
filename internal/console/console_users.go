package console

// userRoutes are the console's pages of this area.
func (p *Pages) userRoutes() []consoleRoute { return nil }
