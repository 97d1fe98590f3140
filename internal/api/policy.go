package api

// PolicyStore is the storage behind these operations.
type PolicyStore interface{}

func (a *API) policyRoutes() {}
