/*
 * sim_image.c: image inputs as the providers check them: valid base64, one of
 * the four types they take (PNG, JPEG, GIF, WebP, told by the bytes' magic
 * numbers), and what an image counts for in input tokens (from its size when
 * a PNG or GIF header gives it: width x height / 750, Anthropic's rule; else
 * SIM_IMAGE_TOKENS).
 */
#include "sim/sim_gen.h"

#include <string.h>

static const char *const allowed_types[] = {"image/jpeg", "image/png", "image/gif", "image/webp"};

int
sim_image_type_allowed(const char *t)
{
	for (size_t i = 0; i < sizeof allowed_types / sizeof allowed_types[0]; i++)
		if (t != NULL && strcmp(t, allowed_types[i]) == 0)
			return 1;
	return 0;
}

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Validate standard base64 (padding optional) and decode its first outsz bytes;
 * -1 if invalid, else the decoded length. */
static long
b64_head(const char *s, size_t len, unsigned char *out, size_t outsz)
{
	uint32_t acc = 0;
	int bits = 0, v;
	size_t n = 0, i, pad = 0;

	while (len > 0 && s[len - 1] == '=' && pad < 2) {
		len--;
		pad++;
	}
	if (len % 4 == 1 || (pad > 0 && (len + pad) % 4 != 0))
		return -1;
	for (i = 0; i < len; i++) {
		if ((v = b64_value((unsigned char)s[i])) < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n < outsz)
				out[n] = (unsigned char)(acc >> bits);
			n++;
		}
	}
	return (long)n;
}

enum sim_image_status
sim_image_check(const char *b64, size_t len, const char *declared, const char **sniffed,
    long *tokens)
{
	unsigned char h[32];
	long n;
	const char *t = NULL;
	uint32_t w = 0, ht = 0;

	*sniffed = NULL;
	*tokens = SIM_IMAGE_TOKENS;
	if (len == 0)
		return SIM_IMAGE_EMPTY;
	memset(h, 0, sizeof h);
	if ((n = b64_head(b64, len, h, sizeof h)) < 0)
		return SIM_IMAGE_BASE64;
	if (n >= 24 && memcmp(h, "\x89PNG\r\n\x1a\n", 8) == 0) {
		t = "image/png";
		w = (uint32_t)h[16] << 24 | (uint32_t)h[17] << 16 | (uint32_t)h[18] << 8 | h[19];
		ht = (uint32_t)h[20] << 24 | (uint32_t)h[21] << 16 | (uint32_t)h[22] << 8 | h[23];
	} else if (n >= 3 && h[0] == 0xff && h[1] == 0xd8 && h[2] == 0xff)
		t = "image/jpeg";
	else if (n >= 10 && (memcmp(h, "GIF87a", 6) == 0 || memcmp(h, "GIF89a", 6) == 0)) {
		t = "image/gif";
		w = (uint32_t)h[6] | (uint32_t)h[7] << 8;
		ht = (uint32_t)h[8] | (uint32_t)h[9] << 8;
	} else if (n >= 12 && memcmp(h, "RIFF", 4) == 0 && memcmp(h + 8, "WEBP", 4) == 0)
		t = "image/webp";
	if (t == NULL)
		return SIM_IMAGE_FORMAT;
	*sniffed = t;
	if (w > 0 && ht > 0 && w <= 100000 && ht <= 100000) {
		*tokens = (long)(((uint64_t)w * ht + 749) / 750);
		if (*tokens < SIM_IMAGE_TOKENS)
			*tokens = SIM_IMAGE_TOKENS;
	}
	if (declared != NULL && strcmp(declared, t) != 0)
		return SIM_IMAGE_MISMATCH;
	return SIM_IMAGE_OK;
}
