package yolo

import (
	"fmt"
	"syscall"
	"unsafe"
)

// The input and output tensors (3.7 MB and 6.4 MB of float32 for yolov5n at 640x480) live for the
// whole run and are only read and written by ONNX Runtime and the pre/post-processing. Kept in
// the Go heap they would count as live heap, and the collector lets the heap grow to twice the
// live size: about 20 MB of resident memory for nothing. They are mapped outside the Go heap.

// mapFloats returns n zeroed float32s in an anonymous private mapping outside the Go heap.
func mapFloats(n int) ([]float32, error) {
	b, err := syscall.Mmap(-1, 0, n*4, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil, fmt.Errorf("map %d bytes: %w", n*4, err)
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), n), nil
}

// unmapFloats releases a slice from mapFloats.
func unmapFloats(f []float32) error {
	if len(f) == 0 {
		return nil
	}
	return syscall.Munmap(unsafe.Slice((*byte)(unsafe.Pointer(&f[0])), len(f)*4))
}
