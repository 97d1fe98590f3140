package api

// S3Events serves bucket notification configuration and the object-store
// webhook; s3events.Service implements it.
type S3Events interface{}

// s3Routes registers the object-store notification endpoints.
func (a *API) s3Routes() {}
