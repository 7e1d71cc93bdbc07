package testfixture

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"math/bits"
)

// Hostile JPEGs, built by the tests that use them (issue 20: a file a few kilobytes long that a
// decoder reads as something else than the header check saw, or that holds it for minutes).

// SmallJPEG is a w x h baseline colour JPEG of a gradient, from Go's encoder: SOI, DQT, SOF0,
// DHT, SOS, data, EOI.
func SmallJPEG(w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), 128, 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 75}); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// jpegSegment finds the first segment with one of markers before the scan: its start (the FF)
// and end.
func jpegSegment(data []byte, markers ...byte) (start, end int) {
	for i := 2; i+4 <= len(data) && data[i] == 0xFF; {
		seg := int(binary.BigEndian.Uint16(data[i+2:]))
		if bytes.IndexByte(markers, data[i+1]) >= 0 {
			return i, i + 2 + seg
		}
		if data[i+1] == 0xDA {
			break
		}
		i += 2 + seg
	}
	panic("testfixture: JPEG segment not found")
}

// HiddenFrameJPEG is a 150x103 JPEG (about 1.5 KB) with a second frame header of w x h hidden
// where only libjpeg reads it: after the quantisation table, FF 00 and a length (a segment to a
// parser that takes any FF xx for a marker; a stuffed zero that libjpeg skips, scanning on for
// the next marker), the hidden frame header, then an APP1 segment whose body is the 150x103
// frame header (skipped by libjpeg; where the other parser lands). libjpeg decodes the file as
// w x h, filling the missing pixels with grey; the 21 KB file did it at 65500x65500.
func HiddenFrameJPEG(w, h int) []byte {
	good := SmallJPEG(150, 103)
	sofStart, sofEnd := jpegSegment(good, 0xC0)
	sof := good[sofStart:sofEnd]
	hidden := bytes.Clone(sof)
	binary.BigEndian.PutUint16(hidden[5:], uint16(h))
	binary.BigEndian.PutUint16(hidden[7:], uint16(w))
	var b bytes.Buffer
	b.Write(good[:sofStart]) // SOI, DQT
	b.Write([]byte{0xFF, 0x00})
	binary.Write(&b, binary.BigEndian, uint16(2+len(hidden)+4))
	b.Write(hidden)
	b.Write([]byte{0xFF, 0xE1})
	binary.Write(&b, binary.BigEndian, uint16(2+len(sof)))
	b.Write(sof)
	b.Write(good[sofEnd:]) // DHT, SOS, data, EOI
	return b.Bytes()
}

// CutJPEG is a w x h JPEG whose entropy-coded data is cut to half, with the end-of-image marker
// appended: every header check passes, and libjpeg hits the marker in the middle of the scan.
func CutJPEG(w, h int) []byte {
	good := SmallJPEG(w, h)
	_, scan := jpegSegment(good, 0xDA)
	cut := scan + (len(good)-2-scan)/2
	return append(bytes.Clone(good[:cut]), 0xFF, 0xD9)
}

// bitWriter writes JPEG entropy-coded bits, stuffing a zero after every FF byte.
type bitWriter struct {
	out  *bytes.Buffer
	acc  uint32
	nacc uint
}

func (w *bitWriter) write(v uint32, n uint) {
	for n > 0 {
		n--
		w.acc = w.acc<<1 | (v>>n)&1
		w.nacc++
		if w.nacc == 8 {
			w.flushByte()
		}
	}
}

func (w *bitWriter) flushByte() {
	c := byte(w.acc)
	w.out.WriteByte(c)
	if c == 0xFF {
		w.out.WriteByte(0)
	}
	w.acc, w.nacc = 0, 0
}

// pad fills the last byte with one bits, as the standard asks at the end of a scan.
func (w *bitWriter) pad() {
	for w.nacc != 0 {
		w.write(1, 1)
	}
}

// ManyScansJPEG is a w x h grey progressive JPEG of one DC scan and then scans-1 identical AC
// scans, each a few bytes (an end-of-band run over every block), which libjpeg accepts as a
// valid progression. Every scan is a pass over all the image's blocks: with 100,000 scans of a
// 1024x1024 picture it is 1.3 MB and takes libjpeg-turbo 2.1 seconds to minutes.
func ManyScansJPEG(w, h, scans int) []byte {
	var b bytes.Buffer
	b.Write([]byte{0xFF, 0xD8})
	// DQT: table 0, all ones.
	b.Write([]byte{0xFF, 0xDB, 0x00, 0x43, 0x00})
	b.Write(bytes.Repeat([]byte{1}, 64))
	// SOF2: 8 bits, h x w, one component (id 1, 1x1, table 0).
	b.Write([]byte{0xFF, 0xC2, 0x00, 0x0B, 0x08})
	binary.Write(&b, binary.BigEndian, uint16(h))
	binary.Write(&b, binary.BigEndian, uint16(w))
	b.Write([]byte{0x01, 0x01, 0x11, 0x00})
	// DHT DC 0: one code of length 1 ("0") for category 0 (a zero difference).
	var counts [16]byte
	counts[0] = 1
	b.Write([]byte{0xFF, 0xC4, 0x00, 2 + 1 + 16 + 1, 0x00})
	b.Write(counts[:])
	b.WriteByte(0x00)
	// DHT AC 0: EOB0..EOB14 (runs of 2^r + r extra bits), 4-bit codes 0000..1110 in order.
	counts = [16]byte{}
	counts[3] = 15
	b.Write([]byte{0xFF, 0xC4, 0x00, 2 + 1 + 16 + 15, 0x10})
	b.Write(counts[:])
	for r := range 15 {
		b.WriteByte(byte(r << 4))
	}
	blocks := ((w + 7) / 8) * ((h + 7) / 8)
	// The DC scan: a zero difference for every block.
	b.Write([]byte{0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00})
	bw := &bitWriter{out: &b}
	for range blocks {
		bw.write(0, 1)
	}
	bw.pad()
	// One AC scan, repeated: coefficients 1-63, no successive approximation, all zero.
	var ac bytes.Buffer
	ac.Write([]byte{0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x01, 0x3F, 0x00})
	bw = &bitWriter{out: &ac}
	for left := blocks; left > 0; {
		run := min(left, 1<<15-1)
		r := bits.Len(uint(run)) - 1
		bw.write(uint32(r), 4)
		bw.write(uint32(run-1<<r), uint(r))
		left -= run
	}
	bw.pad()
	for range scans - 1 {
		b.Write(ac.Bytes())
	}
	b.Write([]byte{0xFF, 0xD9})
	return b.Bytes()
}
