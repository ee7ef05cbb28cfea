package partition

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/dr-analytics/drplan/internal/backoff"
)

// GlueAPI is the part of *glue.Client the registrar uses.
type GlueAPI interface {
	GetTable(ctx context.Context, params *glue.GetTableInput, optFns ...func(*glue.Options)) (*glue.GetTableOutput, error)
	BatchCreatePartition(ctx context.Context, params *glue.BatchCreatePartitionInput, optFns ...func(*glue.Options)) (*glue.BatchCreatePartitionOutput, error)
}

// GlueClientOptions turns off the SDK's own retries for the registrar's Glue
// client: the registrar retries whole calls and single entries itself, with
// one bounded budget, so SDK retries would only multiply the attempts.
func GlueClientOptions(o *glue.Options) { o.Retryer = aws.NopRetryer{} }

// MaxPartitionsPerCall is BatchCreatePartition's limit.
const MaxPartitionsPerCall = 100

// Defaults for the options.
const (
	DefaultMaxAttempts = 6
	DefaultMemory      = 100_000
	DefaultTableTTL    = 15 * time.Minute
)

// Result says what became of a set of objects. Partitions are listed once
// each, in the order their first object arrived.
type Result struct {
	// Created were added to the catalog now.
	Created []Partition
	// AlreadyPresent were in the catalog already, or registered earlier by
	// this registrar (CacheHits of them, which cost no Glue call).
	AlreadyPresent []Partition
	// Failed could not be added; their objects are reported as failed.
	Failed []Partition
	// Skipped counts objects that imply no partition, by reason.
	Skipped map[SkipReason]int
	// Received counts the objects (and S3 test events) looked at.
	Received int
	// CacheHits counts partitions in AlreadyPresent known from earlier calls.
	CacheHits int
	// GlueCalls and GlueRetries count Glue requests made and how many were retries.
	GlueCalls, GlueRetries int
}

// Registrar registers partitions for objects. It remembers the tables it read
// and the partitions it registered, so a warm Lambda container makes no Glue
// call for partitions it has seen. Safe for concurrent use.
type Registrar struct {
	glue   GlueAPI
	routes routeTable

	logger       *slog.Logger
	metrics      io.Writer
	functionName string
	retry        backoff.Policy
	tableTTL     time.Duration
	now          func() time.Time
	memory       int

	mu     sync.Mutex
	tables map[tableRef]tableDef
	known  *recentSet
}

// Option configures a Registrar.
type Option func(*Registrar)

// WithLogger sets where structured log lines go (default: JSON to stdout).
func WithLogger(l *slog.Logger) Option { return func(r *Registrar) { r.logger = l } }

// WithMetrics sets where HandleSQS writes its embedded-metrics line (default stdout).
func WithMetrics(w io.Writer) Option { return func(r *Registrar) { r.metrics = w } }

// WithFunctionName sets the metrics' FunctionName dimension, e.g. the
// AWS_LAMBDA_FUNCTION_NAME of the running function; "" keeps the default
// "partition-registrar".
func WithFunctionName(name string) Option {
	return func(r *Registrar) {
		if name != "" {
			r.functionName = name
		}
	}
}

// WithRetry sets the retry policy of each Glue call: p.Attempts tries (at
// least 1) with p's delays; a policy without Initial retries at once, for
// tests. The default is DefaultRetry. A delay that would outlast the
// invocation's deadline is not slept: the call fails instead.
func WithRetry(p backoff.Policy) Option {
	return func(r *Registrar) {
		p.Attempts = max(1, p.Attempts)
		r.retry = p
	}
}

// DefaultRetry is the registrar's retry policy: DefaultMaxAttempts tries,
// 200ms doubling to 5s, jittered.
var DefaultRetry = backoff.Policy{Attempts: DefaultMaxAttempts, Initial: 200 * time.Millisecond, Max: 5 * time.Second}

// WithMemory caps how many registered partitions a container remembers
// (default DefaultMemory); older ones are forgotten first.
func WithMemory(partitions int) Option { return func(r *Registrar) { r.memory = max(2, partitions) } }

// WithTableTTL sets how long a table definition is reused before GetTable
// reads it again (default DefaultTableTTL), so a schema change reaches new
// partitions without a cold start; now is the clock (nil: time.Now).
func WithTableTTL(ttl time.Duration, now func() time.Time) Option {
	return func(r *Registrar) {
		r.tableTTL = ttl
		if now != nil {
			r.now = now
		}
	}
}

// NewRegistrar returns a registrar for routes (as ParseRoutes checks them).
func NewRegistrar(glue GlueAPI, routes []Route, opts ...Option) *Registrar {
	r := &Registrar{
		glue:         glue,
		routes:       newRouteTable(routes),
		logger:       slog.New(slog.NewJSONHandler(os.Stdout, nil)),
		metrics:      os.Stdout,
		functionName: "partition-registrar",
		retry:        DefaultRetry,
		tableTTL:     DefaultTableTTL,
		now:          time.Now,
		memory:       DefaultMemory,
		tables:       map[tableRef]tableDef{},
	}
	for _, opt := range opts {
		opt(r)
	}
	r.known = newRecentSet(r.memory)
	return r
}

// RegisterObjects registers the partitions of objs (keys already decoded).
// The error is nil when every object was registered or skipped; otherwise it
// says which tables and partitions failed and why, and Result says what did
// succeed. Calling it again with the same objects is safe.
func (r *Registrar) RegisterObjects(ctx context.Context, objs []Object) (Result, error) {
	run := newRun(len(objs))
	run.result.Received = len(objs)
	r.register(ctx, run, objs)
	failed := 0
	for _, f := range run.objectFailed {
		if f {
			failed++
		}
	}
	if failed == 0 {
		return run.result, nil
	}
	problems := run.problems
	const shown = 10
	if len(problems) > shown {
		problems = append(problems[:shown:shown], fmt.Errorf("and %d more", len(run.problems)-shown))
	}
	return run.result, fmt.Errorf("register partitions: %d of %d objects not registered: %w", failed, len(objs), errors.Join(problems...))
}

type tableRef struct{ database, table string }

type tableDef struct {
	keys    []string
	sd      types.StorageDescriptor
	fetched time.Time
}

// run is the state of one RegisterObjects or HandleSQS call.
type run struct {
	result       Result
	objectFailed []bool
	problems     []error
}

func newRun(objects int) *run {
	return &run{result: Result{Skipped: map[SkipReason]int{}}, objectFailed: make([]bool, objects)}
}

// pending is one partition of a batch and the objects that imply it.
type pending struct {
	id      string
	part    Partition
	objects []int
}

// register does the work for a set of objects, recording into run.
func (r *Registrar) register(ctx context.Context, run *run, objs []Object) {
	// Group objects by table, keeping arrival order, so a table's failure
	// touches only its own objects.
	var order []tableRef
	byTable := map[tableRef][]int{}
	routeOf := make([]Route, len(objs))
	for i, obj := range objs {
		if strings.HasPrefix(obj.Key, errorsFolder) {
			r.skip(run, SkipErrorOutput, obj)
			continue
		}
		route, ok := r.routes.find(obj)
		if !ok {
			r.skip(run, SkipOutsideRoutes, obj)
			continue
		}
		// Files that never imply a partition are skipped before the table is
		// needed, so a batch of markers costs no GetTable.
		if reason, skipped := skipFile(obj.Key, obj.Key[len(route.Prefix):]); skipped {
			r.skipWithKeys(run, reason, obj, route, nil)
			continue
		}
		routeOf[i] = route
		ref := tableRef{route.Database, route.Table}
		if _, seen := byTable[ref]; !seen {
			order = append(order, ref)
		}
		byTable[ref] = append(byTable[ref], i)
	}
	for _, ref := range order {
		r.registerTable(ctx, run, ref, objs, routeOf, byTable[ref])
	}
}

func (r *Registrar) registerTable(ctx context.Context, run *run, ref tableRef, objs []Object, routeOf []Route, indexes []int) {
	def, err := r.table(ctx, run, ref)
	if err != nil {
		for _, i := range indexes {
			run.objectFailed[i] = true
		}
		run.problems = append(run.problems, err)
		r.logger.Error("table unreadable; its objects are reported as failed",
			"database", ref.database, "table", ref.table, "objects", len(indexes),
			"error", err.Error(), "fix", fixFor(errorCodeOf(err)))
		return
	}
	var batch []*pending
	byID := map[string]*pending{}
	for _, i := range indexes {
		part, reason, ok := PartitionOf(routeOf[i], def.keys, objs[i].Key)
		if !ok {
			r.skipWithKeys(run, reason, objs[i], routeOf[i], def.keys)
			continue
		}
		id := partitionID(part)
		p, seen := byID[id]
		if !seen {
			p = &pending{id: id, part: part}
			byID[id] = p
			batch = append(batch, p)
		}
		p.objects = append(p.objects, i)
	}
	var create []*pending
	for _, p := range batch {
		if r.remembers(p.id) {
			run.result.AlreadyPresent = append(run.result.AlreadyPresent, p.part)
			run.result.CacheHits++
			continue
		}
		create = append(create, p)
	}
	for start := 0; start < len(create); start += MaxPartitionsPerCall {
		r.createChunk(ctx, run, ref, def, create[start:min(start+MaxPartitionsPerCall, len(create))])
	}
}

// table returns the table's definition, from memory while it is fresh.
func (r *Registrar) table(ctx context.Context, run *run, ref tableRef) (tableDef, error) {
	r.mu.Lock()
	cached, ok := r.tables[ref]
	r.mu.Unlock()
	if ok && r.now().Sub(cached.fetched) < r.tableTTL {
		return cached, nil
	}
	def, err := r.readTable(ctx, run, ref)
	if err != nil && ok {
		// A stale definition still registers correct partitions; only a
		// schema change since it was read would be missed, until the next read.
		r.logger.Warn("table unreadable; using the definition read earlier",
			"database", ref.database, "table", ref.table, "readAt", cached.fetched, "error", err.Error())
		return cached, nil
	}
	if err != nil {
		return tableDef{}, err
	}
	r.mu.Lock()
	r.tables[ref] = def
	r.mu.Unlock()
	return def, nil
}

// readTable reads a table's definition with GetTable, retrying what can be retried.
func (r *Registrar) readTable(ctx context.Context, run *run, ref tableRef) (tableDef, error) {
	in := &glue.GetTableInput{DatabaseName: aws.String(ref.database), Name: aws.String(ref.table)}
	var out *glue.GetTableOutput
	var err error
	retry := r.retry.Start()
	for {
		run.result.GlueCalls++
		out, err = r.glue.GetTable(ctx, in)
		if err == nil || !retryable(err) || !retry.Wait(ctx) {
			break
		}
		run.result.GlueRetries++
	}
	if err != nil {
		return tableDef{}, fmt.Errorf("get table %s.%s: %w", ref.database, ref.table, err)
	}
	if out.Table == nil || out.Table.StorageDescriptor == nil {
		return tableDef{}, fmt.Errorf("get table %s.%s: the table has no storage descriptor to copy into partitions: define its columns, formats and location", ref.database, ref.table)
	}
	def := tableDef{sd: *out.Table.StorageDescriptor, fetched: r.now()}
	for _, k := range out.Table.PartitionKeys {
		def.keys = append(def.keys, aws.ToString(k.Name))
	}
	return def, nil
}

// createChunk creates up to MaxPartitionsPerCall partitions, retrying the
// whole call or the entries Glue could not take yet, within one attempt budget.
func (r *Registrar) createChunk(ctx context.Context, run *run, ref tableRef, def tableDef, chunk []*pending) {
	todo := chunk
	retry := r.retry.Start()
	for attempt := 1; ; attempt++ {
		in := &glue.BatchCreatePartitionInput{
			DatabaseName:       aws.String(ref.database),
			TableName:          aws.String(ref.table),
			PartitionInputList: make([]types.PartitionInput, len(todo)),
		}
		for i, p := range todo {
			sd := def.sd // shallow copy: only Location differs, shared slices are only read
			sd.Location = aws.String(p.part.Location)
			in.PartitionInputList[i] = types.PartitionInput{Values: p.part.Values, StorageDescriptor: &sd}
		}
		run.result.GlueCalls++
		out, err := r.glue.BatchCreatePartition(ctx, in)

		var again []*pending
		var lastErr error
		lastCode := errorCodeOf(err)
		if err != nil {
			if !retryable(err) {
				r.fail(run, todo, lastCode, fmt.Errorf("batch create partitions in %s.%s: %w", ref.database, ref.table, err))
				return
			}
			again, lastErr = todo, fmt.Errorf("batch create partitions in %s.%s: %w", ref.database, ref.table, err)
		} else {
			entryErrors := map[string]types.ErrorDetail{}
			for _, e := range out.Errors {
				if e.ErrorDetail != nil {
					entryErrors[valuesID(ref, e.PartitionValues)] = *e.ErrorDetail
				}
			}
			for _, p := range todo {
				detail, failed := entryErrors[p.id]
				code := aws.ToString(detail.ErrorCode)
				switch {
				case !failed:
					r.succeed(run, p, true)
				case code == "AlreadyExistsException":
					r.succeed(run, p, false)
				case retryableCodes[code]:
					again = append(again, p)
					lastCode, lastErr = code, fmt.Errorf("%s: %s", code, aws.ToString(detail.ErrorMessage))
				default:
					r.fail(run, []*pending{p}, code, fmt.Errorf("%s: %s", code, aws.ToString(detail.ErrorMessage)))
				}
			}
		}
		if len(again) == 0 {
			return
		}
		if !retry.Wait(ctx) {
			r.fail(run, again, lastCode, fmt.Errorf("gave up after %d attempts: %w", attempt, lastErr))
			return
		}
		run.result.GlueRetries++
		todo = again
	}
}

func (r *Registrar) succeed(run *run, p *pending, created bool) {
	r.remember(p.id)
	if created {
		run.result.Created = append(run.result.Created, p.part)
		r.logger.Info("partition registered", "database", p.part.Database, "table", p.part.Table,
			"values", p.part.Values, "location", p.part.Location)
		return
	}
	run.result.AlreadyPresent = append(run.result.AlreadyPresent, p.part)
}

func (r *Registrar) fail(run *run, parts []*pending, code string, err error) {
	for _, p := range parts {
		run.result.Failed = append(run.result.Failed, p.part)
		for _, i := range p.objects {
			run.objectFailed[i] = true
		}
		run.problems = append(run.problems, fmt.Errorf("partition %s.%s %v at %s: %w", p.part.Database, p.part.Table, p.part.Values, p.part.Location, err))
		r.logger.Error("partition not registered; its objects are reported as failed",
			"database", p.part.Database, "table", p.part.Table, "values", p.part.Values,
			"location", p.part.Location, "objects", len(p.objects), "code", code,
			"error", err.Error(), "fix", fixFor(code))
	}
}

func (r *Registrar) skip(run *run, reason SkipReason, obj Object) {
	run.result.Skipped[reason]++
	r.logger.Info("object skipped", "reason", string(reason), "bucket", obj.Bucket, "key", obj.Key)
}

// skipWithKeys logs a skip inside a route, showing the path the table expects.
func (r *Registrar) skipWithKeys(run *run, reason SkipReason, obj Object, route Route, keys []string) {
	run.result.Skipped[reason]++
	attrs := []any{"reason", string(reason), "bucket", obj.Bucket, "key", obj.Key,
		"database", route.Database, "table", route.Table}
	if reason == SkipNoPartitionPath {
		attrs = append(attrs, "expected", expectedPath(route, keys))
	}
	r.logger.Info("object skipped", attrs...)
}

func expectedPath(route Route, keys []string) string {
	var b strings.Builder
	b.WriteString(route.Prefix)
	for _, k := range keys {
		b.WriteString(k + "=<value>/")
	}
	b.WriteString("<file>")
	return b.String()
}

func (r *Registrar) remembers(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.known.contains(id)
}

func (r *Registrar) remember(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.known.add(id)
}

// partitionID identifies a partition of a table.
func partitionID(p Partition) string {
	return valuesID(tableRef{p.Database, p.Table}, p.Values)
}

// valuesID length-prefixes every part, so no value can make two partitions'
// ids collide whatever characters it holds.
func valuesID(ref tableRef, values []string) string {
	var b strings.Builder
	for _, s := range append([]string{ref.database, ref.table}, values...) {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	return b.String()
}
