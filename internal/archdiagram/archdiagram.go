// Package archdiagram draws the architecture as a Mermaid flowchart from a
// synthesized cloud assembly (cdk.out): one subgraph per stack and region,
// the main resources as nodes, and the data flow between them as edges,
// found in the templates themselves (references, imports, and the physical
// names one stack uses for another's resources). A picture drawn from the
// templates cannot drift from what is deployed; the README's copy is
// checked against it by a test.
//
// The package reads JSON only and does not import awscdk.
package archdiagram

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/dr-analytics/drplan/internal/naming"
)

// Stack is one synthesized stack.
type Stack struct {
	Name, Region string
	Template     map[string]any
}

// ReadAssembly reads the stacks of a cloud assembly directory (cdk.out).
func ReadAssembly(dir string) ([]Stack, error) {
	var manifest struct {
		Artifacts map[string]struct {
			Type        string         `json:"type"`
			Environment string         `json:"environment"`
			Properties  map[string]any `json:"properties"`
		} `json:"artifacts"`
	}
	if err := readJSON(filepath.Join(dir, "manifest.json"), &manifest); err != nil {
		return nil, fmt.Errorf("read cloud assembly %s (run `npx aws-cdk@2 synth` first): %w", dir, err)
	}
	var stacks []Stack
	for name, a := range manifest.Artifacts {
		if a.Type != "aws:cloudformation:stack" {
			continue
		}
		file, _ := a.Properties["templateFile"].(string)
		var tpl map[string]any
		if err := readJSON(filepath.Join(dir, file), &tpl); err != nil {
			return nil, fmt.Errorf("read template of %s: %w", name, err)
		}
		region := a.Environment[strings.LastIndex(a.Environment, "/")+1:]
		stacks = append(stacks, Stack{Name: name, Region: region, Template: tpl})
	}
	if len(stacks) == 0 {
		return nil, fmt.Errorf("cloud assembly %s has no stacks", dir)
	}
	return stacks, nil
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// node is one drawn resource.
type node struct {
	id, label, shape string
	stack, region    string
	rank             int
	// names are the physical names and ARNs other resources use for it.
	names []string
}

type edge struct{ from, to, label string }

// kinds: the resource types drawn, their label, shape and order.
var kinds = map[string]struct {
	label, shape string
	rank         int
}{
	"AWS::GlobalAccelerator::Accelerator":       {"Global Accelerator", "stadium", 0},
	"AWS::GlobalAccelerator::EndpointGroup":     {"endpoint group", "box", 1},
	"AWS::ElasticLoadBalancingV2::LoadBalancer": {"ALB", "box", 2},
	"AWS::Lambda::Function":                     {"Lambda", "round", 3},
	"AWS::Kinesis::Stream":                      {"Kinesis stream", "queue", 4},
	"AWS::KinesisFirehose::DeliveryStream":      {"Firehose", "queue", 5},
	"AWS::Scheduler::Schedule":                  {"schedule", "hexagon", 6},
	"AWS::StepFunctions::StateMachine":          {"Step Functions", "round", 7},
	"AWS::S3::Bucket":                           {"S3", "cylinder", 8},
	"AWS::DynamoDB::Table":                      {"DynamoDB table", "cylinder", 9},
	"Custom::TableRestore":                      {"restored DynamoDB table", "cylinder", 9},
	"AWS::Glue::Database":                       {"Glue catalog", "cylinder", 10},
	"AWS::Backup::BackupPlan":                   {"AWS Backup plan", "box", 11},
	"AWS::Backup::BackupVault":                  {"AWS Backup vault", "cylinder", 12},
	"Custom::TrafficDial":                       {"traffic switch", "box", 13},
	"AWS::CloudWatch::Dashboard":                {"DR dashboard", "box", 14},
}

// Mermaid draws the stacks. prefix is the deployment prefix, stripped from
// names in labels.
func Mermaid(stacks []Stack, prefix string) string {
	order := map[string]int{"PrimaryStack": 0, "BackupStack": 1, "BackupFailoverStack": 2}
	stacks = slices.Clone(stacks)
	slices.SortFunc(stacks, func(a, b Stack) int {
		if d := rankOf(order, a.Name) - rankOf(order, b.Name); d != 0 {
			return d
		}
		return strings.Compare(a.Name, b.Name)
	})
	g := &graph{prefix: prefix, byID: map[string]*node{}, exports: map[string]string{}}
	for _, s := range stacks {
		g.collect(s)
	}
	for _, s := range stacks {
		g.connect(s)
	}
	return g.render(stacks)
}

func rankOf(order map[string]int, name string) int {
	if r, ok := order[name]; ok {
		return r
	}
	return len(order)
}

type graph struct {
	prefix  string
	nodes   []*node
	byID    map[string]*node
	edges   []edge
	exports map[string]string // export name -> node id
	// handlers are custom resource handler functions, drawn as their resource.
	handlers map[string]bool
}

func nodeID(stack, logical string) string {
	initials := regexp.MustCompile(`[A-Z]`).FindAllString(stack, -1)
	return strings.Join(initials, "") + "_" + regexp.MustCompile(`[^A-Za-z0-9]`).ReplaceAllString(logical, "")
}

func resources(tpl map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	rs, _ := tpl["Resources"].(map[string]any)
	for id, r := range rs {
		out[id], _ = r.(map[string]any)
	}
	return out
}

func props(r map[string]any) map[string]any {
	p, _ := r["Properties"].(map[string]any)
	return p
}

// collect makes the nodes of one stack.
func (g *graph) collect(s Stack) {
	rs := resources(s.Template)
	handlers := map[string]bool{}
	for _, r := range rs {
		env, _ := dig(props(r), "Environment", "Variables").(map[string]any)
		for _, k := range []string{"USER_ON_EVENT_FUNCTION_ARN", "USER_IS_COMPLETE_FUNCTION_ARN"} {
			if id := refID(env[k]); id != "" {
				handlers[id] = true
			}
		}
	}
	for _, id := range sortedKeys(rs) {
		r := rs[id]
		typ, _ := r["Type"].(string)
		kind, ok := kinds[typ]
		if !ok {
			continue
		}
		p := props(r)
		n := &node{id: nodeID(s.Name, id), label: kind.label, shape: kind.shape, stack: s.Name, region: s.Region, rank: kind.rank}
		name := ""
		switch typ {
		case "AWS::Lambda::Function":
			name = render(p["FunctionName"])
			if handlers[id] || !strings.HasPrefix(name, g.prefix+"-") {
				continue // framework and custom resource handlers: drawn as their resource
			}
			n.label = "λ " + strings.TrimPrefix(name, g.prefix+"-")
		case "AWS::S3::Bucket":
			name = render(p["BucketName"])
			purpose := ""
			for _, route := range naming.DataRoutes {
				if strings.HasPrefix(name, g.prefix+"-"+string(route.Purpose)+"-") {
					purpose = string(route.Purpose)
				}
			}
			if purpose == "" {
				continue // access logs and query results: not part of the data flow
			}
			n.label = "S3 " + purpose
			n.names = append(n.names, "arn:aws:s3:::"+name)
		case "AWS::Kinesis::Stream":
			name = render(p["Name"])
		case "AWS::KinesisFirehose::DeliveryStream":
			name = render(p["DeliveryStreamName"])
		case "AWS::DynamoDB::Table", "Custom::TableRestore":
			name = render(p["TableName"])
		case "AWS::Glue::Database":
			name = render(dig(p, "DatabaseInput", "Name"))
		case "AWS::Backup::BackupVault":
			name = render(p["BackupVaultName"])
		case "AWS::StepFunctions::StateMachine":
			name = render(p["StateMachineName"])
			if !strings.HasPrefix(name, g.prefix+"-") {
				continue // the provider framework's waiter
			}
			n.label = "Step Functions " + strings.TrimPrefix(name, g.prefix+"-")
		case "AWS::Scheduler::Schedule":
			n.label = "schedule " + render(p["ScheduleExpression"])
		case "AWS::GlobalAccelerator::EndpointGroup":
			n.label = fmt.Sprintf("endpoint group, dial %v%%", p["TrafficDialPercentage"])
		}
		if name != "" {
			n.names = append(n.names, name)
		}
		g.add(n)
	}
	outputs, _ := s.Template["Outputs"].(map[string]any)
	for _, o := range outputs {
		out, _ := o.(map[string]any)
		export, _ := dig(out, "Export", "Name").(string)
		if id := refID(out["Value"]); export != "" && id != "" {
			g.exports[export] = nodeID(s.Name, id)
		}
	}
	if g.handlers == nil {
		g.handlers = map[string]bool{}
	}
	for id := range handlers {
		g.handlers[nodeID(s.Name, id)] = true
	}
}

func (g *graph) add(n *node) {
	g.nodes = append(g.nodes, n)
	g.byID[n.id] = n
}

// resolve finds the node a value points at: a reference within the stack,
// an import of another stack's export, or a physical name or ARN in the
// same region.
func (g *graph) resolve(s Stack, v any) *node {
	if id := refID(v); id != "" {
		return g.byID[nodeID(s.Name, id)]
	}
	if m, ok := v.(map[string]any); ok {
		if imp, ok := m["Fn::ImportValue"].(string); ok {
			return g.byID[g.exports[imp]]
		}
	}
	text := render(v)
	if text == "" {
		return nil
	}
	// An ARN names its region (S3's do not); a bare name means the
	// caller's region.
	region := s.Region
	if parts := strings.Split(text, ":"); len(parts) > 4 && parts[0] == "arn" && parts[3] != "" {
		region = parts[3]
	}
	for _, n := range g.nodes {
		for _, name := range n.names {
			switch {
			case strings.HasPrefix(name, "arn:aws:s3:::") && text == name, // bucket names are global
				n.region == region && (text == name || strings.HasSuffix(text, ":backup-vault:"+name) || strings.HasSuffix(text, ":table/"+name)):
				return n
			}
		}
	}
	return nil
}

func (g *graph) link(from, to *node, label string) {
	if from == nil || to == nil || from == to {
		return
	}
	e := edge{from.id, to.id, label}
	if !slices.Contains(g.edges, e) {
		g.edges = append(g.edges, e)
	}
}

// connect adds the data flow found in one stack's templates.
func (g *graph) connect(s Stack) {
	rs := resources(s.Template)
	self := func(id string) *node { return g.byID[nodeID(s.Name, id)] }
	var accelerator *node
	for _, n := range g.nodes {
		if n.label == kinds["AWS::GlobalAccelerator::Accelerator"].label {
			accelerator = n
		}
	}
	targetGroups := map[string]*node{} // target group id -> function
	for _, id := range sortedKeys(rs) {
		p := props(rs[id])
		if rs[id]["Type"] == "AWS::ElasticLoadBalancingV2::TargetGroup" {
			for _, t := range list(p["Targets"]) {
				targetGroups[id] = g.resolve(s, dig(t, "Id"))
			}
		}
	}
	for _, id := range sortedKeys(rs) {
		r := rs[id]
		p := props(r)
		switch r["Type"] {
		case "AWS::GlobalAccelerator::EndpointGroup":
			g.link(accelerator, self(id), "")
			for _, e := range list(p["EndpointConfigurations"]) {
				g.link(self(id), g.resolve(s, dig(e, "EndpointId")), "")
			}
		case "AWS::ElasticLoadBalancingV2::Listener":
			for _, a := range list(p["DefaultActions"]) {
				g.link(g.resolve(s, p["LoadBalancerArn"]), targetGroups[refID(dig(a, "TargetGroupArn"))], "HTTP")
			}
		case "AWS::Lambda::Function":
			fn := self(id)
			env, _ := dig(p, "Environment", "Variables").(map[string]any)
			for _, k := range sortedKeys(env) {
				value := render(env[k])
				var routes []map[string]any
				if k == "PARTITION_ROUTES" && json.Unmarshal([]byte(value), &routes) == nil {
					for _, route := range routes { // S3 notifications -> registrar -> catalog
						g.link(g.resolve(s, route["bucket"]), fn, "new objects")
						g.link(fn, g.resolve(s, route["database"]), "partitions")
					}
					continue
				}
				g.link(fn, g.resolve(s, env[k]), "")
			}
		case "AWS::KinesisFirehose::DeliveryStream":
			g.link(g.resolve(s, dig(p, "KinesisStreamSourceConfiguration", "KinesisStreamARN")), self(id), "")
			g.link(self(id), g.resolve(s, dig(p, "ExtendedS3DestinationConfiguration", "BucketARN")), "")
		case "AWS::Lambda::EventSourceMapping":
			g.link(g.resolve(s, p["EventSourceArn"]), g.resolve(s, p["FunctionName"]), "")
		case "AWS::S3::Bucket":
			for _, rule := range list(dig(p, "ReplicationConfiguration", "Rules")) {
				g.link(self(id), g.resolve(s, dig(rule, "Destination", "Bucket")), "CRR")
			}
		case "AWS::Backup::BackupSelection":
			plan := g.resolve(s, p["BackupPlanId"])
			for _, res := range list(dig(p, "BackupSelection", "Resources")) {
				g.link(g.resolve(s, res), plan, "backup")
			}
		case "AWS::Backup::BackupPlan":
			for _, rule := range list(dig(p, "BackupPlan", "BackupPlanRule")) {
				g.link(self(id), g.resolve(s, dig(rule, "TargetBackupVault")), "")
				for _, c := range list(dig(rule, "CopyActions")) {
					g.link(self(id), g.resolve(s, dig(c, "DestinationBackupVaultArn")), "copy")
				}
			}
		case "AWS::Scheduler::Schedule":
			g.link(self(id), g.resolve(s, dig(p, "Target", "Arn")), "")
		case "AWS::StepFunctions::StateMachine":
			for _, part := range list(dig(p, "DefinitionString", "Fn::Join").([]any)[1]) {
				if target := g.resolve(s, part); target != nil && strings.HasPrefix(target.label, "λ") {
					g.link(self(id), target, "")
				}
			}
		case "Custom::TableRestore":
			g.link(g.resolve(s, p["SourceTableArn"]), self(id), "PITR")
			g.link(g.resolve(s, p["VaultName"]), self(id), "restore")
		case "Custom::TrafficDial":
			g.link(self(id), accelerator, fmt.Sprintf("primary dial %v%%", p["DialPercentage"]))
		}
	}
}

// render flattens a CloudFormation value to text: strings as they are,
// Fn::Join joined, other intrinsics as <...> placeholders.
func render(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		if join, ok := x["Fn::Join"].([]any); ok && len(join) == 2 {
			var parts []string
			for _, p := range list(join[1]) {
				parts = append(parts, render(p))
			}
			sep, _ := join[0].(string)
			return strings.Join(parts, sep)
		}
		if ref, ok := x["Ref"].(string); ok {
			return "<" + ref + ">"
		}
		b, _ := json.Marshal(x)
		return "<" + string(b) + ">"
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// refID returns the logical id a Ref or Fn::GetAtt points at.
func refID(v any) string {
	m, _ := v.(map[string]any)
	if ref, ok := m["Ref"].(string); ok && !strings.HasPrefix(ref, "AWS::") {
		return ref
	}
	if att, ok := m["Fn::GetAtt"].([]any); ok && len(att) > 0 {
		id, _ := att[0].(string)
		return id
	}
	return ""
}

func dig(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// shapes in Mermaid flowchart syntax.
var shapes = map[string][2]string{
	"box": {"[", "]"}, "round": {"(", ")"}, "stadium": {"([", "])"}, "cylinder": {"[(", ")]"},
	"queue": {"[[", "]]"}, "hexagon": {"{{", "}}"},
}

func (g *graph) render(stacks []Stack) string {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	b.WriteString("  producers([producers]) --> " + g.acceleratorID() + "\n")
	for _, s := range stacks {
		fmt.Fprintf(&b, "  subgraph %s[\"%s · %s\"]\n", nodeID(s.Name, ""), s.Name, s.Region)
		var in []*node
		for _, n := range g.nodes {
			if n.stack == s.Name {
				in = append(in, n)
			}
		}
		slices.SortFunc(in, func(a, b *node) int {
			if a.rank != b.rank {
				return a.rank - b.rank
			}
			if c := strings.Compare(a.label, b.label); c != 0 {
				return c
			}
			return strings.Compare(a.id, b.id)
		})
		for _, n := range in {
			sh := shapes[n.shape]
			fmt.Fprintf(&b, "    %s%s\"%s\"%s\n", n.id, sh[0], strings.ReplaceAll(n.label, `"`, "'"), sh[1])
		}
		b.WriteString("  end\n")
	}
	edges := slices.Clone(g.edges)
	slices.SortFunc(edges, func(a, b edge) int {
		if c := strings.Compare(a.from, b.from); c != 0 {
			return c
		}
		return strings.Compare(a.to, b.to)
	})
	for _, e := range edges {
		if e.label != "" {
			fmt.Fprintf(&b, "  %s -- \"%s\" --> %s\n", e.from, e.label, e.to)
		} else {
			fmt.Fprintf(&b, "  %s --> %s\n", e.from, e.to)
		}
	}
	return b.String()
}

func (g *graph) acceleratorID() string {
	for _, n := range g.nodes {
		if n.rank == 0 {
			return n.id
		}
	}
	return "accelerator"
}

// Block markers around the diagram in a Markdown file.
const (
	BeginMarker = "<!-- architecture diagram: generated by `go run ./cmd/archdiagram`; do not edit -->"
	EndMarker   = "<!-- end of architecture diagram -->"
)

// Block is the diagram as it appears in the README, between the markers.
func Block(diagram string) string {
	return BeginMarker + "\n```mermaid\n" + diagram + "```\n" + EndMarker
}

// Replace puts the diagram block into a Markdown document between the
// markers, or reports that the markers are missing.
func Replace(doc, diagram string) (string, error) {
	begin, end := strings.Index(doc, BeginMarker), strings.Index(doc, EndMarker)
	if begin < 0 || end < begin {
		return "", fmt.Errorf("no architecture diagram block: add the lines %q and %q where it goes", BeginMarker, EndMarker)
	}
	return doc[:begin] + Block(diagram) + doc[end+len(EndMarker):], nil
}

// Extract returns the diagram block of a Markdown document, or "".
func Extract(doc string) string {
	begin, end := strings.Index(doc, BeginMarker), strings.Index(doc, EndMarker)
	if begin < 0 || end < begin {
		return ""
	}
	return doc[begin : end+len(EndMarker)]
}
