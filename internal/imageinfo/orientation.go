package imageinfo

import (
	"bytes"
	"encoding/binary"
)

// Orientation returns the EXIF Orientation (1-8) of a JPEG or PNG, exactly as OpenCV 4.6's
// imdecode reads it before applying it (IMREAD_COLOR). A JPEG's comes from the first APP1
// segment before the image data, whatever its signature, skipping 6 bytes ("Exif\0\0") to a
// TIFF header; a PNG's from its eXIf chunk as libpng keeps it. Only IFD0 is read. OpenCV stops
// at the first entry it cannot read; an orientation before that entry still counts, a repeated
// one does not replace the first. It returns 1 (as is) when there is none, and the raw value,
// which callers leave as is, when it is outside 1-8. Other formats return 1.
func Orientation(data []byte) int {
	if bytes.HasPrefix(data, pngSignature) {
		if o, ok := exifOrientation(pngExif(data)); ok {
			return o
		}
		return 1
	}
	app1 := firstAPP1(data)
	const tiffOffset = 6 // OpenCV's offsetToTiffHeader
	if len(app1) <= tiffOffset {
		return 1
	}
	if o, ok := exifOrientation(app1[tiffOffset:]); ok {
		return o
	}
	return 1
}

// pngExif returns the eXIf chunk libpng keeps and OpenCV reads: the first before the image data
// (info_ptr), else the first after it (end_info); libpng drops one shorter than 2 bytes or not
// starting with II or MM.
func pngExif(data []byte) []byte {
	var before, after []byte
	seenIDAT := false
	for i := len(pngSignature); i+12 <= len(data); {
		n := uint64(binary.BigEndian.Uint32(data[i:]))
		typ := string(data[i+4 : i+8])
		if uint64(i)+12+n > uint64(len(data)) {
			break
		}
		body := data[i+8 : i+8+int(n)]
		switch typ {
		case "IDAT":
			seenIDAT = true
		case "IEND":
			i = len(data)
			continue
		case "eXIf":
			ok := len(body) >= 2 && body[0] == body[1] && (body[0] == 'I' || body[0] == 'M')
			switch {
			case !ok: // libpng drops it; a later one is not a duplicate
			case !seenIDAT && before == nil:
				before = body
			case seenIDAT && after == nil:
				after = body
			}
		}
		i += 12 + int(n)
	}
	if before != nil {
		return before
	}
	return after
}

// firstAPP1 returns the body of the first APP1 segment before the first start of scan, as
// libjpeg's marker reader finds it (jpeg_save_markers), or nil.
func firstAPP1(data []byte) []byte {
	if len(data) < 2 || data[0] != 0xFF || data[1] != 0xD8 {
		return nil
	}
	i := 2
	for {
		// libjpeg's next_marker: discard bytes up to an 0xFF, then fill bytes; FF00 is
		// discarded data too.
		for i < len(data) && data[i] != 0xFF {
			i++
		}
		for i < len(data) && data[i] == 0xFF {
			i++
		}
		if i >= len(data) {
			return nil
		}
		m := data[i]
		i++
		switch {
		case m == 0:
			continue
		case m == 0xDA || m == 0xD9 || m == 0xD8: // scan, end, or a second SOI (an error)
			return nil
		case m == 0x01 || (m >= 0xD0 && m <= 0xD7): // TEM, RSTn: no length
			continue
		}
		if i+2 > len(data) {
			return nil
		}
		n := int(data[i])<<8 | int(data[i+1])
		if n < 2 || i+n > len(data) {
			return nil
		}
		if m == 0xE1 {
			return data[i+2 : i+n]
		}
		i += n
	}
}

// exifOrientation ports OpenCV 4.6's ExifReader (modules/imgcodecs/src/exif.cpp) for the one
// tag edgecam needs, including where it gives up: any read past the end of d ends the parse.
func exifOrientation(d []byte) (orientation int, found bool) {
	le := len(d) > 1 && d[0] == 'I' && d[1] == 'I' // else big-endian, as OpenCV reads "NONE"
	u16 := func(off uint64) (uint16, bool) {
		if off+1 >= uint64(len(d)) {
			return 0, false
		}
		if le {
			return uint16(d[off]) | uint16(d[off+1])<<8, true
		}
		return uint16(d[off])<<8 | uint16(d[off+1]), true
	}
	u32 := func(off uint64) (uint32, bool) {
		if off+3 >= uint64(len(d)) {
			return 0, false
		}
		if le {
			return uint32(d[off]) | uint32(d[off+1])<<8 | uint32(d[off+2])<<16 | uint32(d[off+3])<<24, true
		}
		return uint32(d[off])<<24 | uint32(d[off+1])<<16 | uint32(d[off+2])<<8 | uint32(d[off+3]), true
	}
	// rationals reads n unsigned rationals at the offset stored in the entry at off.
	rationals := func(off uint64, n int) bool {
		at, ok := u32(off + 8)
		if !ok {
			return false
		}
		for i := 0; i < n; i++ {
			if _, ok := u32(uint64(at)); !ok {
				return false
			}
			if _, ok := u32(uint64(at) + 4); !ok {
				return false
			}
			at += 8 // uint32, as OpenCV's rationalOffset
		}
		return true
	}
	// str checks the bounds OpenCV's getString checks (its data offset for short strings is
	// the absolute 8, a bug kept here since it decides where parsing stops).
	str := func(off uint64) bool {
		size, ok := u32(off + 4)
		if !ok {
			return false
		}
		at := uint64(8)
		if size > 4 {
			a, ok := u32(off + 8)
			if !ok {
				return false
			}
			at = uint64(a)
		}
		return at <= uint64(len(d)) && at+uint64(size) <= uint64(len(d))
	}
	if mark, ok := u16(2); !ok || mark != 0x2A {
		return 0, false
	}
	start, ok := u32(4)
	if !ok {
		return 0, false
	}
	off := uint64(start)
	n, ok := u16(off)
	if !ok {
		return 0, false
	}
	off += 2
	for range int(n) {
		tag, ok := u16(off)
		if !ok {
			return orientation, found
		}
		switch tag {
		case 0x010E, 0x010F, 0x0110, 0x0131, 0x0132, 0x8298: // strings
			ok = str(off)
		case 0x0112: // Orientation
			var v uint16
			v, ok = u16(off + 8)
			if ok && !found {
				orientation, found = int(v), true
			}
		case 0x011A, 0x011B: // X, Y resolution
			ok = rationals(off, 1)
		case 0x013E: // white point
			ok = rationals(off, 2)
		case 0x013F, 0x0214: // primary chromaticities, reference black/white
			ok = rationals(off, 6)
		case 0x0211: // YCbCr coefficients
			ok = rationals(off, 3)
		case 0x0128, 0x0213: // resolution unit, YCbCr positioning
			_, ok = u16(off + 8)
		}
		if !ok {
			return orientation, found
		}
		off += 12
	}
	return orientation, found
}
