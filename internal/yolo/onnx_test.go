package yolo

import (
	"encoding/binary"
	"reflect"
	"strings"
	"testing"
)

// A tiny protobuf writer for hand-made ONNX models.
type pb []byte

func (b pb) varint(num int, v uint64) pb {
	b = binary.AppendUvarint(b, uint64(num)<<3|wireVarint)
	return binary.AppendUvarint(b, v)
}

func (b pb) bytes(num int, payload []byte) pb {
	b = binary.AppendUvarint(b, uint64(num)<<3|wireBytes)
	b = binary.AppendUvarint(b, uint64(len(payload)))
	return append(b, payload...)
}

func (b pb) str(num int, s string) pb { return b.bytes(num, []byte(s)) }

// tensorValueInfo is a ValueInfoProto for a float tensor; a negative dim is symbolic.
func tensorValueInfo(name string, dims ...int64) []byte {
	var shape pb
	for _, d := range dims {
		var dim pb
		if d < 0 {
			dim = dim.str(fDimParam, "n")
		} else {
			dim = dim.varint(fDimValue, uint64(d))
		}
		shape = shape.bytes(fShapeDim, dim)
	}
	tensor := pb{}.varint(fTensorElemType, onnxFloat).bytes(fTensorShape, shape)
	typ := pb{}.bytes(fTypeTensor, tensor)
	return pb{}.str(fValueInfoName, name).bytes(fValueInfoType, typ)
}

// reshapeModel is a runnable ONNX model: output = Reshape(images, outDims), with optional
// metadata. ONNX Runtime runs it, so it stands in for a detector with any output layout.
func reshapeModel(inDims, outDims []int64, meta map[string]string) []byte {
	var shapeData pb
	for _, d := range outDims {
		shapeData = binary.AppendUvarint(shapeData, uint64(d))
	}
	shapeInit := pb{}.varint(1, uint64(len(outDims))). // dims
								varint(2, 7).        // data_type INT64
								bytes(7, shapeData). // int64_data, packed
								str(fTensorName, "shape")
	node := pb{}.str(1, "images").str(1, "shape").str(2, "output0").str(3, "reshape").str(4, "Reshape")
	graph := pb{}.bytes(1, node).str(2, "handmade").bytes(fGraphInitializer, shapeInit).
		bytes(fGraphInput, tensorValueInfo("images", inDims...)).
		bytes(fGraphOutput, tensorValueInfo("output0", outDims...))
	opset := pb{}.str(1, "").varint(2, 12)
	m := pb{}.varint(fModelIRVersion, 7).str(2, "edgecam-test").bytes(fModelGraph, graph).bytes(8, opset)
	for k, v := range meta {
		m = m.bytes(fModelMetadata, pb{}.str(fEntryKey, k).str(fEntryValue, v))
	}
	return m
}

func TestParseModel(t *testing.T) {
	data := reshapeModel([]int64{-1, 3, 32, 32}, []int64{1, 512, 6}, map[string]string{"names": "{0: 'widget'}"})
	m, err := parseModel(data)
	if err != nil {
		t.Fatal(err)
	}
	want := &modelInfo{
		IRVersion: 7,
		Inputs:    []valueInfo{{Name: "images", ElemType: onnxFloat, Dims: []int64{-1, 3, 32, 32}}},
		Outputs:   []valueInfo{{Name: "output0", ElemType: onnxFloat, Dims: []int64{1, 512, 6}}},
		Metadata:  map[string]string{"names": "{0: 'widget'}"},
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("got %+v\nwant %+v", m, want)
	}
}

func TestParseModelRejects(t *testing.T) {
	good := reshapeModel([]int64{1, 3, 32, 32}, []int64{1, 512, 6}, nil)
	for name, data := range map[string][]byte{
		"empty":     nil,
		"text":      []byte("hello, this is not a model\n"),
		"truncated": good[:len(good)-10],
		"jpeg":      {0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F'},
		"no graph":  pb{}.varint(fModelIRVersion, 7),
	} {
		if _, err := parseModel(data); err == nil || !strings.Contains(err.Error(), "not a valid ONNX model") {
			t.Errorf("%s: err = %v, want not a valid ONNX model", name, err)
		}
	}
}

func TestModelIO(t *testing.T) {
	for _, tc := range []struct {
		in, out []int64
		err     string
	}{
		{[]int64{1, 3, 640, 640}, []int64{1, 25200, 85}, ""},
		{[]int64{-1, 3, 320, 256}, []int64{-1, 100, 6}, ""},
		{[]int64{1, 3, 32, 32}, []int64{1, 3, 32, 32}, `output "output0" is float32 [1,3,32,32], want the YOLOv5 layout float32 [1,N,5+classes]`},
		{[]int64{1, 3, 32, 32}, []int64{1, 8400, 5}, `output "output0" is float32 [1,8400,5]`},
		{[]int64{1, 3, 32, 32}, []int64{1, -1, 85}, `output "output0" is float32 [1,?,85]`},
		{[]int64{1, 32, 32, 3}, []int64{1, 512, 6}, `input "images" is float32 [1,32,32,3], want float32 [1,3,H,W]`},
		{[]int64{1, 3, -1, -1}, []int64{1, 512, 6}, `input "images" is float32 [1,3,?,?]`},
	} {
		m, err := parseModel(reshapeModel(tc.in, tc.out, nil))
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = modelIO(m)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("in %v out %v: err = %v, want %q", tc.in, tc.out, err, tc.err)
		}
	}
}

func TestParseNames(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"{0: 'person', 1: 'bicycle'}", []string{"person", "bicycle"}},
		{"{1: 'b', 0: 'a',}", []string{"a", "b"}},
		{` { "0" : "traffic light" , "1": "it's" } `, []string{"traffic light", "it's"}},
		{`{0: 'it\'s', 1: "say \"hi\""}`, []string{"it's", `say "hi"`}},
		{"['a', 'b', \"c\"]", []string{"a", "b", "c"}},
	} {
		got, err := parseNames(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseNames(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "{}", "person", "{0: 'a', 2: 'c'}", "{0: 'a', 0: 'b'}", "{0: 'a'", "{0: a}", "{0 'a'}", "{x: 'a'}", "{0: 'a'} junk", "{-1: 'a'}"} {
		if got, err := parseNames(bad); err == nil {
			t.Errorf("parseNames(%q) = %q, want an error", bad, got)
		}
	}
}

func FuzzParseNames(f *testing.F) {
	f.Add("{0: 'person', 1: 'bicycle'}")
	f.Add(`["a", "b"]`)
	f.Fuzz(func(t *testing.T, s string) {
		names, err := parseNames(s)
		if err == nil && len(names) == 0 {
			t.Fatal("no error and no names")
		}
	})
}

func FuzzParseModel(f *testing.F) {
	f.Add(reshapeModel([]int64{1, 3, 32, 32}, []int64{1, 512, 6}, map[string]string{"names": "{0: 'x'}"}))
	f.Add([]byte("not a model"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseModel(data)
		if err == nil {
			modelIO(m)
		}
	})
}
