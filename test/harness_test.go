// Package test holds the CDK template tests: one package, one test binary,
// one jsii runtime. The app is synthesized once; every test reads the
// synthesized templates and manifest as plain JSON, which is fast and gives
// readable failures without going through jsii.
package test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/dr-analytics/drplan/config"
	"github.com/dr-analytics/drplan/stacks"
)

var update = flag.Bool("update", false, "rewrite the golden snapshots in testdata/")

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	jsii.Close()
	for _, dir := range outdirs {
		if err := os.RemoveAll(dir); err != nil {
			fmt.Fprintf(os.Stderr, "remove %s: %v\n", dir, err)
		}
	}
	os.Exit(code)
}

// outdirs are the cloud assemblies this run wrote; TestMain removes them.
var outdirs []string

// Fixed test configuration: a known account so names are literal, producer
// CIDRs so the ingest security group has rules to check.
const (
	testAccount   = "123456789012"
	primaryRegion = "us-east-1"
	backupRegion  = "us-west-2"
	testPrefix    = "dr-analytics"
	producerCIDR  = "203.0.113.0/24"
)

var testContext = map[string]any{
	config.KeyAccount:       testAccount,
	config.KeyProducerCIDRs: producerCIDR,
	config.KeyAlarmEmail:    "ops@example.com",
	// Lean templates: no CDK version resource, no construct paths.
	"aws:cdk:version-reporting":    false,
	"aws:cdk:enable-path-metadata": false,
}

// assembly is the synthesized app.
type assembly struct {
	dir       string
	manifest  map[string]any
	templates map[string]template
}

// variantContext is a second configuration: no account known at synth
// (names resolve at deploy time, as with `cdk synth` and no credentials),
// HTTPS with certificates, a producer prefix list, and a forced restore source.
var variantContext = map[string]any{
	config.KeyAccount:               "",
	config.KeyProducerCIDRs:         "",
	config.KeyProducerPrefixList:    "pl-0123456789abcdef0",
	config.KeyPrimaryCertificateArn: "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555",
	config.KeyBackupCertificateArn:  "arn:aws:acm:us-west-2:123456789012:certificate/66666666-7777-8888-9999-000000000000",
	config.KeyRestoreSource:         config.RestoreBackup,
	config.KeyBackupFrequencyHours:  "24",
	// The operator's override of the PrimaryStack deploy guard.
	config.KeyAllowPrimaryDeployDuringFailover: "true",
	config.KeyRestoreTestSchedule:              config.RestoreTestOff,
	config.KeyReadinessInterval:                "5",
	config.KeyRPOTarget:                        "30",
	"aws:cdk:version-reporting":                false,
	"aws:cdk:enable-path-metadata":             false,
}

// once synthesizes one configuration per test binary.
type once struct {
	sync.Once
	a   *assembly
	err error
}

var mainSynth, variantSynth, pilotLightSynth once

// synthPilotLight returns the main configuration in the pilot-light tier.
func synthPilotLight(t *testing.T) *assembly {
	ctx := map[string]any{config.KeyTier: config.TierPilotLight}
	for k, v := range testContext {
		ctx[k] = v
	}
	return pilotLightSynth.get(t, ctx)
}

// synth returns the main test configuration's assembly.
func synth(t *testing.T) *assembly { return mainSynth.get(t, testContext) }

// synthVariant returns the variant configuration's assembly.
func synthVariant(t *testing.T) *assembly { return variantSynth.get(t, variantContext) }

func (o *once) get(t *testing.T, ctx map[string]any) *assembly {
	t.Helper()
	o.Do(func() { o.a, o.err = synthesize(ctx) })
	if o.err != nil {
		t.Fatalf("synth: %v", o.err)
	}
	return o.a
}

func synthesize(ctx map[string]any) (a *assembly, err error) {
	defer func() {
		// jsii reports failures as panics; turn them into one clean error.
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	outdir, err := os.MkdirTemp("", "cdk-test-")
	if err != nil {
		return nil, err
	}
	outdirs = append(outdirs, outdir)
	// The app's own cdk.json (defaults and feature flags), then the test's values.
	var cdkJSON struct {
		Context map[string]any `json:"context"`
	}
	if err := readJSON("../cdk.json", &cdkJSON); err != nil {
		return nil, err
	}
	context := cdkJSON.Context
	for k, v := range ctx {
		context[k] = v
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outdir), Context: &context})
	all, _ := app.Node().GetAllContext(nil).(map[string]any)
	cfg, _, err := config.LoadContext(all, func(string) string { return "" })
	if err != nil {
		return nil, err
	}
	stacks.NewDeployment(app, cfg)
	dir := *app.Synth(nil).Directory()
	return readAssembly(dir)
}

func readAssembly(dir string) (*assembly, error) {
	a := &assembly{dir: dir, templates: map[string]template{}}
	if err := readJSON(filepath.Join(dir, "manifest.json"), &a.manifest); err != nil {
		return nil, err
	}
	for name, artifact := range a.manifest["artifacts"].(map[string]any) {
		art := artifact.(map[string]any)
		if art["type"] != "aws:cloudformation:stack" {
			continue
		}
		var tpl map[string]any
		file := art["properties"].(map[string]any)["templateFile"].(string)
		if err := readJSON(filepath.Join(dir, file), &tpl); err != nil {
			return nil, err
		}
		a.templates[name] = template{name: name, body: tpl}
	}
	return a, nil
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// stack returns a stack's template.
func (a *assembly) stack(t *testing.T, name string) template {
	t.Helper()
	tpl, ok := a.templates[name]
	if !ok {
		t.Fatalf("no stack %q in the assembly", name)
	}
	return tpl
}

// artifact returns a stack's manifest entry.
func (a *assembly) artifact(t *testing.T, name string) map[string]any {
	t.Helper()
	art, ok := a.manifest["artifacts"].(map[string]any)[name].(map[string]any)
	if !ok {
		t.Fatalf("no artifact %q in the manifest", name)
	}
	return art
}

// template is one synthesized CloudFormation template.
type template struct {
	name string
	body map[string]any
}

// resource is a logical id and its definition.
type resource struct {
	ID         string
	Type       string
	Properties map[string]any
	Raw        map[string]any
}

func (tpl template) resources() []resource {
	var out []resource
	for id, r := range tpl.body["Resources"].(map[string]any) {
		raw := r.(map[string]any)
		props, _ := raw["Properties"].(map[string]any)
		out = append(out, resource{ID: id, Type: raw["Type"].(string), Properties: props, Raw: raw})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// ofType lists the resources of one type.
func (tpl template) ofType(typ string) []resource {
	var out []resource
	for _, r := range tpl.resources() {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// find returns the resources of a type whose properties contain want
// (partial, recursive match: see like).
func (tpl template) find(typ string, want map[string]any) []resource {
	var out []resource
	for _, r := range tpl.ofType(typ) {
		if like(r.Properties, want) {
			out = append(out, r)
		}
	}
	return out
}

// one asserts exactly one resource of a type matches want and returns it.
func (tpl template) one(t *testing.T, typ string, want map[string]any) resource {
	t.Helper()
	found := tpl.find(typ, want)
	if len(found) != 1 {
		t.Fatalf("%s: want exactly one %s like %s, found %d (of %d %s)", tpl.name, typ, show(want), len(found), len(tpl.ofType(typ)), typ)
	}
	return found[0]
}

// byID returns a resource by logical id.
func (tpl template) byID(t *testing.T, id string) resource {
	t.Helper()
	for _, r := range tpl.resources() {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("%s: no resource %s", tpl.name, id)
	return resource{}
}

// refersTo reports whether v is a Ref or Fn::GetAtt to the logical id.
func refersTo(v any, id string) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	if ref, ok := m["Ref"]; ok {
		return ref == id
	}
	if att, ok := m["Fn::GetAtt"].([]any); ok && len(att) > 0 {
		return att[0] == id
	}
	return false
}

// like reports whether actual contains expected: maps match when every
// expected key matches; slices match when every expected element matches some
// actual element; matcher values (see anyValue, absent) decide themselves;
// other values compare equal.
func like(actual, expected any) bool {
	switch e := expected.(type) {
	case matcher:
		return e.match(actual)
	case map[string]any:
		a, ok := actual.(map[string]any)
		if !ok {
			return false
		}
		for k, ev := range e {
			av, present := a[k]
			if m, ok := ev.(matcher); ok && !present {
				if !m.match(nil) {
					return false
				}
				continue
			}
			if !present || !like(av, ev) {
				return false
			}
		}
		return true
	case []any:
		a, ok := actual.([]any)
		if !ok {
			return false
		}
		for _, ev := range e {
			found := false
			for _, av := range a {
				if like(av, ev) {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
		return true
	case int:
		f, ok := actual.(float64)
		return ok && f == float64(e)
	default:
		return reflect.DeepEqual(actual, expected)
	}
}

// matcher decides a match itself.
type matcher interface{ match(actual any) bool }

type matchFunc func(any) bool

func (f matchFunc) match(a any) bool { return f(a) }

// absent matches a key that is not there.
var absent = matchFunc(func(a any) bool { return a == nil })

// present matches any value that is there.
var present = matchFunc(func(a any) bool { return a != nil })

// contains matches a value whose JSON text contains s.
func contains(s string) matcher {
	return matchFunc(func(a any) bool { return a != nil && strings.Contains(show(a), s) })
}

func show(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// statements collects every IAM statement of the policies attached to a
// role (inline and AWS::IAM::Policy), by role logical id.
func (tpl template) statements(roleID string) []map[string]any {
	var out []map[string]any
	collect := func(doc any) {
		d, _ := doc.(map[string]any)
		stmts, _ := d["Statement"].([]any)
		for _, s := range stmts {
			out = append(out, s.(map[string]any))
		}
	}
	for _, p := range tpl.ofType("AWS::IAM::Policy") {
		for _, r := range p.Properties["Roles"].([]any) {
			if refersTo(r, roleID) {
				collect(p.Properties["PolicyDocument"])
			}
		}
	}
	role := tpl.body["Resources"].(map[string]any)[roleID].(map[string]any)
	if props, ok := role["Properties"].(map[string]any); ok {
		if policies, ok := props["Policies"].([]any); ok {
			for _, p := range policies {
				collect(p.(map[string]any)["PolicyDocument"])
			}
		}
	}
	return out
}

// actions lists a statement's actions.
func actions(stmt map[string]any) []string {
	switch a := stmt["Action"].(type) {
	case string:
		return []string{a}
	case []any:
		out := make([]string, len(a))
		for i, v := range a {
			out[i] = v.(string)
		}
		return out
	}
	return nil
}

// check runs one named property check; a jsii or assertion panic fails only
// that check, with the message.
func check(t *testing.T, name string, f func(t *testing.T)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("panic: %v", r)
			}
		}()
		f(t)
	})
}

// render flattens a CloudFormation value to text: literal strings as they
// are, Fn::Join joined, references as <Ref:Id>, <Id.Attr> and <Import:Name>.
func render(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		if ref, ok := x["Ref"].(string); ok {
			return "<Ref:" + ref + ">"
		}
		if att, ok := x["Fn::GetAtt"].([]any); ok && len(att) == 2 {
			return fmt.Sprintf("<%v.%v>", att[0], att[1])
		}
		if imp, ok := x["Fn::ImportValue"]; ok {
			return "<Import:" + render(imp) + ">"
		}
		if join, ok := x["Fn::Join"].([]any); ok && len(join) == 2 {
			parts := join[1].([]any)
			out := make([]string, len(parts))
			for i, p := range parts {
				out[i] = render(p)
			}
			return strings.Join(out, join[0].(string))
		}
	}
	return show(v)
}

// allStatements lists every IAM statement in a template: inline role
// policies, AWS::IAM::Policy and managed policies.
func (tpl template) allStatements() []map[string]any {
	var out []map[string]any
	add := func(doc any) {
		d, _ := doc.(map[string]any)
		stmts, _ := d["Statement"].([]any)
		for _, s := range stmts {
			out = append(out, s.(map[string]any))
		}
	}
	for _, r := range tpl.resources() {
		switch r.Type {
		case "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy":
			add(r.Properties["PolicyDocument"])
		case "AWS::IAM::Role":
			if policies, ok := r.Properties["Policies"].([]any); ok {
				for _, p := range policies {
					add(p.(map[string]any)["PolicyDocument"])
				}
			}
		}
	}
	return out
}

// resourcesOf lists a statement's resources, rendered.
func resourcesOf(stmt map[string]any) []string {
	switch r := stmt["Resource"].(type) {
	case []any:
		out := make([]string, len(r))
		for i, v := range r {
			out[i] = render(v)
		}
		return out
	case nil:
		return nil
	default:
		return []string{render(r)}
	}
}

// roleOf returns the logical id a Role property (Ref or GetAtt) points at.
func roleOf(v any) string {
	m, _ := v.(map[string]any)
	if ref, ok := m["Ref"].(string); ok {
		return ref
	}
	if att, ok := m["Fn::GetAtt"].([]any); ok {
		return att[0].(string)
	}
	return ""
}

// grants collects a role's allowed actions with their rendered resources.
func (tpl template) grants(roleID string) map[string][]string {
	out := map[string][]string{}
	for _, s := range tpl.statements(roleID) {
		if s["Effect"] != "Allow" {
			continue
		}
		for _, a := range actions(s) {
			out[a] = append(out[a], resourcesOf(s)...)
		}
	}
	return out
}

// functionNamed returns a Lambda function by its physical name.
func (tpl template) functionNamed(t *testing.T, name string) resource {
	t.Helper()
	return tpl.one(t, "AWS::Lambda::Function", map[string]any{"FunctionName": name})
}
