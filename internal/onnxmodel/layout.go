package onnxmodel

import (
	"fmt"
	"strconv"
)

// Layout is how a YOLO model lays out its detections in its output tensor.
type Layout int

const (
	// YOLOv5 is [1, N, 5+classes]: per row cx, cy, w, h, objectness, class scores (also YOLOv7).
	YOLOv5 Layout = iota
	// YOLOv8 is [1, 4+classes, N]: per column cx, cy, w, h, class scores; no objectness (also
	// YOLOv9, YOLO11).
	YOLOv8
	// EndToEnd is [1, N, 6]: x1, y1, x2, y2, score, class, after the model's own NMS.
	EndToEnd
)

func (l Layout) String() string {
	switch l {
	case YOLOv8:
		return "YOLOv8 [1,4+classes,N]"
	case EndToEnd:
		return "end-to-end [1,N,6]"
	}
	return "YOLOv5 [1,N,5+classes]"
}

// Spec is a YOLO model's interface as edgecam runs it.
type Spec struct {
	Input, Output ValueInfo // the image input [1,3,H,W] and the detection output
	InW, InH      int       // input size in pixels
	Layout        Layout
	// Dims are the output's two inner dimensions as the tensor holds them ([A, B] of [1, A, B]).
	Dims [2]int
	// Classes is the number of classes the output holds scores for; 0 for EndToEnd, whose rows
	// carry a class index instead (the names, or COCO-80, say how many).
	Classes int
}

// Candidates is the number of detections the output holds (rows, or columns for YOLOv8).
func (s Spec) Candidates() int {
	if s.Layout == YOLOv8 {
		return s.Dims[1]
	}
	return s.Dims[0]
}

// ElemTypeName names a TensorProto.DataType for messages.
func ElemTypeName(t int64) string {
	switch t {
	case Float:
		return "float32"
	case 10:
		return "float16"
	case 0:
		return "non-tensor"
	}
	return "type " + strconv.FormatInt(t, 10)
}

// anchorFree is the number of grid cells of the detection heads (strides 8, 16, 32 and on up to
// maxStride; 32 when 0) for a w x h input: the N of YOLOv8's output; YOLOv5 has 3 anchors per
// cell, 3 times as many.
func anchorFree(w, h, maxStride int) int {
	if maxStride < 32 {
		maxStride = 32
	}
	n := 0
	for s := 8; s <= maxStride; s *= 2 {
		n += (w / s) * (h / s)
	}
	return n
}

// Spec picks the image input and the detection output, checks their shapes and works out the
// layout from the output shape [1, A, B] and the input size W x H:
//   - the end2end metadata True: end-to-end, B must be 6;
//   - A = 3 x cells(W, H) and B >= 6: YOLOv5, B-5 classes;
//   - B = cells(W, H) and A >= 5: YOLOv8, A-4 classes;
//   - else B = 6: an end-to-end export with NMS inside (its N is its maximum detections), unless
//     the end2end metadata says False;
//   - else the longer dimension is the candidates': A > B YOLOv5, A < B YOLOv8.
//
// cells(W, H) = (W/8)(H/8) + (W/16)(H/16) + (W/32)(H/32), 8400 for 640x640, 2100 for 320x320
// (and + (W/64)(H/64) for a stride-64 model, by its stride metadata).
//
// Ultralytics metadata (see Ultralytics) is checked: a model whose task is not detection is
// refused, and a model exported with dynamic input sizes runs at its imgsz.
func (m *Info) Spec() (Spec, error) {
	var s Spec
	if len(m.Inputs) != 1 {
		return s, fmt.Errorf("has %d inputs, want 1 image input [1,3,H,W]", len(m.Inputs))
	}
	u, err := m.Ultralytics()
	if err != nil {
		return s, err
	}
	if err := checkTask(u.Task); err != nil {
		return s, err
	}
	in := m.Inputs[0]
	d := append([]int64(nil), in.Dims...)
	if len(d) == 4 && d[0] == -1 {
		d[0] = 1 // dynamic batch: run with 1
	}
	sized := false // the input size comes from the imgsz metadata
	if len(d) == 4 && (d[2] <= 0 || d[3] <= 0) && u.ImgH > 0 {
		d[2], d[3] = int64(u.ImgH), int64(u.ImgW) // dynamic size: the size it was exported at
		sized = true
	}
	in.Dims = d
	if in.ElemType != Float || len(d) != 4 || d[0] != 1 || d[1] != 3 || d[2] <= 0 || d[3] <= 0 {
		return s, fmt.Errorf("input %q is %s %s, want float32 [1,3,H,W] with a fixed H and W (export without --dynamic)",
			in.Name, ElemTypeName(in.ElemType), in.ShapeString())
	}
	out := m.Outputs[0]
	for _, o := range m.Outputs {
		if o.Name == "output0" || o.Name == "output" {
			out = o
			break
		}
	}
	inW, inH := int(d[3]), int(d[2])
	cells := anchorFree(inW, inH, u.Stride)
	d = append([]int64(nil), out.Dims...)
	if len(d) == 3 && d[0] == -1 {
		d[0] = 1
	}
	if sized && len(d) == 3 && (u.EndToEnd == nil || !*u.EndToEnd) {
		// A dynamic-size export: the candidates follow from the input size.
		switch {
		case d[1] >= 5 && d[2] == -1:
			d[2] = int64(cells) // YOLOv8
		case d[1] == -1 && d[2] >= 6 && d[2] != 6:
			d[1] = int64(3 * cells) // YOLOv5
		}
	}
	out.Dims = d
	const want = "want a YOLO detection output: float32 [1,N,5+classes] (YOLOv5), [1,4+classes,N] (YOLOv8, YOLOv9, YOLO11) or [1,N,6] (end-to-end with NMS)"
	if out.ElemType != Float || len(d) != 3 || d[0] != 1 || d[1] <= 0 || d[2] <= 0 {
		return s, fmt.Errorf("output %q is %s %s: %s", out.Name, ElemTypeName(out.ElemType), out.ShapeString(), want)
	}
	s = Spec{Input: in, Output: out, InW: inW, InH: inH, Dims: [2]int{int(d[1]), int(d[2])}}
	a, b := s.Dims[0], s.Dims[1]
	e2e := u.EndToEnd
	switch {
	case e2e != nil && *e2e:
		if b != 6 {
			return s, fmt.Errorf("output %q is float32 %s but the end2end metadata says the model does its own NMS: want [1,N,6] (x1, y1, x2, y2, score, class)", out.Name, out.ShapeString())
		}
		s.Layout = EndToEnd
	case a == 3*cells && b >= 6:
		s.Layout, s.Classes = YOLOv5, b-5
	case b == cells && a >= 5:
		s.Layout, s.Classes = YOLOv8, a-4
	case b == 6 && e2e == nil:
		s.Layout = EndToEnd
	case a > b && b >= 6:
		s.Layout, s.Classes = YOLOv5, b-5
	case a < b && a >= 5:
		s.Layout, s.Classes = YOLOv8, a-4
	default:
		return s, fmt.Errorf("output %q is float32 %s: %s", out.Name, out.ShapeString(), want)
	}
	return s, nil
}
