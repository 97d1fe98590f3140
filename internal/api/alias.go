package api

// AliasStore is the storage behind these operations.
type AliasStore interface{}

func (a *API) aliasRoutes() {}
