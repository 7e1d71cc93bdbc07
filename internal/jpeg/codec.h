// The C half of package jpeg: libjpeg-turbo calls with a setjmp/longjmp error manager that
// never leaves C, so a longjmp never crosses a Go frame.
#include <stddef.h>

enum { EC_OK = 0, EC_SIZE = 1, EC_ERROR = 2, EC_TRUNCATED = 3 };

typedef struct {
	int width, height; // output size at the requested scale
	int components;    // components in the file: 1 gray, 3 colour, 4 CMYK/YCCK
	int status;        // EC_*
	int eof;           // the data ended early: libjpeg inserted an end of image (JWRN_JPEG_EOF)
	char msg[200];     // libjpeg's message (JMSG_LENGTH_MAX) when status is EC_ERROR or EC_TRUNCATED
} ec_result;

void ec_decode(const unsigned char *data, size_t len, int scale, unsigned char *dst, int dst_w, int dst_h,
	size_t dst_step, ec_result *r);

typedef struct {
	unsigned char *buf; // grown with realloc, kept between encodes
	size_t cap;
	size_t len;        // bytes of the last encode
	char msg[200];
} ec_encoder;

int ec_encode(ec_encoder *e, const unsigned char *src, int w, int h, size_t step, int channels, int quality);
void ec_encoder_free(ec_encoder *e);
