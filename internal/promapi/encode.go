package promapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
)

// encodeSuccess writes a success envelope around a query result, with the
// warnings and infos PromQL annotated it with.
func encodeSuccess(v parser.Value, warnings, infos []string) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"status":"success","data":{"resultType":"`)
	b.WriteString(string(v.Type()))
	b.WriteString(`","result":`)
	if err := encodeValue(&b, v); err != nil {
		return nil, err
	}
	b.WriteByte('}')
	writeStrings(&b, "warnings", warnings)
	writeStrings(&b, "infos", infos)
	b.WriteByte('}')
	return b.Bytes(), nil
}

func writeStrings(b *bytes.Buffer, field string, list []string) {
	if len(list) == 0 {
		return
	}
	fmt.Fprintf(b, `,"%s":[`, field)
	for i, s := range list {
		if i > 0 {
			b.WriteByte(',')
		}
		writeString(b, s)
	}
	b.WriteByte(']')
}

func encodeValue(b *bytes.Buffer, v parser.Value) error {
	switch v := v.(type) {
	case promql.Vector:
		b.WriteByte('[')
		for i, s := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"metric":`)
			writeLabels(b, s.Metric)
			if s.H != nil {
				b.WriteString(`,"histogram":`)
				writeHistogramPoint(b, s.T, s.H)
			} else {
				b.WriteString(`,"value":`)
				writePoint(b, s.T, s.F)
			}
			b.WriteByte('}')
		}
		b.WriteByte(']')
	case promql.Matrix:
		b.WriteByte('[')
		for i, s := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"metric":`)
			writeLabels(b, s.Metric)
			if len(s.Floats) > 0 {
				b.WriteString(`,"values":[`)
				for j, p := range s.Floats {
					if j > 0 {
						b.WriteByte(',')
					}
					writePoint(b, p.T, p.F)
				}
				b.WriteByte(']')
			}
			if len(s.Histograms) > 0 {
				b.WriteString(`,"histograms":[`)
				for j, p := range s.Histograms {
					if j > 0 {
						b.WriteByte(',')
					}
					writeHistogramPoint(b, p.T, p.H)
				}
				b.WriteByte(']')
			}
			b.WriteByte('}')
		}
		b.WriteByte(']')
	case promql.Scalar:
		writePoint(b, v.T, v.V)
	case promql.String:
		b.WriteByte('[')
		writeTimestamp(b, v.T)
		b.WriteByte(',')
		writeString(b, v.V)
		b.WriteByte(']')
	default:
		return fmt.Errorf("cannot encode a result of type %T", v)
	}
	return nil
}

// writeLabels writes a label set as a JSON object, in label order.
func writeLabels(b *bytes.Buffer, ls labels.Labels) {
	b.WriteByte('{')
	first := true
	ls.Range(func(l labels.Label) {
		if !first {
			b.WriteByte(',')
		}
		first = false
		writeString(b, l.Name)
		b.WriteByte(':')
		writeString(b, l.Value)
	})
	b.WriteByte('}')
}

// writePoint writes [<unix seconds>,"<value>"].
func writePoint(b *bytes.Buffer, t int64, v float64) {
	b.WriteByte('[')
	writeTimestamp(b, t)
	b.WriteByte(',')
	writeFloat(b, v)
	b.WriteByte(']')
}

// writeTimestamp writes milliseconds t as seconds with up to three
// decimals, without trailing zeros: 1700000000, 1700000000.5.
func writeTimestamp(b *bytes.Buffer, t int64) {
	b.WriteString(strconv.FormatFloat(float64(t)/1000, 'f', -1, 64))
}

// writeFloat writes v as a JSON string the way Prometheus formats sample
// values: shortest decimal, exponent form below 1e-6 and from 1e21, and
// "NaN", "+Inf", "-Inf".
func writeFloat(b *bytes.Buffer, v float64) {
	b.WriteByte('"')
	switch {
	case math.IsNaN(v):
		b.WriteString("NaN")
	case math.IsInf(v, 1):
		b.WriteString("+Inf")
	case math.IsInf(v, -1):
		b.WriteString("-Inf")
	default:
		format := byte('f')
		if abs := math.Abs(v); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
			format = 'e'
		}
		b.WriteString(strconv.FormatFloat(v, format, -1, 64))
	}
	b.WriteByte('"')
}

// writeHistogramPoint writes [<unix seconds>,{"count":..,"sum":..,"buckets":[..]}].
// Each bucket is [boundaries, "lower", "upper", "count"], boundaries being
// 0 (lower open, upper closed), 1 (lower closed, upper open), 2 (both open)
// or 3 (both closed); empty buckets are left out.
func writeHistogramPoint(b *bytes.Buffer, t int64, h *histogram.FloatHistogram) {
	b.WriteByte('[')
	writeTimestamp(b, t)
	b.WriteString(`,{"count":`)
	writeFloat(b, h.Count)
	b.WriteString(`,"sum":`)
	writeFloat(b, h.Sum)
	n := 0
	it := h.AllBucketIterator()
	for it.Next() {
		bk := it.At()
		if bk.Count == 0 {
			continue
		}
		if n == 0 {
			b.WriteString(`,"buckets":[`)
		} else {
			b.WriteByte(',')
		}
		n++
		boundaries := 2
		switch {
		case bk.LowerInclusive && bk.UpperInclusive:
			boundaries = 3
		case bk.LowerInclusive:
			boundaries = 1
		case bk.UpperInclusive:
			boundaries = 0
		}
		fmt.Fprintf(b, "[%d,", boundaries)
		writeFloat(b, bk.Lower)
		b.WriteByte(',')
		writeFloat(b, bk.Upper)
		b.WriteByte(',')
		writeFloat(b, bk.Count)
		b.WriteByte(']')
	}
	if n > 0 {
		b.WriteByte(']')
	}
	b.WriteString("}]")
}

// writeString writes s as a JSON string.
func writeString(b *bytes.Buffer, s string) {
	q, _ := json.Marshal(s) // a string always marshals
	b.Write(q)
}

// errorBody is Prometheus's error envelope.
type errorBody struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
}

func encodeError(typ ErrorType, msg string) []byte {
	body, _ := json.Marshal(errorBody{Status: "error", ErrorType: string(typ), Error: msg}) // plain strings always marshal
	return body
}
