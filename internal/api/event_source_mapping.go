package api

// esmRoutes registers the event source mapping operations.
func (a *API) esmRoutes() {}

// EventSourceMappings is the event source mapping service; esm.Service
// implements it.
type EventSourceMappings interface{}
