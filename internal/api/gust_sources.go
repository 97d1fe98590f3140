package api

// sourceRoutes registers Gust's broker source endpoints.
func (a *API) sourceRoutes() {}

// Sources manages broker sources; esm.Service implements it.
type Sources interface{}
