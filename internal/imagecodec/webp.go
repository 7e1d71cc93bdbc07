package imagecodec

import "image"

// webpBGR converts a lossy WebP's 4:2:0 YCbCr planes to BGR rows as libwebp's WebPDecodeBGR
// (what OpenCV calls) does: its fancy upsampler (src/dsp/upsampling.c UPSAMPLE_FUNC, driven by
// EmitFancyRGB in src/dec/io_dec.c) and its fixed-point BT.601 conversion (src/dsp/yuv.h).
func webpBGR(m *image.YCbCr, w, h int, row func(int) []byte) {
	yRow := func(y int) []byte { return m.Y[y*m.YStride:] }
	uRow := func(k int) []byte { return m.Cb[k*m.CStride:] }
	vRow := func(k int) []byte { return m.Cr[k*m.CStride:] }
	upsamplePair(yRow(0), nil, uRow(0), vRow(0), uRow(0), vRow(0), row(0), nil, w)
	k := 1
	for ; 2*k <= h-1; k++ {
		upsamplePair(yRow(2*k-1), yRow(2*k), uRow(k-1), vRow(k-1), uRow(k), vRow(k), row(2*k-1), row(2*k), w)
	}
	if h%2 == 0 && h > 1 {
		c := h/2 - 1
		upsamplePair(yRow(h-1), nil, uRow(c), vRow(c), uRow(c), vRow(c), row(h-1), nil, w)
	}
}

func loadUV(u, v byte) uint32 { return uint32(u) | uint32(v)<<16 }

// upsamplePair is libwebp's UPSAMPLE_FUNC with its packed u|v<<16 arithmetic kept, since the
// packing decides how the v samples round.
func upsamplePair(topY, bottomY, topU, topV, curU, curV, topDst, bottomDst []byte, n int) {
	last := (n - 1) >> 1
	tl := loadUV(topU[0], topV[0])
	l := loadUV(curU[0], curV[0])
	uv0 := (3*tl + l + 0x00020002) >> 2
	yuvToBGR(topY[0], uv0, topDst)
	if bottomY != nil {
		uv0 := (3*l + tl + 0x00020002) >> 2
		yuvToBGR(bottomY[0], uv0, bottomDst)
	}
	for x := 1; x <= last; x++ {
		t := loadUV(topU[x], topV[x])
		uv := loadUV(curU[x], curV[x])
		avg := tl + t + l + uv + 0x00080008
		diag12 := (avg + 2*(t+l)) >> 3
		diag03 := (avg + 2*(tl+uv)) >> 3
		yuvToBGR(topY[2*x-1], (diag12+tl)>>1, topDst[3*(2*x-1):])
		yuvToBGR(topY[2*x], (diag03+t)>>1, topDst[3*(2*x):])
		if bottomY != nil {
			yuvToBGR(bottomY[2*x-1], (diag03+l)>>1, bottomDst[3*(2*x-1):])
			yuvToBGR(bottomY[2*x], (diag12+uv)>>1, bottomDst[3*(2*x):])
		}
		tl, l = t, uv
	}
	if n&1 == 0 {
		uv0 := (3*tl + l + 0x00020002) >> 2
		yuvToBGR(topY[n-1], uv0, topDst[3*(n-1):])
		if bottomY != nil {
			uv0 := (3*l + tl + 0x00020002) >> 2
			yuvToBGR(bottomY[n-1], uv0, bottomDst[3*(n-1):])
		}
	}
}

// yuvToBGR is libwebp's VP8YuvToBgr: u is uv's low byte, v its bits from 16 on.
func yuvToBGR(y byte, uv uint32, out []byte) {
	u, v := int(uv&0xFF), int(uv>>16)
	yy := mulHi(int(y), 19077)
	out[0] = clip8(yy + mulHi(u, 33050) - 17685)
	out[1] = clip8(yy - mulHi(u, 6419) - mulHi(v, 13320) + 8708)
	out[2] = clip8(yy + mulHi(v, 26149) - 14234)
}

func mulHi(v, c int) int { return (v * c) >> 8 }

func clip8(v int) byte {
	const fix2, mask2 = 6, 256<<6 - 1
	if v&^mask2 == 0 {
		return byte(v >> fix2)
	}
	if v < 0 {
		return 0
	}
	return 255
}
