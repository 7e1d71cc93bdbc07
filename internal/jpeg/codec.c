#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "codec.h"

typedef struct {
	struct jpeg_error_mgr pub;
	jmp_buf jb;
	int eof;   // libjpeg ran out of data (JWRN_JPEG_EOF) or hit a marker inside a scan (JWRN_HIT_MARKER)
	int scans; // stopped by ec_progress: too many scans
} ec_err;

static void ec_error_exit(j_common_ptr c) { longjmp(((ec_err *)c->err)->jb, 1); }

// ec_emit never prints. libjpeg reports corrupt data as warnings and goes on, filling what it
// could not decode with grey (a JPEG cut short with FFD9 appended decoded without error) or
// scanning past garbage for the next marker (which let an application segment hide a second
// frame header from a stricter reader). Those warnings stop the decode here, as TurboJPEG's
// TJFLAG_STOPONWARNING does; the others (an unknown JFIF revision or Adobe transform) are
// only counted.
static void ec_emit(j_common_ptr c, int level) {
	if (level >= 0)
		return;
	c->err->num_warnings++;
	switch (c->err->msg_code) {
	case JWRN_JPEG_EOF:
	case JWRN_HIT_MARKER:
		((ec_err *)c->err)->eof = 1;
		longjmp(((ec_err *)c->err)->jb, 1);
	case JWRN_EXTRANEOUS_DATA:
	case JWRN_HUFF_BAD_CODE:
	case JWRN_ARITH_BAD_CODE:
	case JWRN_MUST_RESYNC:
	case JWRN_BOGUS_PROGRESSION:
	case JWRN_NOT_SEQUENTIAL:
		longjmp(((ec_err *)c->err)->jb, 1);
	}
}

static void ec_output(j_common_ptr c) { (void)c; }

static void ec_init_err(ec_err *e, struct jpeg_error_mgr **slot) {
	*slot = jpeg_std_error(&e->pub);
	e->pub.error_exit = ec_error_exit;
	e->pub.emit_message = ec_emit;
	e->pub.output_message = ec_output;
	e->eof = 0;
	e->scans = 0;
}

// ec_progress stops a decode that reads more than EC_MAX_SCANS scans (libjpeg calls it between
// scans and every few rows while it reads a multi-scan file).
static void ec_progress(j_common_ptr c) {
	if (((j_decompress_ptr)c)->input_scan_number > EC_MAX_SCANS) {
		((ec_err *)c->err)->scans = 1;
		longjmp(((ec_err *)c->err)->jb, 1);
	}
}

// ec_decode decodes data at 1/scale into dst, BGR 8-bit rows of dst_step bytes, as OpenCV 4.6's
// JpegDecoder does for IMREAD_COLOR (JDCT_ISLOW and fancy upsampling, libjpeg's defaults): gray
// replicated to three channels, CMYK converted with OpenCV's formula. When the output size is
// not dst_w x dst_h it sets r's size, status EC_SIZE and decodes nothing. A frame over
// max_pixels (the size libjpeg itself read, whatever another header parser saw) gets EC_LIMIT
// with the full size in r, before anything the size sets is allocated; libjpeg's own memory
// (the coefficients of a progressive or multi-scan file) is capped to what a max_pixels image
// needs.
void ec_decode(const unsigned char *data, size_t len, int scale, long long max_pixels, unsigned char *dst,
	int dst_w, int dst_h, size_t dst_step, ec_result *r) {
	struct jpeg_decompress_struct c;
	struct jpeg_progress_mgr progress;
	ec_err e;
	memset(r, 0, sizeof *r);
	memset(&c, 0, sizeof c);
	memset(&progress, 0, sizeof progress);
	ec_init_err(&e, &c.err);
	if (setjmp(e.jb)) {
		if (e.scans)
			snprintf(r->msg, sizeof r->msg, "progressive JPEG with more than %d scans", EC_MAX_SCANS);
		else
			(*c.err->format_message)((j_common_ptr)&c, r->msg);
		jpeg_destroy_decompress(&c);
		r->status = e.scans ? EC_SCANS : e.eof ? EC_TRUNCATED : EC_ERROR;
		r->eof = e.eof;
		return;
	}
	jpeg_create_decompress(&c);
	// The whole-image coefficient buffer of a max_pixels image with three full-resolution
	// components (64 coefficients of 2 bytes per 8x8 block: 6 bytes a pixel), plus room for the
	// per-row buffers. Without a backing store libjpeg fails ("Backing store not supported")
	// rather than go over it.
	c.mem->max_memory_to_use = (long)(max_pixels * 6 + (32L << 20));
	progress.progress_monitor = ec_progress;
	c.progress = &progress;
	jpeg_mem_src(&c, data, (unsigned long)len);
	jpeg_read_header(&c, TRUE);
	if (c.image_width == 0 || c.image_height == 0 || (long long)c.image_width * c.image_height > max_pixels) {
		r->width = (int)c.image_width;
		r->height = (int)c.image_height;
		r->components = c.num_components;
		jpeg_destroy_decompress(&c);
		r->status = EC_LIMIT;
		return;
	}
	c.scale_num = 1;
	c.scale_denom = scale;
	c.dct_method = JDCT_ISLOW;
	c.do_fancy_upsampling = TRUE;
	c.out_color_space = c.num_components == 4 ? JCS_CMYK : JCS_EXT_BGR;
	jpeg_calc_output_dimensions(&c);
	r->width = (int)c.output_width;
	r->height = (int)c.output_height;
	r->components = c.num_components;
	if (dst == NULL || r->width != dst_w || r->height != dst_h) {
		jpeg_destroy_decompress(&c);
		r->status = EC_SIZE;
		return;
	}
	jpeg_start_decompress(&c);
	if (c.out_color_space == JCS_CMYK) {
		JSAMPARRAY row = (*c.mem->alloc_sarray)((j_common_ptr)&c, JPOOL_IMAGE, c.output_width * 4, 1);
		while (c.output_scanline < c.output_height) {
			unsigned char *out = dst + (size_t)c.output_scanline * dst_step;
			if (jpeg_read_scanlines(&c, row, 1) != 1)
				ERREXIT(&c, JERR_INPUT_EMPTY);
			// OpenCV's icvCvt_CMYK2BGR_8u_C4C3R, which takes Adobe's inverted CMYK.
			const unsigned char *p = row[0];
			for (JDIMENSION x = 0; x < c.output_width; x++, p += 4, out += 3) {
				int k = p[3];
				out[2] = (unsigned char)(k - ((255 - p[0]) * k >> 8));
				out[1] = (unsigned char)(k - ((255 - p[1]) * k >> 8));
				out[0] = (unsigned char)(k - ((255 - p[2]) * k >> 8));
			}
		}
	} else {
		JSAMPROW rows[16];
		while (c.output_scanline < c.output_height) {
			JDIMENSION n = c.output_height - c.output_scanline;
			if (n > 16)
				n = 16;
			for (JDIMENSION i = 0; i < n; i++)
				rows[i] = dst + (size_t)(c.output_scanline + i) * dst_step;
			if (jpeg_read_scanlines(&c, rows, n) == 0)
				ERREXIT(&c, JERR_INPUT_EMPTY);
		}
	}
	jpeg_finish_decompress(&c);
	jpeg_destroy_decompress(&c);
}

typedef struct {
	struct jpeg_destination_mgr pub;
	ec_encoder *e;
} ec_dest;

static void ec_dest_init(j_compress_ptr c) {
	ec_dest *d = (ec_dest *)c->dest;
	d->pub.next_output_byte = d->e->buf;
	d->pub.free_in_buffer = d->e->cap;
}

// ec_dest_grow doubles the buffer; the bytes written so far stay in it.
static boolean ec_dest_grow(j_compress_ptr c) {
	ec_dest *d = (ec_dest *)c->dest;
	size_t old = d->e->cap, cap = old * 2;
	unsigned char *buf = realloc(d->e->buf, cap);
	if (buf == NULL)
		ERREXIT1(c, JERR_OUT_OF_MEMORY, 10);
	d->e->buf = buf;
	d->e->cap = cap;
	d->pub.next_output_byte = buf + old;
	d->pub.free_in_buffer = cap - old;
	return TRUE;
}

static void ec_dest_term(j_compress_ptr c) {
	ec_dest *d = (ec_dest *)c->dest;
	d->e->len = d->e->cap - d->pub.free_in_buffer;
}

// ec_encode encodes a w x h image of 1 (gray), 3 (BGR) or 4 (BGRA, alpha ignored) channels as
// OpenCV 4.6's JpegEncoder does with its defaults (jpeg_set_defaults, baseline quality tables,
// 4:2:0), into e->buf; e->len is the size. It returns 0, or -1 with e->msg set.
int ec_encode(ec_encoder *e, const unsigned char *src, int w, int h, size_t step, int channels, int quality) {
	struct jpeg_compress_struct c;
	ec_err err;
	ec_dest dest;
	e->len = 0;
	e->msg[0] = 0;
	if (e->buf == NULL) {
		size_t cap = (size_t)w * h * channels / 8 + 4096;
		e->buf = malloc(cap);
		if (e->buf == NULL) {
			snprintf(e->msg, sizeof e->msg, "out of memory");
			return -1;
		}
		e->cap = cap;
	}
	memset(&c, 0, sizeof c);
	ec_init_err(&err, &c.err);
	if (setjmp(err.jb)) {
		(*c.err->format_message)((j_common_ptr)&c, e->msg);
		jpeg_destroy_compress(&c);
		return -1;
	}
	jpeg_create_compress(&c);
	dest.pub.init_destination = ec_dest_init;
	dest.pub.empty_output_buffer = ec_dest_grow;
	dest.pub.term_destination = ec_dest_term;
	dest.e = e;
	c.dest = &dest.pub;
	c.image_width = (JDIMENSION)w;
	c.image_height = (JDIMENSION)h;
	c.input_components = channels == 1 ? 1 : channels;
	c.in_color_space = channels == 1 ? JCS_GRAYSCALE : channels == 4 ? JCS_EXT_BGRX : JCS_EXT_BGR;
	jpeg_set_defaults(&c);
	jpeg_set_quality(&c, quality, TRUE);
	jpeg_start_compress(&c, TRUE);
	while (c.next_scanline < c.image_height) {
		JSAMPROW row = (JSAMPROW)(src + (size_t)c.next_scanline * step);
		jpeg_write_scanlines(&c, &row, 1);
	}
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
	return 0;
}

void ec_encoder_free(ec_encoder *e) {
	free(e->buf);
	e->buf = NULL;
	e->cap = 0;
	e->len = 0;
}
