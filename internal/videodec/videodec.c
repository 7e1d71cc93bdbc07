#include "videodec.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <dlfcn.h>

#include <libavcodec/avcodec.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libswscale/swscale.h>

// FFmpeg is not linked: vd_load opens its libraries with dlopen the first time a group is
// decoded and fills ff with the functions below, so that a process that never decodes (no RTSP
// camera) does not pay their ~14 MB. The headers still give the prototypes (each pointer has its
// function's type), the struct layouts and the constants, so the sonames must be the headers'
// major versions: the ABI they describe.
#define VD_STR_(x) #x
#define VD_STR(x) VD_STR_(x)
const char *const vd_soname_avutil = "libavutil.so." VD_STR(LIBAVUTIL_VERSION_MAJOR);
const char *const vd_soname_swscale = "libswscale.so." VD_STR(LIBSWSCALE_VERSION_MAJOR);
const char *const vd_soname_avcodec = "libavcodec.so." VD_STR(LIBAVCODEC_VERSION_MAJOR);

enum { VD_LIB_avutil, VD_LIB_swscale, VD_LIB_avcodec, VD_LIBS };

// VD_FUNCS lists every FFmpeg function this file calls, with the library that defines it.
#define VD_FUNCS(X) \
	X(avutil, av_frame_alloc) \
	X(avutil, av_frame_free) \
	X(avutil, av_frame_move_ref) \
	X(avutil, av_frame_unref) \
	X(avutil, av_free) \
	X(avutil, av_log_set_callback) \
	X(avutil, av_mallocz) \
	X(avutil, av_strerror) \
	X(avcodec, av_packet_alloc) \
	X(avcodec, av_packet_free) \
	X(avcodec, avcodec_alloc_context3) \
	X(avcodec, avcodec_find_decoder) \
	X(avcodec, avcodec_flush_buffers) \
	X(avcodec, avcodec_free_context) \
	X(avcodec, avcodec_get_class) \
	X(avcodec, avcodec_open2) \
	X(avcodec, avcodec_receive_frame) \
	X(avcodec, avcodec_send_packet) \
	X(swscale, sws_freeContext) \
	X(swscale, sws_getCachedContext) \
	X(swscale, sws_getCoefficients) \
	X(swscale, sws_scale) \
	X(swscale, sws_setColorspaceDetails)

// vd_ffmpeg holds the functions. ff is set once, by a vd_load that succeeds, before any other
// vd_ function runs.
typedef struct {
#define VD_FIELD(lib, f) __typeof__(f) *f;
	VD_FUNCS(VD_FIELD)
#undef VD_FIELD
} vd_ffmpeg;
static vd_ffmpeg ff;

static void vd_log(void *avcl, int level, const char *fmt, va_list vl);

int vd_load(const char *avutil, const char *swscale, const char *avcodec, char *err, size_t n) {
	const char *names[VD_LIBS] = {avutil, swscale, avcodec};
	void *libs[VD_LIBS] = {NULL};
	vd_ffmpeg fns;
	// libavutil first: the others need it (their own NEEDED entries find the copy loaded here).
	for (int i = 0; i < VD_LIBS; i++) {
		libs[i] = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
		if (libs[i] == NULL) {
			const char *e = dlerror();
			snprintf(err, n, "%s", e != NULL ? e : names[i]);
			goto fail;
		}
	}
#define VD_RESOLVE(lib, f) \
	if ((*(void **)&fns.f = dlsym(libs[VD_LIB_##lib], #f)) == NULL) { \
		snprintf(err, n, "%s has no function %s", names[VD_LIB_##lib], #f); \
		goto fail; \
	}
	VD_FUNCS(VD_RESOLVE)
#undef VD_RESOLVE
	ff = fns;
	ff.av_log_set_callback(vd_log);
	return 0;
fail:
	for (int i = VD_LIBS - 1; i >= 0; i--)
		if (libs[i] != NULL)
			dlclose(libs[i]);
	return -1;
}

void vd_strerror(int code, char *buf, size_t n) { ff.av_strerror(code, buf, n); }

struct vd {
	AVCodecContext *ctx; // kept between calls only with keep
	AVPacket *pkt;
	AVFrame *frame; // receives each picture
	AVFrame *last;  // the newest picture
	// The current call's pictures: each one's tag is its packet's pts, taken from tags (one per
	// access unit), or without tags base plus the pictures the call received before it; the
	// first one whose tag is want or more stops the call. VD_NEWEST: none does.
	const int64_t *tags;
	int64_t base, want;
	int64_t last_tag; // the tag of last
	struct SwsContext *sws;
	int threads;        // thread_count asked of the kept decoder (FFmpeg replaces 0 by its choice)
	pthread_mutex_t mu; // guards msg: FFmpeg's decoding threads log too
	char msg[256];      // first error logged during the current vd_decode
	vd *next;           // in vd_live
};

// vd_live lists the decoders alive, so that the log callback only takes a codec context's opaque
// pointer for a vd when it is one (another FFmpeg user in the process may set it to anything).
static pthread_mutex_t vd_live_mu = PTHREAD_MUTEX_INITIALIZER;
static vd *vd_live;

// vd_log keeps the first error FFmpeg logs about one of our decoders (found through the codec
// context's opaque pointer, which frame threads' copies share) and drops everything else:
// a library must not write to the daemon's stderr.
static void vd_log(void *avcl, int level, const char *fmt, va_list vl) {
	if (level > AV_LOG_ERROR || avcl == NULL || *(const AVClass **)avcl != ff.avcodec_get_class())
		return;
	void *opaque = ((AVCodecContext *)avcl)->opaque;
	pthread_mutex_lock(&vd_live_mu);
	vd *d = vd_live;
	while (d != NULL && d != opaque)
		d = d->next;
	if (d != NULL) {
		pthread_mutex_lock(&d->mu);
		if (d->msg[0] == 0) {
			vsnprintf(d->msg, sizeof d->msg, fmt, vl);
			size_t n = strlen(d->msg);
			while (n > 0 && (d->msg[n - 1] == '\n' || d->msg[n - 1] == ' '))
				d->msg[--n] = 0;
		}
		pthread_mutex_unlock(&d->mu);
	}
	pthread_mutex_unlock(&vd_live_mu);
}

vd *vd_new(void) {
	vd *d = ff.av_mallocz(sizeof *d);
	if (d == NULL)
		return NULL;
	pthread_mutex_init(&d->mu, NULL);
	d->pkt = ff.av_packet_alloc();
	d->frame = ff.av_frame_alloc();
	d->last = ff.av_frame_alloc();
	pthread_mutex_lock(&vd_live_mu);
	d->next = vd_live;
	vd_live = d;
	pthread_mutex_unlock(&vd_live_mu);
	if (d->pkt == NULL || d->frame == NULL || d->last == NULL) {
		vd_free(d);
		return NULL;
	}
	return d;
}

void vd_drop_last(vd *d) { ff.av_frame_unref(d->last); }

void vd_release(vd *d) {
	ff.avcodec_free_context(&d->ctx);
	ff.av_frame_unref(d->frame);
	ff.av_frame_unref(d->last);
	ff.sws_freeContext(d->sws);
	d->sws = NULL;
}

void vd_free(vd *d) {
	if (d == NULL)
		return;
	vd_release(d);
	pthread_mutex_lock(&vd_live_mu);
	for (vd **p = &vd_live; *p != NULL; p = &(*p)->next) {
		if (*p == d) {
			*p = d->next;
			break;
		}
	}
	pthread_mutex_unlock(&vd_live_mu);
	ff.av_packet_free(&d->pkt);
	ff.av_frame_free(&d->frame);
	ff.av_frame_free(&d->last);
	pthread_mutex_destroy(&d->mu);
	ff.av_free(d);
}

// vd_open gives d a decoder for codec, reusing the kept one when it decodes the same codec.
static int vd_open(vd *d, int codec, int threads, int64_t max_pixels) {
	enum AVCodecID id = codec == VD_H265 ? AV_CODEC_ID_HEVC : AV_CODEC_ID_H264;
	if (d->ctx != NULL) {
		if (d->ctx->codec_id == id && d->threads == threads) {
			d->ctx->max_pixels = max_pixels;
			return 0;
		}
		ff.avcodec_free_context(&d->ctx);
	}
	const AVCodec *c = ff.avcodec_find_decoder(id);
	if (c == NULL)
		return AVERROR_DECODER_NOT_FOUND;
	d->ctx = ff.avcodec_alloc_context3(c);
	if (d->ctx == NULL)
		return AVERROR(ENOMEM);
	d->ctx->opaque = d;
	d->ctx->thread_count = threads;
	d->threads = threads;
	d->ctx->max_pixels = max_pixels;
	int err = ff.avcodec_open2(d->ctx, c, NULL);
	if (err < 0)
		ff.avcodec_free_context(&d->ctx);
	return err;
}

static void vd_refused(vd_result *r, int err) {
	if (r->refused++ == 0)
		r->first_err = err;
}

// vd_receive takes every picture the decoder has ready, keeping the newest in d->last, until one
// whose tag is d->want or more (r->found), which stays in d->last. It returns a fatal error
// code or 0.
static int vd_receive(vd *d, vd_result *r) {
	for (;;) {
		int err = ff.avcodec_receive_frame(d->ctx, d->frame);
		if (err == AVERROR(EAGAIN) || err == AVERROR_EOF)
			return 0;
		if (err == AVERROR(ENOMEM))
			return err;
		if (err < 0) {
			vd_refused(r, err);
			return 0;
		}
		int64_t tag = d->tags != NULL ? d->frame->pts : d->base + r->pictures;
		r->pictures++;
		ff.av_frame_unref(d->last);
		ff.av_frame_move_ref(d->last, d->frame);
		d->last_tag = tag;
		if (tag >= d->want) {
			r->found = 1;
			r->tag = tag;
			return 0;
		}
	}
}

static int64_t vd_now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

// vd_begin starts a vd_decode or vd_feed: it clears r, the last picture and the message logged,
// sets no tags and VD_NEWEST, and gives d a decoder (vd_open). It returns 0 or the fatal AVERROR
// code, and the deadline of budget_ns (> 0) from now, or 0 for none.
static int vd_begin(vd *d, int codec, int threads, int64_t max_pixels, int64_t budget_ns, int64_t *deadline, vd_result *r) {
	memset(r, 0, sizeof *r);
	ff.av_frame_unref(d->last);
	d->tags = NULL;
	d->base = 0;
	d->want = VD_NEWEST;
	pthread_mutex_lock(&d->mu);
	d->msg[0] = 0;
	pthread_mutex_unlock(&d->mu);
	*deadline = budget_ns > 0 ? vd_now() + budget_ns : 0;
	return vd_open(d, codec, threads, max_pixels);
}

// vd_units sends the n access units at offs[0..n-1] of buf[0..len) to the decoder and takes
// the pictures it returns, until the wanted one comes (r->found) or the deadline (when not 0)
// passes before an access unit (r->over_budget); r->units_done says how many it sent.
// skip_nonref discards the non-reference pictures before the last unit. It returns 0 or the
// fatal AVERROR code.
static int vd_units(vd *d, const uint8_t *buf, int len, const int *offs, int n, int skip_nonref, int64_t deadline, vd_result *r) {
	int err = 0;
	for (int i = 0; err == 0 && i < n && !r->found; i++) {
		if (deadline != 0 && vd_now() > deadline) {
			r->over_budget = 1;
			break;
		}
		int end = i + 1 < n ? offs[i + 1] : len;
		// Not reference-counted: avcodec_send_packet copies the data (into a padded buffer), so
		// nothing keeps a pointer into buf after this call.
		d->pkt->data = (uint8_t *)buf + offs[i];
		d->pkt->size = end - offs[i];
		d->pkt->pts = d->tags != NULL ? d->tags[i] : AV_NOPTS_VALUE;
		d->ctx->skip_frame = skip_nonref && i + 1 < n ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
		int e = ff.avcodec_send_packet(d->ctx, d->pkt);
		d->pkt->data = NULL;
		d->pkt->size = 0;
		r->units_done = i + 1;
		if (e == AVERROR(ENOMEM))
			err = e;
		else if (e < 0)
			vd_refused(r, e);
		if (err == 0)
			err = vd_receive(d, r);
	}
	return err;
}

// vd_end finishes a vd_decode or vd_feed: the stream's size (also when no picture could be made),
// the fatal code and the message logged go into r, and the decoder is released when release is
// set or err is not 0. It returns err.
static int vd_end(vd *d, int err, int release, vd_result *r) {
	if (d->ctx != NULL) {
		r->width = d->ctx->width;
		r->height = d->ctx->height;
		if (release || err != 0)
			ff.avcodec_free_context(&d->ctx);
	}
	r->fatal = err;
	if (d->last->buf[0] != NULL) {
		r->width = d->last->width;
		r->height = d->last->height;
	}
	pthread_mutex_lock(&d->mu);
	memcpy(r->msg, d->msg, sizeof r->msg);
	pthread_mutex_unlock(&d->mu);
	return err;
}

int vd_decode(vd *d, int codec, int threads, int skip_nonref, int keep, int64_t max_pixels, int64_t budget_ns,
	const uint8_t *buf, int len, const int *offs, int n, vd_result *r) {
	int64_t deadline;
	int err = vd_begin(d, codec, threads, max_pixels, budget_ns, &deadline, r);
	if (err == 0)
		err = vd_units(d, buf, len, offs, n, skip_nonref, deadline, r);
	if (err == 0 && !r->over_budget && ff.avcodec_send_packet(d->ctx, NULL) == 0) // drain the delayed pictures
		err = vd_receive(d, r);
	int release = !keep || err != 0 || r->over_budget;
	if (!release)
		ff.avcodec_flush_buffers(d->ctx);
	return vd_end(d, err, release, r);
}

// vd_src_format maps the deprecated full-range YUVJ formats to their YUV twins; their range is
// given to libswscale separately.
static enum AVPixelFormat vd_src_format(enum AVPixelFormat f, int *full) {
	switch (f) {
	case AV_PIX_FMT_YUVJ420P: *full = 1; return AV_PIX_FMT_YUV420P;
	case AV_PIX_FMT_YUVJ422P: *full = 1; return AV_PIX_FMT_YUV422P;
	case AV_PIX_FMT_YUVJ444P: *full = 1; return AV_PIX_FMT_YUV444P;
	case AV_PIX_FMT_YUVJ440P: *full = 1; return AV_PIX_FMT_YUV440P;
	default: return f;
	}
}

int vd_convert(vd *d, uint8_t *dst, int stride) {
	AVFrame *f = d->last;
	// dst's rows must hold the picture's width rounded up to 16 pixels: libswscale's x86
	// converters write whole blocks, and convert one block less (leaving the last columns
	// unwritten) when the rounded row does not fit the stride.
	if (f->width <= 0 || f->height <= 0 || f->data[0] == NULL || stride < ((f->width + 15) & ~15) * 3) {
		ff.av_frame_unref(f);
		return AVERROR(EINVAL);
	}
	int full = f->color_range == AVCOL_RANGE_JPEG;
	enum AVPixelFormat src = vd_src_format(f->format, &full);
	int err = 0;
	d->sws = ff.sws_getCachedContext(d->sws, f->width, f->height, src, f->width, f->height,
		AV_PIX_FMT_BGR24, SWS_BICUBIC, NULL, NULL, NULL);
	if (d->sws == NULL) {
		err = AVERROR(EINVAL);
		goto out;
	}
	// The stream's matrix (BT.709 for most HD cameras) when it says one, else BT.601.
	int cs = f->colorspace;
	if (cs == AVCOL_SPC_RGB || cs == AVCOL_SPC_UNSPECIFIED || cs > AVCOL_SPC_SMPTE240M)
		cs = SWS_CS_DEFAULT;
	const int *coef = ff.sws_getCoefficients(cs);
	ff.sws_setColorspaceDetails(d->sws, coef, full, ff.sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16, 1 << 16);
	uint8_t *out[4] = {dst};
	int outStride[4] = {stride};
	if (ff.sws_scale(d->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, out, outStride) != f->height)
		err = AVERROR(EINVAL);
out:
	ff.av_frame_unref(f);
	return err;
}

// vd_feed decodes the n access units at offs[0..n-1] of buf[0..len) with the decoder kept from
// the previous vd_feed (opened on the first), without flushing it, so that the next call
// continues the stream. With want VD_NEWEST it keeps the newest picture; streams without B-frames
// output each picture as its access unit is decoded. Otherwise it stops at the first picture
// whose tag (tags[i], the pts of access unit i's picture, or without tags base plus the pictures
// received before it in this call) is want or more, leaving the access units after it unsent,
// and drops the pictures before it; a picture past want stays for the next call, which returns
// it at once when it wants it or one before it. With drain, when every access unit is sent and
// the picture has not come, the decoder is drained (no access unit may follow until the decoder
// is released). When budget_ns (> 0) nanoseconds have passed before an access unit, it stops
// there with r->over_budget set and releases the decoder (the next call starts from a key frame).
// It returns 0 or the fatal AVERROR code (the decoder is then released).
int vd_feed(vd *d, int codec, int threads, int64_t max_pixels, int64_t budget_ns,
	const uint8_t *buf, int len, const int *offs, const int64_t *tags, int n, int64_t base, int64_t want, int drain,
	vd_result *r) {
	if (want != VD_NEWEST && d->ctx != NULL && d->last->buf[0] != NULL && d->last_tag >= want) {
		memset(r, 0, sizeof *r);
		r->found = 1;
		r->tag = d->last_tag;
		r->width = d->last->width;
		r->height = d->last->height;
		return 0;
	}
	int64_t deadline;
	int err = vd_begin(d, codec, threads, max_pixels, budget_ns, &deadline, r);
	d->tags = tags;
	d->base = base;
	d->want = want;
	if (err == 0)
		err = vd_units(d, buf, len, offs, n, 0, deadline, r);
	if (err == 0 && drain && !r->found && !r->over_budget && r->units_done == n) {
		int e = ff.avcodec_send_packet(d->ctx, NULL); // AVERROR_EOF: drained by a previous call
		if (e == 0 || e == AVERROR_EOF)
			err = vd_receive(d, r);
	}
	if (want != VD_NEWEST && !r->found)
		ff.av_frame_unref(d->last);
	d->tags = NULL;
	// Over budget, the access units not sent are lost: the next call starts from a key frame.
	return vd_end(d, err, r->over_budget, r);
}
