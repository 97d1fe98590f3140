package api

// TagStore is the storage behind these operations.
type TagStore interface{}

func (a *API) tagRoutes() {}
