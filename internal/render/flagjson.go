package render

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// The JSON of a feature-flags ConfigMap (spec.featureFlag) is decoded and
// re-encoded as data, never edited as text: an object of flags, each an
// object. Key order and every value promoter does not set are kept as
// written; only the whitespace is promoter's (two-space indent).

// jsonObject is a JSON object with its members in the order written.
type jsonObject []jsonMember

type jsonMember struct {
	Key   string
	Value json.RawMessage
}

// jsonError is a JSON document that does not decode, with the line and
// column of the problem inside the document.
type jsonError struct {
	Line, Column int
	Msg          string
}

func (e *jsonError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
	}
	return e.Msg
}

// position turns a byte offset of data into a 1-based line and column.
func position(data []byte, offset int64) (int, int) {
	if offset < 0 || offset > int64(len(data)) {
		offset = int64(len(data))
	}
	before := data[:offset]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(offset) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

// decodeObject decodes data, which must be exactly one JSON object. A key
// given twice is an error: which of the two an application reads is not
// promoter's to guess.
func decodeObject(data []byte) (jsonObject, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	fail := func(err error) error {
		off := dec.InputOffset()
		var se *json.SyntaxError
		msg := err.Error()
		if errors.As(err, &se) {
			off = se.Offset
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			msg = "unexpected end of JSON"
		}
		l, c := position(data, off)
		return &jsonError{Line: l, Column: c, Msg: msg}
	}
	t, err := dec.Token()
	if err != nil {
		return nil, fail(err)
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		l, c := position(data, dec.InputOffset())
		return nil, &jsonError{Line: l, Column: c, Msg: fmt.Sprintf("want a JSON object of flags, found %s", jsonKind(t))}
	}
	var obj jsonObject
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, fail(err)
		}
		key, _ := t.(string)
		if seen[key] {
			l, c := position(data, dec.InputOffset())
			return nil, &jsonError{Line: l, Column: c, Msg: fmt.Sprintf("key %q given twice", key)}
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fail(err)
		}
		obj = append(obj, jsonMember{Key: key, Value: raw})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, fail(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		l, c := position(data, dec.InputOffset())
		return nil, &jsonError{Line: l, Column: c, Msg: "more than one JSON value"}
	}
	return obj, nil
}

func jsonKind(t json.Token) string {
	switch v := t.(type) {
	case json.Delim:
		if v == '[' {
			return "an array"
		}
		return string(v)
	case string:
		return "a string"
	case float64, json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%v", t)
}

func (o jsonObject) get(key string) (json.RawMessage, bool) {
	for _, m := range o {
		if m.Key == key {
			return m.Value, true
		}
	}
	return nil, false
}

// set replaces key's value, or appends key when o has none.
func (o jsonObject) set(key string, v json.RawMessage) jsonObject {
	out := make(jsonObject, len(o), len(o)+1)
	copy(out, o)
	for i, m := range out {
		if m.Key == key {
			out[i].Value = v
			return out
		}
	}
	return append(out, jsonMember{Key: key, Value: v})
}

// MarshalJSON writes the members in order.
func (o jsonObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(m.Key)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(m.Value)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// encodeIndented writes v as JSON with a two-space indent and a final
// newline.
func encodeIndented(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// flagField is the flag field promoter keeps equal to the canary's weight.
const flagField = "rollout_percentage"

// flagDoc is a decoded flags document and the flag promoter sets in it.
type flagDoc struct {
	flags jsonObject
	flag  jsonObject
	name  string
}

// flagNotFoundError is a document without the named flag.
type flagNotFoundError struct {
	name  string
	flags []string
}

func (e *flagNotFoundError) Error() string {
	return fmt.Sprintf("has no flag %q (flags: %s)", e.name, listOrNone(e.flags))
}

// parseFlags decodes data and finds flag name in it; it checks that the
// flag is an object and that its rollout_percentage, when written, is a
// number from 0 to 100.
func parseFlags(data []byte, name string) (*flagDoc, error) {
	flags, err := decodeObject(data)
	if err != nil {
		return nil, err
	}
	raw, ok := flags.get(name)
	if !ok {
		keys := make([]string, len(flags))
		for i, m := range flags {
			keys[i] = m.Key
		}
		return nil, &flagNotFoundError{name: name, flags: keys}
	}
	flag, err := decodeObject(raw)
	if err != nil {
		var je *jsonError
		if errors.As(err, &je) {
			return nil, fmt.Errorf("flag %q: %s", name, je.Msg)
		}
		return nil, fmt.Errorf("flag %q: %w", name, err)
	}
	if v, ok := flag.get(flagField); ok {
		p, err := strconv.ParseFloat(string(v), 64)
		if err != nil || p < 0 || p > 100 {
			return nil, fmt.Errorf("flag %q: %s is %s, want a number from 0 to 100", name, flagField, v)
		}
	}
	return &flagDoc{flags: flags, flag: flag, name: name}, nil
}

// with returns the document with the flag's rollout_percentage set to p.
func (d *flagDoc) with(p int) ([]byte, error) {
	flag := d.flag.set(flagField, json.RawMessage(strconv.Itoa(p)))
	raw, err := json.Marshal(flag)
	if err != nil {
		return nil, err
	}
	return encodeIndented(d.flags.set(d.name, raw))
}

// percentage is the flag's rollout_percentage as written ("" when the
// flag has none).
func (d *flagDoc) percentage() string {
	v, _ := d.flag.get(flagField)
	return string(v)
}

// sameJSON reports whether a and b decode to the same value.
func sameJSON(a, b []byte) bool {
	var va, vb any
	da, db := json.NewDecoder(bytes.NewReader(a)), json.NewDecoder(bytes.NewReader(b))
	da.UseNumber()
	db.UseNumber()
	if da.Decode(&va) != nil || db.Decode(&vb) != nil {
		return false
	}
	ea, err1 := json.Marshal(va)
	eb, err2 := json.Marshal(vb)
	return err1 == nil && err2 == nil && bytes.Equal(ea, eb)
}
