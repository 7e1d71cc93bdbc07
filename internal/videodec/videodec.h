// The C half of package videodec: one libavcodec decoder run over a group of pictures, and the
// libswscale conversion of its last picture to BGR.
#ifndef EDGECAM_VIDEODEC_H
#define EDGECAM_VIDEODEC_H

#include <stddef.h>
#include <stdint.h>

// vd_codec values (package videodec's Codec).
enum { VD_H264 = 0, VD_H265 = 1 };

// VD_NEWEST is vd_feed's want when it keeps the newest picture.
#define VD_NEWEST INT64_MAX

// vd_result reports one vd_decode.
typedef struct vd_result {
	int pictures;  // pictures the decoder returned
	int refused;   // access units the decoder refused (corrupt data), or pictures it failed
	int first_err; // the first refusal's AVERROR code; 0 when none
	int fatal;     // the AVERROR code that stopped decoding (no decoder, out of memory); 0 when none
	int width, height; // size of the last picture
	int over_budget;   // decoding stopped when the time budget ran out
	int units_done;    // access units sent to the decoder
	int found;         // vd_feed: the picture wanted (or one past it) came; tag is its tag
	int64_t tag;
	char msg[256]; // the first error FFmpeg logged for this decoder, if any
} vd_result;

typedef struct vd vd;

// The sonames of the FFmpeg libraries the headers describe, e.g. "libavcodec.so.59".
extern const char *const vd_soname_avutil, *const vd_soname_swscale, *const vd_soname_avcodec;

// vd_load opens the three libraries (RTLD_NOW | RTLD_LOCAL) and resolves every function the
// decoder calls. It returns 0, or -1 with what failed (dlerror's text) in err[0..n). It must be
// called once (package videodec does it under a sync.Once), and succeed, before any function
// below.
int vd_load(const char *avutil, const char *swscale, const char *avcodec, char *err, size_t n);
// vd_strerror writes FFmpeg's text for an AVERROR code.
void vd_strerror(int code, char *buf, size_t n);


vd *vd_new(void);
void vd_free(vd *d);
// vd_decode decodes the n access units that start at offs[0..n-1] of buf[0..len) (each ends where
// the next starts) and keeps the last picture (in output order). threads 0 lets FFmpeg choose;
// skip_nonref discards the non-reference pictures before the last access unit; keep keeps the
// decoder (flushed) for the next call. When budget_ns (> 0) nanoseconds have passed before an
// access unit, it stops there with r->over_budget set and no picture. It returns 0 or the fatal
// AVERROR code.
int vd_decode(vd *d, int codec, int threads, int skip_nonref, int keep, int64_t max_pixels, int64_t budget_ns,
	const uint8_t *buf, int len, const int *offs, int n, vd_result *r);
// vd_convert writes the last picture as BGR (8 bits per channel) into dst, whose rows are stride
// bytes apart, and releases the picture. stride must hold the width rounded up to 16 pixels and
// dst one row more than the picture. It returns 0 or an AVERROR code (EINVAL for a short stride).
int vd_convert(vd *d, uint8_t *dst, int stride);
// vd_drop_last drops the last picture (not converted), keeping the decoder.
void vd_drop_last(vd *d);
// vd_release drops the decoder kept by keep and the last picture.
void vd_release(vd *d);

#endif
