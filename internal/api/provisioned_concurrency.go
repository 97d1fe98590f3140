package api

// ProvisionedStore is the storage behind these operations.
type ProvisionedStore interface{}

func (a *API) provisionedRoutes() {}
