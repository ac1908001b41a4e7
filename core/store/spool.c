/*
 * spool.c: the ledger's spool file (spool.h).
 *
 * Format: one line per row, tab-separated, text fields escaped (backslash,
 * tab and newline as \\ \t \n):
 *
 *   L1 uid reservation_id time_ms route provider model input_tokens
 *   output_tokens cache_read_tokens cache_write_tokens cache_write_1h_tokens
 *   reasoning_tokens usage_estimated cost_usd unpriced latency_us outcome
 *   error_class cache_hit attempts response_id checksum
 *
 * or, since client keys (keys.h), L2 with key_id team operator_test and the
 * three scope reservations after response_id (L1 lines are still read).
 *
 * checksum is the FNV-1a (32 bits, 8 hex digits) of the line before its last
 * tab. A line without its newline is a torn append (a crash or power loss
 * during the write, before the fsync that would have let its request be
 * answered): spool_open cuts it off. A line whose checksum does not match is
 * skipped by spool_read.
 */
#include "store/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/util.h"

#define SPOOL_FIELDS 23
#define SPOOL_FIELDS_L2 29

struct spool {
	char *path;
	int fd;
	int64_t rows, max_rows;
	off_t size;
};

static uint32_t
spool_fnv(const char *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 16777619u;
	}
	return h;
}

static void
spool_put_text(struct buf *b, const char *s)
{
	buf_append(b, "\t", 1);
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			buf_puts(b, "\\\\");
		else if (*s == '\t')
			buf_puts(b, "\\t");
		else if (*s == '\n')
			buf_puts(b, "\\n");
		else
			buf_append(b, s, 1);
	}
}

static void
spool_put_int(struct buf *b, int64_t v)
{
	buf_printf(b, "\t%" PRId64, v);
}

static void
spool_format(struct buf *b, const struct spool_rec *r)
{
	const struct ledger_row *w = &r->row;
	size_t start = b->len;

	buf_puts(b, "L2");
	spool_put_text(b, r->uid);
	spool_put_int(b, r->reservation_id);
	spool_put_int(b, w->time_ms);
	spool_put_text(b, w->route);
	spool_put_text(b, w->provider);
	spool_put_text(b, w->model);
	spool_put_int(b, w->input_tokens);
	spool_put_int(b, w->output_tokens);
	spool_put_int(b, w->cache_read_tokens);
	spool_put_int(b, w->cache_write_tokens);
	spool_put_int(b, w->cache_write_1h_tokens);
	spool_put_int(b, w->reasoning_tokens);
	spool_put_int(b, w->usage_estimated);
	buf_printf(b, "\t%.17g", w->cost_usd);
	spool_put_int(b, w->unpriced);
	spool_put_int(b, (int64_t)w->latency_us);
	spool_put_text(b, w->outcome);
	spool_put_text(b, w->error_class);
	spool_put_int(b, w->cache_hit);
	spool_put_int(b, w->attempts);
	spool_put_text(b, w->response_id);
	spool_put_text(b, w->key_id);
	spool_put_text(b, w->team);
	spool_put_int(b, w->operator_test);
	for (int k = 0; k < LEDGER_SCOPES; k++)
		spool_put_int(b, w->scope_res[k]);
	buf_printf(b, "\t%08x\n", spool_fnv(b->data + start, b->len - start));
}

/* Unescape field f into dst (len bytes, cut to fit). */
static void
spool_get_text(char *dst, size_t len, const char *f)
{
	size_t n = 0;

	for (; *f != '\0' && *f != '\t' && *f != '\n'; f++) {
		char c = *f;

		if (c == '\\' && f[1] != '\0') {
			f++;
			c = *f == 't' ? '\t' : *f == 'n' ? '\n' : *f;
		}
		if (n + 1 < len)
			dst[n++] = c;
	}
	if (len > 0)
		dst[n] = '\0';
}

/* One line (without its newline) into r: 0, or -1 if it is not a whole, intact record. */
static int
spool_parse(const char *line, size_t n, struct spool_rec *r)
{
	const char *f[SPOOL_FIELDS_L2 + 1];
	const char *last;
	char *copy, *p;
	int nf = 0, rc = -1, want;
	unsigned long sum;

	last = memrchr(line, '\t', n);
	if (last == NULL || n < 3 || (memcmp(line, "L1\t", 3) != 0 && memcmp(line, "L2\t", 3) != 0))
		return -1;
	want = line[1] == '2' ? SPOOL_FIELDS_L2 : SPOOL_FIELDS;
	sum = strtoul(last + 1, NULL, 16);
	if (spool_fnv(line, (size_t)(last - line)) != (uint32_t)sum)
		return -1;
	copy = xmalloc(n + 1);
	memcpy(copy, line, n);
	copy[n] = '\0';
	for (p = copy; nf <= want && p != NULL; nf++) {
		f[nf] = p;
		p = strchr(p, '\t');
		if (p != NULL)
			p++;
	}
	if (nf != want)
		goto out;
	memset(r, 0, sizeof *r);
	spool_get_text(r->uid, sizeof r->uid, f[1]);
	r->reservation_id = strtoll(f[2], NULL, 10);
	r->row.time_ms = strtoll(f[3], NULL, 10);
	spool_get_text(r->row.route, sizeof r->row.route, f[4]);
	spool_get_text(r->row.provider, sizeof r->row.provider, f[5]);
	spool_get_text(r->row.model, sizeof r->row.model, f[6]);
	r->row.input_tokens = strtoll(f[7], NULL, 10);
	r->row.output_tokens = strtoll(f[8], NULL, 10);
	r->row.cache_read_tokens = strtoll(f[9], NULL, 10);
	r->row.cache_write_tokens = strtoll(f[10], NULL, 10);
	r->row.cache_write_1h_tokens = strtoll(f[11], NULL, 10);
	r->row.reasoning_tokens = strtoll(f[12], NULL, 10);
	r->row.usage_estimated = (int)strtol(f[13], NULL, 10);
	r->row.cost_usd = strtod(f[14], NULL);
	r->row.unpriced = (int)strtol(f[15], NULL, 10);
	r->row.latency_us = strtoull(f[16], NULL, 10);
	spool_get_text(r->row.outcome, sizeof r->row.outcome, f[17]);
	spool_get_text(r->row.error_class, sizeof r->row.error_class, f[18]);
	r->row.cache_hit = (int)strtol(f[19], NULL, 10);
	r->row.attempts = (int)strtol(f[20], NULL, 10);
	spool_get_text(r->row.response_id, sizeof r->row.response_id, f[21]);
	if (want == SPOOL_FIELDS_L2) {
		spool_get_text(r->row.key_id, sizeof r->row.key_id, f[22]);
		spool_get_text(r->row.team, sizeof r->row.team, f[23]);
		r->row.operator_test = (int)strtol(f[24], NULL, 10);
		for (int k = 0; k < LEDGER_SCOPES; k++)
			r->row.scope_res[k] = strtoll(f[25 + k], NULL, 10);
	}
	rc = r->uid[0] != '\0' ? 0 : -1;
out:
	free(copy);
	return rc;
}

/* The whole file into *data (caller frees); its length, or -1. */
static ssize_t
spool_slurp(struct spool *sp, char **data)
{
	struct stat st;
	ssize_t got = 0, n;

	*data = NULL;
	if (fstat(sp->fd, &st) != 0)
		return -1;
	*data = xmalloc((size_t)st.st_size + 1);
	while (got < st.st_size &&
	    (n = pread(sp->fd, *data + got, (size_t)(st.st_size - got), got)) > 0)
		got += n;
	if (got != st.st_size) {
		free(*data);
		*data = NULL;
		return -1;
	}
	return got;
}

/* Set room for max_rows records aside past the end, so a full disk still takes them. */
static void
spool_reserve(struct spool *sp)
{
	off_t want = (off_t)sp->max_rows * SPOOL_RECORD_RESERVE;

	/* Best effort: a filesystem without fallocate appends into free space as it goes. */
	if (want > sp->size)
		(void)fallocate(sp->fd, FALLOC_FL_KEEP_SIZE, sp->size, want - sp->size);
}

struct spool *
spool_open(const char *path, int64_t max_rows, int *busy, char **cause)
{
	struct spool *sp = xcalloc(1, sizeof *sp);
	char *data, *p, *nl;
	ssize_t len;

	*busy = 0;
	sp->path = xstrdup(path);
	sp->max_rows = max_rows > 0 ? max_rows : SPOOL_DEFAULT_MAX_ROWS;
	sp->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (sp->fd >= 0 && flock(sp->fd, LOCK_EX | LOCK_NB) != 0) {
		*busy = errno == EWOULDBLOCK;
		if (*busy) {
			spool_close(sp);
			return NULL;
		}
	}
	if (sp->fd < 0 || (len = spool_slurp(sp, &data)) < 0) {
		*cause = xasprintf("store: cannot open the ledger's spool %s: %s", path,
		    strerror(errno));
		spool_close(sp);
		return NULL;
	}
	for (p = data; p < data + len && (nl = memchr(p, '\n', (size_t)(data + len - p))) != NULL;
	     p = nl + 1) {
		struct spool_rec r;

		if (spool_parse(p, (size_t)(nl - p), &r) == 0)
			sp->rows++;
	}
	sp->size = p - data;
	free(data);
	if (sp->size != len && (ftruncate(sp->fd, sp->size) != 0 || fsync(sp->fd) != 0)) {
		*cause = xasprintf("store: cannot repair the ledger's spool %s: %s", path,
		    strerror(errno));
		spool_close(sp);
		return NULL;
	}
	spool_reserve(sp);
	return sp;
}

void
spool_close(struct spool *sp)
{
	if (sp == NULL)
		return;
	if (sp->fd >= 0)
		close(sp->fd);
	free(sp->path);
	free(sp);
}

const char *
spool_path(const struct spool *sp)
{
	return sp->path;
}

int64_t
spool_rows(const struct spool *sp)
{
	return sp->rows;
}

int64_t
spool_max(const struct spool *sp)
{
	return sp->max_rows;
}

void
spool_set_max(struct spool *sp, int64_t max_rows)
{
	sp->max_rows = max_rows > 0 ? max_rows : SPOOL_DEFAULT_MAX_ROWS;
	spool_reserve(sp);
}

int
spool_append(struct spool *sp, const struct spool_rec *recs, int n, char **cause)
{
	struct buf b;
	size_t off = 0;
	ssize_t w = -1;

	if (sp->rows >= sp->max_rows)
		return 0;
	if (sp->rows + (int64_t)n > sp->max_rows)
		n = (int)(sp->max_rows - sp->rows);
	if (n == 0)
		return 0;
	buf_init(&b);
	for (int i = 0; i < n; i++)
		spool_format(&b, &recs[i]);
	while (off < b.len) {
		w = pwrite(sp->fd, b.data + off, b.len - off, sp->size + (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		off += (size_t)w;
	}
	if (fdatasync(sp->fd) != 0)
		goto fail;
	sp->size += (off_t)b.len;
	sp->rows += (int64_t)n;
	buf_free(&b);
	return (int)n;
fail:
	*cause = xasprintf("cannot append to the ledger's spool %s: %s", sp->path,
	    w == 0 ? "short write" : strerror(errno));
	(void)ftruncate(sp->fd, sp->size);
	buf_free(&b);
	return -1;
}

int64_t
spool_read(struct spool *sp, struct spool_rec **out, char **cause)
{
	struct spool_rec *recs = NULL;
	char *data, *p, *nl;
	ssize_t len;
	int64_t n = 0;

	*out = NULL;
	if ((len = spool_slurp(sp, &data)) < 0) {
		*cause =
		    xasprintf("cannot read the ledger's spool %s: %s", sp->path, strerror(errno));
		return -1;
	}
	if (len > sp->size)
		len = sp->size;
	for (p = data; p < data + len && (nl = memchr(p, '\n', (size_t)(data + len - p))) != NULL;
	     p = nl + 1) {
		recs = xreallocarray(recs, (size_t)n + 1, sizeof *recs);
		if (spool_parse(p, (size_t)(nl - p), &recs[n]) == 0)
			n++;
	}
	free(data);
	*out = recs;
	return n;
}

int
spool_clear(struct spool *sp, char **cause)
{
	if (ftruncate(sp->fd, 0) != 0 || fsync(sp->fd) != 0) {
		*cause =
		    xasprintf("cannot empty the ledger's spool %s: %s", sp->path, strerror(errno));
		return -1;
	}
	sp->size = 0;
	sp->rows = 0;
	spool_reserve(sp);
	return 0;
}
