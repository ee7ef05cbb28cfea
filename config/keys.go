package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// appKeyPattern is the app's own context namespace: bare camelCase words
// such as primaryRegion. Everything the CDK puts into context has a
// character outside it: feature flags start with "@" (@aws-cdk/core:...),
// the CLI adds aws:cdk:* keys (aws:cdk:enable-path-metadata,
// aws:cdk:bundling-stacks, ...), cached lookups carry the account and region
// after colons (availability-zones:account=...:region=...), and notices
// keep acknowledged-issue-numbers ("Context values and the AWS CDK",
// https://docs.aws.amazon.com/cdk/v2/guide/context.html). Those stay
// allowed; a bare word that is not one of ours is a typo.
var appKeyPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)

// checkKeys refuses a key in the app's namespace that Defaults does not
// know, naming the nearest known key: a misspelled primaryRegion would
// otherwise deploy to the default region.
func checkKeys(context map[string]any) error {
	var unknown []string
	for key := range context {
		if _, known := Defaults[key]; !known && appKeyPattern.MatchString(key) {
			unknown = append(unknown, key)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	key := unknown[0]
	return fmt.Errorf("config: unknown context key %q; did you mean %q? (cdk.json's \"context\" lists every key)", key, nearestKey(key))
}

// knownKeys lists the app's context keys, sorted.
func knownKeys() []string {
	keys := make([]string, 0, len(Defaults))
	for k := range Defaults {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// nearestKey is the known key with the smallest case-insensitive edit
// distance to key.
func nearestKey(key string) string {
	best, bestDistance := "", -1
	for _, known := range knownKeys() {
		d := editDistance(strings.ToLower(key), strings.ToLower(known))
		if bestDistance < 0 || d < bestDistance {
			best, bestDistance = known, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
