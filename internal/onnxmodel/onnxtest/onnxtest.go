// Package onnxtest writes small ONNX models by hand for tests: models ONNX Runtime runs, with
// any input size, output layout and metadata, so that YOLO layouts, input sizes and class names
// can be tested without trained weights.
package onnxtest

import (
	"encoding/binary"
	"math"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/edgecam/edgecam/internal/onnxmodel"
)

// PB is a tiny protobuf writer.
type PB []byte

// Varint appends field num as a varint.
func (b PB) Varint(num int, v uint64) PB {
	b = protowire.AppendTag(b, protowire.Number(num), protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

// Bytes appends field num as a length-delimited payload.
func (b PB) Bytes(num int, payload []byte) PB {
	b = protowire.AppendTag(b, protowire.Number(num), protowire.BytesType)
	return protowire.AppendBytes(b, payload)
}

// Str appends field num as a string.
func (b PB) Str(num int, s string) PB { return b.Bytes(num, []byte(s)) }

// TensorValueInfo is a ValueInfoProto for a float tensor; a negative dim is symbolic.
func TensorValueInfo(name string, dims ...int64) []byte {
	var shape PB
	for _, d := range dims {
		var dim PB
		if d < 0 {
			dim = dim.Str(onnxmodel.FieldDimParam, "n")
		} else {
			dim = dim.Varint(onnxmodel.FieldDimValue, uint64(d))
		}
		shape = shape.Bytes(onnxmodel.FieldShapeDim, dim)
	}
	tensor := PB{}.Varint(onnxmodel.FieldTensorElemType, onnxmodel.Float).Bytes(onnxmodel.FieldTensorShape, shape)
	typ := PB{}.Bytes(onnxmodel.FieldTypeTensor, tensor)
	return PB{}.Str(onnxmodel.FieldValueInfoName, name).Bytes(onnxmodel.FieldValueInfoType, typ)
}

func model(graph PB, meta map[string]string) []byte {
	opset := PB{}.Str(1, "").Varint(2, 12)
	m := PB{}.Varint(onnxmodel.FieldModelIRVersion, 7).Str(2, "edgecam-test").Bytes(onnxmodel.FieldModelGraph, graph).Bytes(8, opset)
	for k, v := range meta {
		m = m.Bytes(onnxmodel.FieldModelMetadata, PB{}.Str(onnxmodel.FieldEntryKey, k).Str(onnxmodel.FieldEntryValue, v))
	}
	return m
}

// ReshapeModel is a runnable ONNX model: output0 = Reshape(images, outDims), with optional
// metadata. ONNX Runtime runs it, so it stands in for a detector whose output follows the input.
func ReshapeModel(inDims, outDims []int64, meta map[string]string) []byte {
	var shapeData PB
	for _, d := range outDims {
		shapeData = protowire.AppendVarint(shapeData, uint64(d))
	}
	shapeInit := PB{}.Varint(1, uint64(len(outDims))). // dims
								Varint(2, 7).        // data_type INT64
								Bytes(7, shapeData). // int64_data, packed
								Str(onnxmodel.FieldTensorName, "shape")
	node := PB{}.Str(1, "images").Str(1, "shape").Str(2, "output0").Str(3, "reshape").Str(4, "Reshape")
	graph := PB{}.Bytes(1, node).Str(2, "handmade").Bytes(onnxmodel.FieldGraphInitializer, shapeInit).
		Bytes(onnxmodel.FieldGraphInput, TensorValueInfo("images", inDims...)).
		Bytes(onnxmodel.FieldGraphOutput, TensorValueInfo("output0", outDims...))
	return model(graph, meta)
}

// ConstantModel is a runnable ONNX model whose output0 (shape outDims) is always out, whatever
// the image: a detector with planted detections. The image input is consumed (multiplied by 0
// and added) so that ONNX Runtime keeps it.
func ConstantModel(inDims, outDims []int64, out []float32, meta map[string]string) []byte {
	raw := make([]byte, 4*len(out))
	for i, v := range out {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	tensor := func(name string, dims []int64, raw []byte) PB {
		t := PB{}
		for _, d := range dims {
			t = t.Varint(1, uint64(d))
		}
		return t.Varint(2, onnxmodel.Float).Str(onnxmodel.FieldTensorName, name).Bytes(9, raw) // raw_data
	}
	zero := make([]byte, 4)
	// planted = const; sum = ReduceSum(images) (all axes, keepdims 0: a scalar); output0 = planted + sum*0
	reduce := PB{}.Str(1, "images").Str(2, "sum").Str(3, "reduce").Str(4, "ReduceSum").
		Bytes(5, PB{}.Str(1, "keepdims").Varint(3, 0).Varint(20, 2)) // AttributeProto i=0, type INT
	mul := PB{}.Str(1, "sum").Str(1, "zero").Str(2, "nothing").Str(3, "mul").Str(4, "Mul")
	add := PB{}.Str(1, "planted").Str(1, "nothing").Str(2, "output0").Str(3, "add").Str(4, "Add")
	graph := PB{}.Bytes(1, reduce).Bytes(1, mul).Bytes(1, add).Str(2, "planted").
		Bytes(onnxmodel.FieldGraphInitializer, tensor("planted", outDims, raw)).
		Bytes(onnxmodel.FieldGraphInitializer, tensor("zero", nil, zero)).
		Bytes(onnxmodel.FieldGraphInput, TensorValueInfo("images", inDims...)).
		Bytes(onnxmodel.FieldGraphOutput, TensorValueInfo("output0", outDims...))
	return model(graph, meta)
}

// Box is a detection planted in a YOLOv5-layout output, in network-input pixels.
type Box struct {
	CX, CY, W, H, Score float32
	Class               int
}

// YOLOv5Model is a YOLOv5-layout model (output [1, 3 x cells, 5+classes]) for a size x size
// input whose output always holds boxes, with names as its `names` metadata (nil: none).
func YOLOv5Model(size, classes int, names []string, boxes ...Box) []byte {
	cells := (size/8)*(size/8) + (size/16)*(size/16) + (size/32)*(size/32)
	rows, cols := 3*cells, 5+classes
	out := make([]float32, rows*cols)
	for i, b := range boxes {
		row := out[i*cols:]
		copy(row, []float32{b.CX, b.CY, b.W, b.H, 1})
		row[5+b.Class] = b.Score
	}
	var meta map[string]string
	if names != nil {
		s := "{"
		for i, n := range names {
			if i > 0 {
				s += ", "
			}
			s += strconv.Itoa(i) + ": '" + n + "'"
		}
		meta = map[string]string{"names": s + "}"}
	}
	return ConstantModel([]int64{1, 3, int64(size), int64(size)}, []int64{1, int64(rows), int64(cols)}, out, meta)
}
