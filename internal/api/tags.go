package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"unicode/utf8"

	"gust/internal/lambda"
	"gust/internal/store"
)

// TagStore is the storage behind TagResource, UntagResource and ListTags.
// Tags belong to a function as a whole, not to its versions.
type TagStore interface {
	// UpdateTags applies mutate to a copy of the function's tags and stores
	// the result with a compare-and-set, so mutate may run more than once.
	// An error from mutate is returned as is and nothing is written. It
	// returns the tags as stored (never nil), store.ErrNotFound for an
	// unknown function, and leaves RevisionId and LastModified unchanged.
	UpdateTags(ctx context.Context, name string, mutate func(tags map[string]string) error) (map[string]string, error)
	// GetTags returns the function's tags (empty, never nil, when it has
	// none) or store.ErrNotFound.
	GetTags(ctx context.Context, name string) (map[string]string, error)
}

// Tag limits Lambda enforces per function.
const (
	maxTagsPerResource = 50
	maxTagKeyLength    = 128 // characters, not bytes
	maxTagValueLength  = 256 // characters, not bytes
	maxResourceLength  = 256 // the model's limit on the ARN label
)

// reservedTagPrefix starts the keys AWS keeps for itself, in any case.
const reservedTagPrefix = "aws:"

// resourcePattern is the model's pattern for the {ARN} label, which Lambda
// names in its ValidationException when the label is not an ARN at all.
const resourcePattern = `arn:(aws[a-zA-Z-]*):lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:(function:[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?|code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})`

// errTooManyTags is Lambda's refusal of a change that leaves a function with
// more than maxTagsPerResource tags.
func errTooManyTags() error {
	return lambda.KindInvalidParameterValue.Errorf("Number of tags exceeds resource tag limit.")
}

func (a *API) tagRoutes() {
	tags := "/2017-03-31/tags/{arn}"
	a.handle("POST "+tags, a.operation("lambda", "TagResource", maxControlBody, tooLarge("TagResource", maxControlBody), a.tagResource))
	a.handle("DELETE "+tags, a.operation("lambda", "UntagResource", maxControlBody, tooLarge("UntagResource", maxControlBody), a.untagResource))
	a.handle("GET "+tags, a.operation("lambda", "ListTags", maxControlBody, tooLarge("ListTags", maxControlBody), a.listTags))
}

// validateTags checks a set of tags against Lambda's limits: at most 50,
// keys of 1–128 characters outside the reserved "aws:" space, values of at
// most 256 characters. CreateFunction and TagResource share it.
func validateTags(tags map[string]string) error {
	if len(tags) > maxTagsPerResource {
		return errTooManyTags()
	}
	for k, v := range tags {
		if n := utf8.RuneCountInString(k); n < 1 || n > maxTagKeyLength {
			return lambda.KindInvalidParameterValue.Errorf("1 validation error detected: Value '%s' at 'tags' failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length less than or equal to %d, Member must have length greater than or equal to 1]", k, maxTagKeyLength)
		}
		if strings.HasPrefix(strings.ToLower(k), reservedTagPrefix) {
			return lambda.KindInvalidParameterValue.Errorf("Invalid tag key: %s. Tag keys starting with 'aws:' are reserved for internal use.", k)
		}
		if utf8.RuneCountInString(v) > maxTagValueLength {
			return lambda.KindInvalidParameterValue.Errorf("1 validation error detected: Value '%s' at 'tags' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to %d, Member must have length greater than or equal to 0]", v, maxTagValueLength)
		}
	}
	return nil
}

// tagTarget resolves the {arn} label of the tagging operations to a
// function name. The label is the percent-decoded segment (SDKs send ':'
// as %3A). Lambda accepts only an unqualified function ARN here: anything
// that is not an ARN fails the model's pattern, and a version or alias ARN
// is refused before the function is looked up.
func (a *API) tagTarget(r *http.Request) (string, error) {
	resource := r.PathValue("arn")
	notARN := lambda.KindValidation.Errorf("1 validation error detected: Value '%s' at 'resource' failed to satisfy constraint: Member must satisfy regular expression pattern: %s", resource, resourcePattern)
	if !strings.HasPrefix(resource, "arn:") || len(resource) > maxResourceLength {
		return "", notARN
	}
	ref, err := lambda.ParseFunctionRef(resource)
	if err != nil {
		return "", notARN
	}
	if ref.Qualifier != "" {
		return "", lambda.KindInvalidParameterValue.Errorf("Tags on function aliases and versions are not supported. Please specify a function ARN.")
	}
	if !a.id.Owns(ref) {
		return "", lambda.FunctionNotFound(resource)
	}
	return ref.Name, nil
}

// tagError maps a store error of function name to its wire error.
func (a *API) tagError(name string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return lambda.FunctionNotFound(a.id.FunctionARN(name))
	}
	if errors.Is(err, store.ErrConflict) {
		return lambda.KindResourceConflict.Errorf("The operation cannot be performed at this time. An update is in progress for resource: %s", a.id.FunctionARN(name))
	}
	return err
}

// tagResource is TagResource: it adds Tags to the function, overwriting
// the values of keys it already has. Tagging is not a code or
// configuration change, so RevisionId stays and warm environments stay
// warm.
func (a *API) tagResource(w http.ResponseWriter, r *http.Request, body []byte) error {
	var in struct {
		Tags map[string]string `json:"Tags"`
	}
	if err := decodeJSON(body, &in); err != nil {
		return err
	}
	if len(in.Tags) == 0 {
		return lambda.KindInvalidParameterValue.Errorf("An error occurred and the request cannot be processed.")
	}
	name, err := a.tagTarget(r)
	if err != nil {
		return err
	}
	if err := validateTags(in.Tags); err != nil {
		return err
	}
	_, err = a.opts.Store.UpdateTags(r.Context(), name, func(tags map[string]string) error {
		for k, v := range in.Tags {
			tags[k] = v
		}
		if len(tags) > maxTagsPerResource {
			return errTooManyTags()
		}
		return nil
	})
	if err != nil {
		return a.tagError(name, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// untagResource is UntagResource: it removes every key named by the
// repeated tagKeys query parameter; keys the function does not have are
// ignored.
func (a *API) untagResource(w http.ResponseWriter, r *http.Request, _ []byte) error {
	keys := r.URL.Query()["tagKeys"]
	if len(keys) == 0 {
		return lambda.KindValidation.Errorf("1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null")
	}
	name, err := a.tagTarget(r)
	if err != nil {
		return err
	}
	_, err = a.opts.Store.UpdateTags(r.Context(), name, func(tags map[string]string) error {
		for _, k := range keys {
			delete(tags, k)
		}
		return nil
	})
	if err != nil {
		return a.tagError(name, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listTagsOutput is ListTags' response; Tags is {} when there are none.
type listTagsOutput struct {
	Tags map[string]string `json:"Tags"`
}

// listTags is ListTags.
func (a *API) listTags(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, err := a.tagTarget(r)
	if err != nil {
		return err
	}
	tags, err := a.opts.Store.GetTags(r.Context(), name)
	if err != nil {
		return a.tagError(name, err)
	}
	if tags == nil {
		tags = map[string]string{}
	}
	return writeJSON(w, http.StatusOK, listTagsOutput{Tags: tags})
}
