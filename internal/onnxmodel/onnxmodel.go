// Package onnxmodel reads what edgecam needs to know about an ONNX model before running it (its
// input and output names, element types and shapes, its metadata), works out which YOLO output
// layout it has and how many classes it predicts, and reads the class names Ultralytics stores in
// the `names` metadata.
//
// The ONNX file is a protobuf ModelProto, read field by field with protowire (no generated ONNX
// types: the few fields needed are numbered below), so a bad file
// gets a clear error before ONNX Runtime sees it, no runtime session is created just to ask the
// model what it looks like, and the configuration (which has no cgo) can learn the model's
// classes to check the labels it names.
package onnxmodel

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// ONNX field numbers (onnx/onnx.proto).
const (
	FieldModelIRVersion = 1
	FieldModelGraph     = 7
	FieldModelMetadata  = 14

	FieldGraphNode        = 1
	FieldGraphInitializer = 5
	FieldGraphInput       = 11
	FieldGraphOutput      = 12

	FieldTensorName = 8

	FieldNodeOpType = 4
	FieldNodeDomain = 7

	FieldValueInfoName = 1
	FieldValueInfoType = 2

	FieldTypeTensor     = 1
	FieldTensorElemType = 1
	FieldTensorShape    = 2
	FieldShapeDim       = 1
	FieldDimValue       = 1
	FieldDimParam       = 2

	FieldEntryKey   = 1
	FieldEntryValue = 2
)

// Float is TensorProto.DataType FLOAT.
const Float = 1

// ValueInfo describes one graph input or output. Unknown (symbolic) dimensions are -1.
type ValueInfo struct {
	Name     string
	ElemType int64 // TensorProto.DataType, 0 if not a tensor
	Dims     []int64
}

// ShapeString writes the shape as [1,3,640,640], "?" for unknown dimensions.
func (v ValueInfo) ShapeString() string { return shapeString(v.Dims) }

func shapeString(dims []int64) string {
	parts := make([]string, len(dims))
	for i, d := range dims {
		if d < 0 {
			parts[i] = "?"
		} else {
			parts[i] = strconv.FormatInt(d, 10)
		}
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// Info is what edgecam needs to know about an ONNX model before running it.
type Info struct {
	IRVersion int64
	Inputs    []ValueInfo // graph inputs that are not initializers
	Outputs   []ValueInfo
	Metadata  map[string]string
	// Ops counts the graph's nodes by operator ("Conv", "ConvInteger", "com.microsoft.QLinearAdd"
	// for another domain's).
	Ops map[string]int
}

// DynamicInt8 reports whether the model is dynamically quantized: ConvInteger or MatMulInteger
// fed by DynamicQuantizeLinear, which ONNX Runtime's CPU provider has no fast kernels for
// (docs/models.md).
func (m *Info) DynamicInt8() bool {
	return m.Ops["DynamicQuantizeLinear"] > 0 && m.Ops["ConvInteger"]+m.Ops["MatMulInteger"] > 0
}

var (
	errNotONNX   = errors.New("not a valid ONNX model")
	errTruncated = errors.New("truncated")
)

// ErrNotONNX is wrapped by Parse's errors for data that is not an ONNX model.
var ErrNotONNX = errNotONNX

// Parse reads an ONNX ModelProto.
func Parse(data []byte) (*Info, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: the file is empty", errNotONNX)
	}
	m := &Info{Metadata: map[string]string{}, Ops: map[string]int{}}
	var graph []byte
	err := walkFields(data, func(num int, wire int, v uint64, b []byte) error {
		switch {
		case num == FieldModelIRVersion && wire == wireVarint:
			m.IRVersion = int64(v)
		case num == FieldModelGraph && wire == wireBytes:
			graph = b
		case num == FieldModelMetadata && wire == wireBytes:
			var k, val string
			if err := walkFields(b, func(num, wire int, _ uint64, b []byte) error {
				if wire == wireBytes {
					switch num {
					case FieldEntryKey:
						k = string(b)
					case FieldEntryValue:
						val = string(b)
					}
				}
				return nil
			}); err != nil {
				return err
			}
			m.Metadata[k] = val
		}
		return nil
	})
	if errors.Is(err, errTruncated) {
		return nil, fmt.Errorf("%w: the file is truncated (a field runs past its end)", errNotONNX)
	}
	if err != nil {
		if looksLikeText(data) {
			return nil, fmt.Errorf("%w: the file is text, not an ONNX protobuf", errNotONNX)
		}
		return nil, fmt.Errorf("%w: not protobuf data (%v)", errNotONNX, err)
	}
	if m.IRVersion <= 0 || graph == nil {
		return nil, fmt.Errorf("%w: no IR version or graph in the file", errNotONNX)
	}
	initializers := map[string]bool{}
	var inputs []ValueInfo
	err = walkFields(graph, func(num int, wire int, _ uint64, b []byte) error {
		if wire != wireBytes {
			return nil
		}
		switch num {
		case FieldGraphNode:
			var op, domain string
			if err := walkFields(b, func(num, wire int, _ uint64, b []byte) error {
				if wire == wireBytes && num == FieldNodeOpType {
					op = string(b)
				} else if wire == wireBytes && num == FieldNodeDomain {
					domain = string(b)
				}
				return nil
			}); err != nil {
				return err
			}
			if domain != "" && domain != "ai.onnx" {
				op = domain + "." + op
			}
			m.Ops[op]++
		case FieldGraphInitializer:
			return walkFields(b, func(num, wire int, _ uint64, b []byte) error {
				if num == FieldTensorName && wire == wireBytes {
					initializers[string(b)] = true
				}
				return nil
			})
		case FieldGraphInput, FieldGraphOutput:
			vi, err := parseValueInfo(b)
			if err != nil {
				return err
			}
			if num == FieldGraphInput {
				inputs = append(inputs, vi)
			} else {
				m.Outputs = append(m.Outputs, vi)
			}
		}
		return nil
	})
	if errors.Is(err, errTruncated) {
		return nil, fmt.Errorf("%w: the file is truncated (a field runs past its end)", errNotONNX)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: graph: %v", errNotONNX, err)
	}
	for _, in := range inputs {
		if !initializers[in.Name] {
			m.Inputs = append(m.Inputs, in)
		}
	}
	if len(m.Inputs) == 0 || len(m.Outputs) == 0 {
		return nil, fmt.Errorf("%w: the graph has %d inputs and %d outputs", errNotONNX, len(m.Inputs), len(m.Outputs))
	}
	return m, nil
}

// looksLikeText reports whether the start of data is printable UTF-8 text.
func looksLikeText(data []byte) bool {
	head := data[:min(len(data), 512)]
	if !utf8.Valid(head) && !utf8.Valid(head[:max(0, len(head)-3)]) {
		return false
	}
	for _, r := range string(head) {
		if r < 0x20 && r != '\n' && r != '\r' && r != '\t' || r == utf8.RuneError {
			return false
		}
	}
	return true
}

func parseValueInfo(data []byte) (ValueInfo, error) {
	var vi ValueInfo
	err := walkFields(data, func(num, wire int, _ uint64, b []byte) error {
		if wire != wireBytes {
			return nil
		}
		switch num {
		case FieldValueInfoName:
			vi.Name = string(b)
		case FieldValueInfoType:
			return walkFields(b, func(num, wire int, _ uint64, b []byte) error {
				if num != FieldTypeTensor || wire != wireBytes {
					return nil
				}
				return walkFields(b, func(num, wire int, v uint64, b []byte) error {
					switch {
					case num == FieldTensorElemType && wire == wireVarint:
						vi.ElemType = int64(v)
					case num == FieldTensorShape && wire == wireBytes:
						vi.Dims = []int64{}
						return walkFields(b, func(num, wire int, _ uint64, b []byte) error {
							if num != FieldShapeDim || wire != wireBytes {
								return nil
							}
							dim := int64(-1)
							err := walkFields(b, func(num, wire int, v uint64, _ []byte) error {
								if num == FieldDimValue && wire == wireVarint && int64(v) > 0 {
									dim = int64(v)
								}
								return nil
							})
							vi.Dims = append(vi.Dims, dim)
							return err
						})
					}
					return nil
				})
			})
		}
		return nil
	})
	return vi, err
}

// Protobuf wire types.
const (
	wireVarint = int(protowire.VarintType)
	wireBytes  = int(protowire.BytesType)
)

// Wire types for writers of test models (package onnxtest).
const (
	WireVarint = wireVarint
	WireBytes  = wireBytes
)

// walkFields calls fn for each varint and length-delimited field of the protobuf message in
// data: its number, wire type, and the value (varint) or the payload (length-delimited). Other
// fields (fixed-width, groups) are skipped. protowire does the wire format: it bounds every
// length by the data left and rejects overlong varints and field number 0.
func walkFields(data []byte, fn func(num, wire int, v uint64, b []byte) error) error {
	for len(data) > 0 {
		num, typ, n := protowire.ConsumeTag(data)
		if n < 0 {
			return wireError(n)
		}
		data = data[n:]
		var v uint64
		var b []byte
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(data)
		case protowire.BytesType:
			b, n = protowire.ConsumeBytes(data)
		default:
			n = protowire.ConsumeFieldValue(num, typ, data)
		}
		if n < 0 {
			return wireError(n)
		}
		data = data[n:]
		if typ != protowire.VarintType && typ != protowire.BytesType {
			continue
		}
		if err := fn(int(num), int(typ), v, b); err != nil {
			return err
		}
	}
	return nil
}

// wireError is protowire's error for a negative length n, errTruncated when the data ends
// inside a field.
func wireError(n int) error {
	err := protowire.ParseError(n)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errTruncated
	}
	return err
}

// ParseNames reads the class names an Ultralytics export stores in the `names` metadata: a
// Python dict literal such as {0: 'person', 1: 'bicycle'}. A JSON object or a Python/JSON list
// of strings is accepted too. The keys must cover 0..n-1.
func ParseNames(s string) ([]string, error) {
	p := &litParser{s: s}
	p.space()
	open := p.next()
	var close byte
	switch open {
	case '{':
		close = '}'
	case '[':
		close = ']'
	default:
		return nil, fmt.Errorf("want a dict or list, found %q", open)
	}
	byIndex := map[int]string{}
	for i := 0; ; i++ {
		p.space()
		if p.peek() == close {
			p.next()
			break
		}
		key := i
		if open == '{' {
			k, err := p.key()
			if err != nil {
				return nil, err
			}
			key = k
			p.space()
			if c := p.next(); c != ':' {
				return nil, fmt.Errorf("want ':' after key %d", k)
			}
			p.space()
		}
		name, err := p.str()
		if err != nil {
			return nil, err
		}
		if key < 0 || key > 100000 {
			return nil, fmt.Errorf("class index %d out of range", key)
		}
		if _, dup := byIndex[key]; dup {
			return nil, fmt.Errorf("class index %d appears twice", key)
		}
		byIndex[key] = name
		p.space()
		switch p.peek() {
		case ',':
			p.next()
		case close:
		default:
			return nil, fmt.Errorf("want ',' or %q at offset %d", close, p.i)
		}
	}
	p.space()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("unexpected text after the closing %q", close)
	}
	if len(byIndex) == 0 {
		return nil, errors.New("no names")
	}
	names := make([]string, len(byIndex))
	for k, v := range byIndex {
		if k >= len(names) {
			return nil, fmt.Errorf("class indexes are not 0..%d (found %d)", len(names)-1, k)
		}
		names[k] = v
	}
	return names, nil
}

type litParser struct {
	s string
	i int
}

func (p *litParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *litParser) next() byte {
	c := p.peek()
	if p.i < len(p.s) {
		p.i++
	}
	return c
}

func (p *litParser) space() {
	for p.i < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.i]) >= 0 {
		p.i++
	}
}

// key reads an integer key, bare (Python) or quoted (JSON).
func (p *litParser) key() (int, error) {
	if c := p.peek(); c == '\'' || c == '"' {
		s, err := p.str()
		if err != nil {
			return 0, err
		}
		k, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return 0, fmt.Errorf("key %q is not a class index", s)
		}
		return k, nil
	}
	start := p.i
	for p.i < len(p.s) && (p.s[p.i] >= '0' && p.s[p.i] <= '9' || p.s[p.i] == '-') {
		p.i++
	}
	k, err := strconv.Atoi(p.s[start:p.i])
	if err != nil {
		return 0, fmt.Errorf("want a class index at offset %d", start)
	}
	return k, nil
}

// str reads a single- or double-quoted string with backslash escapes.
func (p *litParser) str() (string, error) {
	q := p.next()
	if q != '\'' && q != '"' {
		return "", fmt.Errorf("want a quoted name at offset %d", p.i-1)
	}
	var b strings.Builder
	for {
		if p.i >= len(p.s) {
			return "", errors.New("unterminated string")
		}
		c := p.next()
		switch c {
		case q:
			return b.String(), nil
		case '\\':
			if p.i >= len(p.s) {
				return "", errors.New("unterminated string")
			}
			e := p.next()
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			default:
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
		}
	}
}
