package api

import (
	"errors"
	"net/http"
	"strconv"

	"gust/internal/lambda"
)

// Gust's own endpoints for async queues, signed like the Lambda API and
// used by `gust async` and `gust dlq`. They are not part of AWS's API, so
// they live under /_gust/ and answer in Lambda's JSON and error shapes.

// maxDeadLettersShown bounds one GET of a dead-letter queue.
const maxDeadLettersShown = 1000

func (a *API) asyncStats(w http.ResponseWriter, r *http.Request, _ []byte) error {
	fn, _, err := a.target(r.Context(), r)
	if err != nil {
		return err
	}
	stats, err := a.opts.Async.Stats(r.Context(), fn.Name)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, stats)
}

func (a *API) listDeadLetterQueues(w http.ResponseWriter, r *http.Request, _ []byte) error {
	queues, err := a.opts.Async.DeadLetterQueues(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"Queues": queues})
}

func (a *API) getDeadLetters(w http.ResponseWriter, r *http.Request, _ []byte) error {
	limit := 100
	if v := r.URL.Query().Get("MaxItems"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxDeadLettersShown {
			return lambda.KindInvalidParameterValue.Errorf("MaxItems must be an integer from 1 to %d.", maxDeadLettersShown)
		}
		limit = n
	}
	msgs, err := a.opts.Async.DeadLetters(r.Context(), r.PathValue("queue"), limit)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"Messages": msgs})
}

func (a *API) redriveDeadLetters(w http.ResponseWriter, r *http.Request, _ []byte) error {
	n, err := a.opts.Async.Redrive(r.Context(), r.PathValue("queue"), r.URL.Query().Get("To"))
	if err != nil {
		// Say how far it got along with the error.
		var le *lambda.Error
		if errors.As(err, &le) {
			return le.Kind.Errorf("Redrive stopped after %d messages: %s", n, le.Message)
		}
		return lambda.KindService.Errorf("Redrive stopped after %d messages: %v", n, err)
	}
	return writeJSON(w, http.StatusOK, map[string]int{"Redriven": n})
}
