package api

import (
	"errors"
	"net/http"

	"gust/internal/lambda"
	"gust/internal/store"
)

// minUnreservedConcurrency is what PutFunctionConcurrency must leave to
// functions without a reservation. Accounts whose whole limit is smaller
// must keep all of it unreserved, and Lambda names that limit in its
// message ("minimum value of [10]" on a 10-execution account).
const minUnreservedConcurrency = 100

// concurrencyOutput is Lambda's Concurrency shape: PutFunctionConcurrency's
// and GetFunctionConcurrency's response and GetFunction's Concurrency
// member. GetFunctionConcurrency leaves the member out when none is set.
type concurrencyOutput struct {
	ReservedConcurrentExecutions *int `json:"ReservedConcurrentExecutions,omitempty"`
}

// concurrencyFunction resolves the {name} label of the reserved-concurrency
// operations, which act on a function as a whole: a version or alias is
// refused as Lambda refuses it.
func (a *API) concurrencyFunction(r *http.Request) (string, error) {
	ref, err := lambda.ParseFunctionRef(r.PathValue("name"))
	if err != nil {
		return "", err
	}
	if !a.id.Owns(ref) {
		return "", lambda.FunctionNotFound(a.id.QualifiedARN(ref.Name, ref.Qualifier))
	}
	if ref.Qualifier != "" {
		return "", lambda.KindInvalidParameterValue.Errorf("This operation is permitted on Lambda functions only. Aliases and versions do not support this operation. Please specify either a function name or an unqualified function ARN.")
	}
	return ref.Name, nil
}

// putFunctionConcurrency is PutFunctionConcurrency: it reserves
// ReservedConcurrentExecutions for the function, provided the account keeps
// its minimum unreserved, and applies it to this node's environments at
// once (other nodes follow through the store's watch).
func (a *API) putFunctionConcurrency(w http.ResponseWriter, r *http.Request, body []byte) error {
	var in struct {
		ReservedConcurrentExecutions *int `json:"ReservedConcurrentExecutions"`
	}
	if err := decodeJSON(body, &in); err != nil {
		return err
	}
	name, err := a.concurrencyFunction(r)
	if err != nil {
		return err
	}
	if in.ReservedConcurrentExecutions == nil {
		return lambda.KindInvalidParameterValue.Errorf("1 validation error detected: Value null at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must not be null")
	}
	n := *in.ReservedConcurrentExecutions
	if n < 0 {
		return lambda.KindInvalidParameterValue.Errorf("1 validation error detected: Value '%d' at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 0", n)
	}

	// One check-and-set at a time, so two functions reserving at once on
	// this node cannot both take the last of the account's concurrency, and
	// so that writes reach this node's pool in the order they were stored.
	a.reserveMu.Lock()
	defer a.reserveMu.Unlock()
	ctx := r.Context()
	notFound := lambda.FunctionNotFound(a.id.QualifiedARN(name, lambda.LatestVersion))
	if _, _, err := a.opts.Store.GetConcurrency(ctx, name); errors.Is(err, store.ErrNotFound) {
		return notFound
	} else if err != nil {
		return err
	}
	all, err := a.opts.Store.ListConcurrency(ctx)
	if err != nil {
		return err
	}
	others := 0
	for fn, v := range all {
		if fn != name {
			others += v
		}
	}
	limit := a.opts.MaxConcurrency
	floor := min(minUnreservedConcurrency, limit)
	if limit-others-n < floor {
		return lambda.KindInvalidParameterValue.Errorf("Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [%d].", floor)
	}
	err = a.opts.Environments.UpdateReserved(name, func() (int, bool, error) {
		return int(n), true, a.opts.Store.PutConcurrency(ctx, name, n)
	})
	if errors.Is(err, store.ErrNotFound) {
		return notFound
	} else if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, concurrencyOutput{ReservedConcurrentExecutions: &n})
}

// getFunctionConcurrency is GetFunctionConcurrency: {} when the function
// has no reservation.
func (a *API) getFunctionConcurrency(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, err := a.concurrencyFunction(r)
	if err != nil {
		return err
	}
	n, ok, err := a.opts.Store.GetConcurrency(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		return lambda.FunctionNotFound(a.id.FunctionARN(name))
	}
	if err != nil {
		return err
	}
	var out concurrencyOutput
	if ok {
		out.ReservedConcurrentExecutions = &n
	}
	return writeJSON(w, http.StatusOK, out)
}

// deleteFunctionConcurrency is DeleteFunctionConcurrency: 204 whether or
// not a reservation was set.
func (a *API) deleteFunctionConcurrency(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, err := a.concurrencyFunction(r)
	if err != nil {
		return err
	}
	a.reserveMu.Lock()
	defer a.reserveMu.Unlock()
	err = a.opts.Environments.UpdateReserved(name, func() (int, bool, error) {
		return 0, false, a.opts.Store.DeleteConcurrency(r.Context(), name)
	})
	if errors.Is(err, store.ErrNotFound) {
		return lambda.FunctionNotFound(a.id.FunctionARN(name))
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// reservedTotal is the sum of every function's reserved concurrency.
func reservedTotal(all map[string]int) int {
	sum := 0
	for _, n := range all {
		sum += n
	}
	return sum
}
