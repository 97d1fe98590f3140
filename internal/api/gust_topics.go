package api

// Topics manages pub/sub topics and their subscriptions; pubsub.Service
// implements it.
type Topics interface{}

// topicRoutes registers the pub/sub topic endpoints.
func (a *API) topicRoutes() {}
