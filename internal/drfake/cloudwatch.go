package drfake

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
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
// period with the requested statistic, like the service does.
type CloudWatch struct {
	base

	mu     sync.Mutex
	series map[string][]Point
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
	results := cbor.List{}
	for _, q := range queries {
		qm, _ := q.(cbor.Map)
		stat, _ := qm["MetricStat"].(cbor.Map)
		metricMap, _ := stat["Metric"].(cbor.Map)
		if stat == nil || metricMap == nil {
			return nil, fmt.Errorf("query %q: only MetricStat queries are served", cborString(qm["Id"]))
		}
		m := Metric{Namespace: cborString(metricMap["Namespace"]), Name: cborString(metricMap["MetricName"]), Dimensions: map[string]string{}}
		dims, _ := metricMap["Dimensions"].(cbor.List)
		for _, d := range dims {
			dm, _ := d.(cbor.Map)
			m.Dimensions[cborString(dm["Name"])] = cborString(dm["Value"])
		}
		period, err := cbor.AsInt64(stat["Period"])
		if err != nil || period <= 0 {
			return nil, fmt.Errorf("query %q: Period must be a positive number of seconds", cborString(qm["Id"]))
		}
		statName := cborString(stat["Stat"])
		c.mu.Lock()
		points := slices.Clone(c.series[m.key()])
		c.mu.Unlock()
		times, values, err := aggregate(points, start, end, time.Duration(period)*time.Second, statName)
		if err != nil {
			return nil, fmt.Errorf("query %q: %v", cborString(qm["Id"]), err)
		}
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
			"Id":         qm["Id"],
			"Label":      cbor.String(m.Name),
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
