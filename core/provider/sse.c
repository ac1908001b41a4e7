/* sse.c: an incremental server-sent events parser. */
#include "provider/sse.h"

#include <stdlib.h>
#include <string.h>

#include "util/util.h"

struct sse_parser {
	struct buf line;  /* the line being read, without its end */
	struct buf event; /* event field of the pending event */
	struct buf data;  /* data lines of the pending event, each followed by \n */
	int has_data;     /* at least one data field seen */
	int after_cr;     /* the last byte was \r: a \n next is part of that line end */
	int first_line;   /* the next line is the stream's first (may carry a BOM) */
	int stopped;      /* stopped: the value sse_feed keeps returning */
	int result;
	const char *error;
	size_t events;
};

struct sse_parser *
sse_new(void)
{
	struct sse_parser *p = xcalloc(1, sizeof *p);

	buf_init(&p->line);
	buf_init(&p->event);
	buf_init(&p->data);
	p->first_line = 1;
	return p;
}

void
sse_free(struct sse_parser *p)
{
	if (p == NULL)
		return;
	buf_free(&p->line);
	buf_free(&p->event);
	buf_free(&p->data);
	free(p);
}

const char *
sse_error(const struct sse_parser *p)
{
	return p->error;
}

size_t
sse_events(const struct sse_parser *p)
{
	return p->events;
}

static int
sse_stop(struct sse_parser *p, int result)
{
	p->stopped = 1;
	p->result = result;
	return result;
}

/* A blank line: hand the pending event over, if it has data, and start afresh. */
static int
sse_dispatch(struct sse_parser *p, sse_event_cb cb, void *arg)
{
	const char *name;
	size_t len;
	int r = 0;

	if (p->has_data) {
		len = p->data.len;
		if (len > 0 && p->data.data[len - 1] == '\n')
			len--;
		p->data.data[len] = '\0';
		name = p->event.len > 0 ? p->event.data : "message";
		p->events++;
		r = cb(arg, name, p->data.data, len);
	}
	buf_reset(&p->event);
	buf_reset(&p->data);
	p->has_data = 0;
	return r != 0 ? sse_stop(p, r) : 0;
}

/* One complete line (without its end) in p->line. */
static int
sse_line(struct sse_parser *p, sse_event_cb cb, void *arg)
{
	const char *s = p->line.data != NULL ? p->line.data : "";
	size_t len = p->line.len, flen;
	const char *colon, *value;
	size_t vlen;

	if (p->first_line) {
		p->first_line = 0;
		if (len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
			s += 3;
			len -= 3;
		}
	}
	if (len == 0)
		return sse_dispatch(p, cb, arg);
	if (s[0] == ':')
		return 0;

	colon = memchr(s, ':', len);
	if (colon != NULL) {
		flen = colon - s;
		value = colon + 1;
		vlen = len - flen - 1;
		if (vlen > 0 && value[0] == ' ') {
			value++;
			vlen--;
		}
	} else {
		flen = len;
		value = "";
		vlen = 0;
	}

	if (flen == 4 && memcmp(s, "data", 4) == 0) {
		buf_append(&p->data, value, vlen);
		buf_append(&p->data, "\n", 1);
		p->has_data = 1;
	} else if (flen == 5 && memcmp(s, "event", 5) == 0) {
		/* The callback gets the name as a string: a NUL would cut it short. */
		if (memchr(value, '\0', vlen) != NULL) {
			p->error = "a NUL byte in an event name";
			return sse_stop(p, -1);
		}
		buf_reset(&p->event);
		buf_append(&p->event, value, vlen);
	}
	/* id, retry and unknown fields are ignored. */
	return 0;
}

static int
sse_end_line(struct sse_parser *p, sse_event_cb cb, void *arg)
{
	int r = sse_line(p, cb, arg);

	buf_reset(&p->line);
	return r;
}

int
sse_feed(struct sse_parser *p, const char *data, size_t len, sse_event_cb cb, void *arg)
{
	size_t i = 0, start;
	int r;

	if (p->stopped)
		return p->result;
	while (i < len) {
		if (p->after_cr) {
			p->after_cr = 0;
			if (data[i] == '\n') {
				i++;
				continue;
			}
		}
		start = i;
		while (i < len && data[i] != '\n' && data[i] != '\r')
			i++;
		if (i > start) {
			if (p->line.len + p->data.len + (i - start) > SSE_MAX_EVENT) {
				p->error = "event larger than the limit";
				return sse_stop(p, -1);
			}
			buf_append(&p->line, data + start, i - start);
		}
		if (i == len)
			break;
		if (data[i] == '\r')
			p->after_cr = 1;
		i++;
		if ((r = sse_end_line(p, cb, arg)) != 0)
			return r;
	}
	return 0;
}

int
sse_finish(struct sse_parser *p, sse_event_cb cb, void *arg)
{
	int r;

	if (p->stopped)
		return p->result;
	if (p->line.len > 0 && (r = sse_end_line(p, cb, arg)) != 0)
		return r;
	return sse_dispatch(p, cb, arg);
}
