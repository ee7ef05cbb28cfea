package drfake

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"

	"github.com/dr-analytics/drplan/internal/awsfake"
)

// Metric names one CloudWatch metric series.
type Metric struct {
	Namespace, Name string
	Dimensions      map[string]string
}

func (m Metric) key() string {
	dims := make([]string, 0, len(m.Dimensions))
	for k, v := range m.Dimensions {
		dims = append(dims, k+"="+v)
	}
	sort.Strings(dims)
	return m.Namespace + "|" + m.Name + "|" + strings.Join(dims, ",")
}

// Point is one raw data point of a series.
type Point struct {
	Time  time.Time
	Value float64
}

// CloudWatch fakes one region's GetMetricData in the protocol the SDK uses
// for CloudWatch now: smithy rpcv2Cbor (POST
// /service/GraniteServiceVersion20100801/operation/GetMetricData, CBOR
// bodies, timestamps as tag-1 epoch seconds). Raw points are aggregated per
// period with the requested statistic, like the service does; a period
// without points has no datapoint (GetMetricData returns only periods with
// data). Of metric math it serves FILL(id, value), which fills every
// missing period of the referenced series between StartTime and EndTime
// ("Metric math syntax and functions", CloudWatch User Guide). Newer
// points than the publication lag are withheld.
type CloudWatch struct {
	base

	mu     sync.Mutex
	series map[string][]Point
	clock  *Clock
	lag    time.Duration
}

// NewCloudWatch starts a fake; it stops when the test ends.
func NewCloudWatch(tb testing.TB) *CloudWatch {
	c := &CloudWatch{series: map[string][]Point{}}
	c.url = awsfake.Serve(tb, awsfake.WithBody(c.serve)).URL
	return c
}

// Put adds raw data points to a series.
func (c *CloudWatch) Put(m Metric, points ...Point) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.series[m.key()] = append(c.series[m.key()], points...)
}

// SetPublicationLag withholds the points of the last lag before the
// clock's now: CloudWatch publishes a service's datapoints a few minutes
// after the period they describe, so the newest minutes read as missing.
func (c *CloudWatch) SetPublicationLag(clock *Clock, lag time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clock, c.lag = clock, lag
}

// published is what a reader sees of points now.
func (c *CloudWatch) published(points []Point) []Point {
	if c.clock == nil {
		return slices.Clone(points)
	}
	cutoff := c.clock.Now().Add(-c.lag)
	var out []Point
	for _, p := range points {
		if !p.Time.After(cutoff) {
			out = append(out, p)
		}
	}
	return out
}

// Reset removes every data point.
func (c *CloudWatch) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.series)
}

const cborPathPrefix = "/service/GraniteServiceVersion20100801/operation/"

func (c *CloudWatch) serve(w http.ResponseWriter, r *http.Request, body []byte) {
	op, ok := strings.CutPrefix(r.URL.Path, cborPathPrefix)
	if !ok || r.Method != http.MethodPost || r.Header.Get("Smithy-Protocol") != "rpc-v2-cbor" {
		op = "Unknown"
	}
	if f := c.recorder.Record(r, op, body); f != nil {
		writeCBORError(w, f.Status, f.Code, f.Message)
		return
	}
	if op != "GetMetricData" {
		writeCBORError(w, http.StatusBadRequest, "InvalidAction", "drfake.CloudWatch does not serve "+op)
		return
	}
	out, err := c.getMetricData(body)
	if err != nil {
		writeCBORError(w, http.StatusBadRequest, "InvalidParameterValue", err.Error())
		return
	}
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	_, _ = w.Write(cbor.Encode(out))
}

func writeCBORError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	w.WriteHeader(status)
	_, _ = w.Write(cbor.Encode(cbor.Map{"__type": cbor.String(code), "message": cbor.String(message)}))
}

func (c *CloudWatch) getMetricData(body []byte) (cbor.Value, error) {
	v, err := cbor.Decode(body)
	if err != nil {
		return nil, fmt.Errorf("request body is not CBOR: %v", err)
	}
	in, ok := v.(cbor.Map)
	if !ok {
		return nil, fmt.Errorf("request body is %T, not a map", v)
	}
	start, err := cbor.AsTime(in["StartTime"])
	if err != nil {
		return nil, fmt.Errorf("StartTime: %v", err)
	}
	end, err := cbor.AsTime(in["EndTime"])
	if err != nil {
		return nil, fmt.Errorf("EndTime: %v", err)
	}
	ascending := cborString(in["ScanBy"]) == "TimestampAscending"
	queries, _ := in["MetricDataQueries"].(cbor.List)
	// Metric queries first, then expressions over them, as GetMetricData
	// evaluates them; ReturnData false keeps a query out of the answer.
	type series struct {
		label        string
		times        []time.Time
		values       []float64
		period       time.Duration
		returnData   bool
		id           cbor.Value
		isExpression bool
	}
	byID := map[string]*series{}
	var order []*series
	for _, q := range queries {
		qm, _ := q.(cbor.Map)
		id := cborString(qm["Id"])
		s := &series{id: qm["Id"], returnData: true}
		if rd, ok := qm["ReturnData"].(cbor.Bool); ok {
			s.returnData = bool(rd)
		}
		byID[id] = s
		order = append(order, s)
		if expr := cborString(qm["Expression"]); expr != "" {
			s.isExpression, s.label = true, expr
			continue
		}
		stat, _ := qm["MetricStat"].(cbor.Map)
		metricMap, _ := stat["Metric"].(cbor.Map)
		if stat == nil || metricMap == nil {
			return nil, fmt.Errorf("query %q: a query needs MetricStat or Expression", id)
		}
		m := Metric{Namespace: cborString(metricMap["Namespace"]), Name: cborString(metricMap["MetricName"]), Dimensions: map[string]string{}}
		dims, _ := metricMap["Dimensions"].(cbor.List)
		for _, d := range dims {
			dm, _ := d.(cbor.Map)
			m.Dimensions[cborString(dm["Name"])] = cborString(dm["Value"])
		}
		period, err := cbor.AsInt64(stat["Period"])
		if err != nil || period <= 0 {
			return nil, fmt.Errorf("query %q: Period must be a positive number of seconds", id)
		}
		c.mu.Lock()
		points := c.published(c.series[m.key()])
		c.mu.Unlock()
		s.label, s.period = m.Name, time.Duration(period)*time.Second
		s.times, s.values, err = aggregate(points, start, end, s.period, cborString(stat["Stat"]))
		if err != nil {
			return nil, fmt.Errorf("query %q: %v", id, err)
		}
	}
	for _, s := range order {
		if !s.isExpression {
			continue
		}
		ref, fill, err := parseFill(s.label)
		if err != nil {
			return nil, fmt.Errorf("query %q: %v", cborString(s.id), err)
		}
		src, ok := byID[ref]
		if !ok || src.isExpression {
			return nil, fmt.Errorf("query %q: %s does not name a metric query of this request", cborString(s.id), ref)
		}
		s.times, s.values = fillSeries(src.times, src.values, start, end, src.period, fill)
	}
	results := cbor.List{}
	for _, s := range order {
		if !s.returnData {
			continue
		}
		times, values := slices.Clone(s.times), slices.Clone(s.values)
		if !ascending {
			slices.Reverse(times)
			slices.Reverse(values)
		}
		ts, vs := cbor.List{}, cbor.List{}
		for i := range times {
			ts = append(ts, &cbor.Tag{ID: 1, Value: cbor.Float64(float64(times[i].Unix()))})
			vs = append(vs, cbor.Float64(values[i]))
		}
		results = append(results, cbor.Map{
			"Id":         s.id,
			"Label":      cbor.String(s.label),
			"Timestamps": ts,
			"Values":     vs,
			"StatusCode": cbor.String("Complete"),
		})
	}
	return cbor.Map{"MetricDataResults": results}, nil
}

// aggregate buckets points in [start, end) by period boundaries and applies
// stat to each bucket, in ascending time order.
func aggregate(points []Point, start, end time.Time, period time.Duration, stat string) ([]time.Time, []float64, error) {
	buckets := map[time.Time][]float64{}
	for _, p := range points {
		if p.Time.Before(start) || !p.Time.Before(end) {
			continue
		}
		b := p.Time.Truncate(period)
		buckets[b] = append(buckets[b], p.Value)
	}
	var times []time.Time
	for t := range buckets {
		times = append(times, t)
	}
	slices.SortFunc(times, time.Time.Compare)
	values := make([]float64, 0, len(times))
	for _, t := range times {
		vs := buckets[t]
		var v float64
		switch stat {
		case "Sum":
			for _, x := range vs {
				v += x
			}
		case "Maximum":
			v = slices.Max(vs)
		case "Minimum":
			v = slices.Min(vs)
		case "Average":
			for _, x := range vs {
				v += x
			}
			v /= float64(len(vs))
		case "SampleCount":
			v = float64(len(vs))
		default:
			return nil, nil, fmt.Errorf("statistic %q is not served (Sum, Maximum, Minimum, Average, SampleCount)", stat)
		}
		values = append(values, v)
	}
	return times, values, nil
}

func cborString(v cbor.Value) string {
	if s, ok := v.(cbor.String); ok {
		return string(s)
	}
	return ""
}

// parseFill reads "FILL(id, number)", the one metric math function served.
func parseFill(expr string) (ref string, value float64, err error) {
	inner, ok := strings.CutPrefix(strings.TrimSpace(expr), "FILL(")
	inner, ok2 := strings.CutSuffix(inner, ")")
	args := strings.Split(inner, ",")
	if !ok || !ok2 || len(args) != 2 {
		return "", 0, fmt.Errorf("expression %q is not served (only FILL(id, number))", expr)
	}
	value, err = strconv.ParseFloat(strings.TrimSpace(args[1]), 64)
	if err != nil {
		return "", 0, fmt.Errorf("expression %q: FILL's value must be a number here", expr)
	}
	return strings.TrimSpace(args[0]), value, nil
}

// fillSeries puts value in every period boundary in [start, end) that has
// no datapoint.
func fillSeries(times []time.Time, values []float64, start, end time.Time, period time.Duration, value float64) ([]time.Time, []float64) {
	have := map[int64]float64{}
	for i, t := range times {
		have[t.Unix()] = values[i]
	}
	var outT []time.Time
	var outV []float64
	first := start.Truncate(period)
	if first.Before(start) {
		first = first.Add(period)
	}
	for t := first; t.Before(end); t = t.Add(period) {
		v, ok := have[t.Unix()]
		if !ok {
			v = value
		}
		outT, outV = append(outT, t), append(outV, v)
	}
	return outT, outV
}
