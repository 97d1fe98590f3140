package api

// VersionStore is the storage behind these operations.
type VersionStore interface{}

func (a *API) versionRoutes() {}
