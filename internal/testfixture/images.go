package testfixture

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
)

// PNG is a PNG signature, an IHDR chunk claiming w x h (8-bit RGB), an IDAT chunk holding idat
// when it is not nil, and an IEND chunk.
func PNG(w, h uint32, idat []byte) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		b.WriteString(typ)
		b.Write(data)
		binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	}
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	chunk("IHDR", append(ihdr, 8, 2, 0, 0, 0))
	if idat != nil {
		chunk("IDAT", idat)
	}
	chunk("IEND", nil)
	return b.Bytes()
}

// PNGHeaderOnly is a PNG claiming w x h with no pixel data: enough for a size check.
func PNGHeaderOnly(w, h uint32) []byte { return PNG(w, h, nil) }

// JPEGHeaderOnly is a JPEG SOI, an SOF0 claiming w x h, an SOS and EOI: enough for a size check,
// no pixel data.
func JPEGHeaderOnly(w, h uint16) []byte {
	b := []byte{0xFF, 0xD8, 0xFF, 0xC0, 0, 11, 8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), 1, 1, 0x11, 0}
	b = append(b, 0xFF, 0xDA, 0, 8, 1, 1, 0, 0, 0x3F, 0, 0x12, 0x34)
	return append(b, 0xFF, 0xD9)
}

// JPEGWithAPP1 returns the JPEG data with APP1 segments holding bodies inserted after its SOI.
func JPEGWithAPP1(data []byte, bodies ...[]byte) []byte {
	out := []byte{0xFF, 0xD8}
	for _, body := range bodies {
		out = append(out, 0xFF, 0xE1, byte((len(body)+2)>>8), byte(len(body)+2))
		out = append(out, body...)
	}
	return append(out, data[2:]...)
}

// ExifOrientation is an Exif APP1 body ("Exif\0\0" and a TIFF header, big- or little-endian)
// whose IFD0 holds one entry: Orientation o.
func ExifOrientation(o uint16, littleEndian bool) []byte {
	var order binary.AppendByteOrder = binary.BigEndian
	b := []byte("Exif\x00\x00MM")
	if littleEndian {
		order, b = binary.LittleEndian, []byte("Exif\x00\x00II")
	}
	b = order.AppendUint16(b, 0x2A)
	b = order.AppendUint32(b, 8) // IFD0 right after the header
	b = order.AppendUint16(b, 1)
	b = order.AppendUint16(b, 0x0112) // Orientation
	b = order.AppendUint16(b, 3)      // SHORT
	b = order.AppendUint32(b, 1)
	b = order.AppendUint16(b, o) // left-justified in the 4-byte value field
	b = order.AppendUint16(b, 0)
	return order.AppendUint32(b, 0) // no next IFD
}
