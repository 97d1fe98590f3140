package lambda

import (
	"math/rand/v2"
	"sort"
	"strconv"

	"gust/internal/lazyre"
)

// Alias is a named pointer to a function version, optionally splitting
// traffic with one additional version. JSON tags are the storage format.
type Alias struct {
	Function        string             `json:"function"`
	Name            string             `json:"name"`
	FunctionVersion string             `json:"functionVersion"`
	Description     string             `json:"description,omitempty"`
	Weights         map[string]float64 `json:"weights,omitempty"` // RoutingConfig.AdditionalVersionWeights
	RevisionID      string             `json:"revisionId"`
}

// aliasNamePattern is the model's alias name pattern without the
// all-digits exclusion, which ValidateAliasName checks separately (Go's
// regexp has no lookahead).
var aliasNamePattern = lazyre.New(`^[a-zA-Z0-9_-]{1,128}$`)

// ValidateAliasName checks an alias name as Lambda does: 1–128 of
// [a-zA-Z0-9_-], and not only digits (that would read as a version).
func ValidateAliasName(name string) error {
	if !aliasNamePattern.MatchString(name) || versionPattern.MatchString(name) {
		return KindValidation.Errorf("1 validation error detected: Value '%s' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)", name)
	}
	return nil
}

// ValidateRouting checks an alias's routing against its primary version:
// at most one additional version, a published one different from the
// primary, with a weight in [0.0, 1.0].
func ValidateRouting(primary string, weights map[string]float64) error {
	if len(weights) == 0 {
		return nil
	}
	if len(weights) > 1 {
		return KindInvalidParameterValue.Errorf("Number of items in AdditionalVersionWeights cannot be greater than 1")
	}
	if primary == LatestVersion {
		return KindInvalidParameterValue.Errorf("$LATEST is not supported for an alias pointing to more than 1 version")
	}
	for v, w := range weights {
		if !versionPattern.MatchString(v) {
			return KindInvalidParameterValue.Errorf("Invalid function version %s. Function version %s is not a published version.", v, v)
		}
		if v == primary {
			return KindInvalidParameterValue.Errorf("Invalid function version %s. The additional version must be different from the primary version.", v)
		}
		if w < 0 || w > 1 || w != w {
			return KindValidation.Errorf("1 validation error detected: Value '%s' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0]", strconv.FormatFloat(w, 'g', -1, 64))
		}
	}
	return nil
}

// Pick chooses the version one invocation runs: an additional version
// with its weight's probability, else the primary. Lambda's routing is a
// plain random choice per invocation, and so is this.
func (a *Alias) Pick() string {
	if len(a.Weights) == 0 {
		return a.FunctionVersion
	}
	r := rand.Float64()
	versions := make([]string, 0, len(a.Weights))
	for v := range a.Weights {
		versions = append(versions, v)
	}
	sort.Strings(versions) // a fixed order, so the cumulative split is stable
	acc := 0.0
	for _, v := range versions {
		acc += a.Weights[v]
		if r < acc {
			return v
		}
	}
	return a.FunctionVersion
}

// Versions lists the versions an alias may run: its primary first.
func (a *Alias) Versions() []string {
	out := []string{a.FunctionVersion}
	for v := range a.Weights {
		out = append(out, v)
	}
	return out
}
