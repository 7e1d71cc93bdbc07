// The C half of package jpeg: libjpeg-turbo calls with a setjmp/longjmp error manager that
// never leaves C, so a longjmp never crosses a Go frame.
#include <stddef.h>

enum { EC_OK = 0, EC_SIZE = 1, EC_ERROR = 2, EC_TRUNCATED = 3, EC_LIMIT = 4, EC_SCANS = 5 };

// EC_MAX_SCANS is the most scans ec_decode reads from a progressive JPEG. Each scan is a pass
// over every block of the image's coefficients, so a file of a few hundred kilobytes holding
// tens of thousands of tiny scans takes seconds to minutes to decode; real encoders write about
// 10 (libjpeg's default progression) and rarely over 100. TurboJPEG's fuzzers stop at 500 too.
#define EC_MAX_SCANS 500

typedef struct {
	int width, height; // output size at the requested scale; EC_LIMIT: the image's full size
	int components;    // components in the file: 1 gray, 3 colour, 4 CMYK/YCCK
	int status;        // EC_*: EC_LIMIT when the frame libjpeg read is over max_pixels, EC_SCANS
	                   // when a progressive file has more than EC_MAX_SCANS scans
	int eof;           // the data ended early: libjpeg inserted an end of image (JWRN_JPEG_EOF)
	char msg[200];     // libjpeg's message (JMSG_LENGTH_MAX) when status is EC_ERROR or EC_TRUNCATED
} ec_result;

void ec_decode(const unsigned char *data, size_t len, int scale, long long max_pixels, unsigned char *dst,
	int dst_w, int dst_h, size_t dst_step, ec_result *r);

typedef struct {
	unsigned char *buf; // grown with realloc, kept between encodes
	size_t cap;
	size_t len;        // bytes of the last encode
	char msg[200];
} ec_encoder;

int ec_encode(ec_encoder *e, const unsigned char *src, int w, int h, size_t step, int channels, int quality);
void ec_encoder_free(ec_encoder *e);
