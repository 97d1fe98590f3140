package esm

import (
	"bytes"
	"encoding/json"
)

// batchItemFailures reads a partial batch response (ReportBatchItemFailures)
// from a function's result. It returns the identifiers to retry, in the
// response's order, and ok=false when the response is malformed, which
// fails the whole batch as Lambda does: an entry without an
// itemIdentifier, or with one that is not in the batch (inBatch false).
// A result that is not a JSON object, or has no or a null or empty
// batchItemFailures, means every item succeeded; an object whose
// batchItemFailures is not a list of objects is malformed.
func batchItemFailures(result []byte, inBatch func(id string) bool) (ids []string, ok bool) {
	result = bytes.TrimSpace(result)
	if len(result) == 0 || result[0] != '{' {
		return nil, true
	}
	var resp struct {
		BatchItemFailures []map[string]json.RawMessage `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(result, &resp); err != nil {
		return nil, false // an object Lambda cannot read as a response
	}
	for _, f := range resp.BatchItemFailures {
		raw, found := f["itemIdentifier"]
		var id string
		if !found || json.Unmarshal(raw, &id) != nil || id == "" || !inBatch(id) {
			return nil, false
		}
		ids = append(ids, id)
	}
	return ids, true
}
