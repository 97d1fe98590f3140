package api

func (a *API) iamRoutes() {}
