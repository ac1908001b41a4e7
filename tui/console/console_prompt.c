/*
 * console_prompt.c: the test prompt panel. A multi-line UTF-8 editor, a route,
 * provider, model and temperature picker, and the answer streaming in: the
 * router's delta and done callbacks run on the engine thread, append to a
 * buffer under a mutex and wake the UI thread through the console's pipe.
 */
#include "console/console.h"

#include <curses.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "util/util.h"

const char *const prompt_keys_help =
    "Prompt: Enter new line, Ctrl-D or Alt-Enter send, Ctrl-X cancel, "
    "Tab/Shift-Tab next field, Left/Right change it, Esc close.";

enum prompt_field { PF_TEXT, PF_ROUTE, PF_PROVIDER, PF_MODEL, PF_TEMP, PF__COUNT };

static const char *const temps[] = {"default", "0", "0.2", "0.7", "1.0"};

struct prompt {
	struct console *c;
	struct buf text;
	enum prompt_field field;
	int route;    /* index into cfg routes, -1: none */
	int provider; /* -1: any */
	int model;    /* index into the models the providers serve, -1: default */
	int temp;
	char **models; /* aliases served by some provider */
	size_t n_models;

	pthread_mutex_t mu; /* the rest is shared with the engine thread */
	uint64_t gen;       /* the request the panel waits for */
	uint64_t rid;       /* its router id, for Ctrl-X */
	int busy;
	int changed;
	struct buf answer;
	struct router_result *res;
	uint64_t res_gen;
	char summary[1024];
	char **attempts; /* one line each */
	size_t n_attempts;
};

struct prompt_req {
	struct prompt *p;
	uint64_t gen;
};

struct prompt *
prompt_new(struct console *c)
{
	struct prompt *p = xcalloc(1, sizeof *p);

	p->c = c;
	buf_init(&p->text);
	buf_init(&p->answer);
	pthread_mutex_init(&p->mu, NULL);
	p->route = p->provider = p->model = -1;
	p->temp = 1;
	for (size_t i = 0; i < c->cfg.n_providers; i++)
		for (size_t k = 0; k < c->cfg.providers[i].n_models; k++) {
			const char *m = c->cfg.providers[i].models[k];
			size_t j;
			for (j = 0; j < p->n_models; j++)
				if (strcmp(p->models[j], m) == 0)
					break;
			if (j < p->n_models)
				continue;
			p->models = xreallocarray(p->models, p->n_models + 1, sizeof *p->models);
			p->models[p->n_models++] = xstrdup(m);
		}
	return p;
}

static void
prompt_clear_result(struct prompt *p)
{
	for (size_t i = 0; i < p->n_attempts; i++)
		free(p->attempts[i]);
	free(p->attempts);
	p->attempts = NULL;
	p->n_attempts = 0;
	p->summary[0] = '\0';
	if (p->res != NULL) {
		router_result_free(p->res);
		free(p->res);
		p->res = NULL;
	}
}

void
prompt_free(struct prompt *p)
{
	if (p == NULL)
		return;
	prompt_clear_result(p);
	for (size_t i = 0; i < p->n_models; i++)
		free(p->models[i]);
	free(p->models);
	buf_free(&p->text);
	buf_free(&p->answer);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

void
prompt_open(struct console *c)
{
	c->mode = MODE_PROMPT;
	c->prompt->field = PF_TEXT;
	c->message[0] = '\0';
	c->dirty = 1;
}

/* Engine thread: a piece of the answer. */
static void
prompt_delta(void *arg, const struct llm_delta *d)
{
	struct prompt_req *pr = arg;
	struct prompt *p = pr->p;

	if (d->type != LLM_DELTA_TEXT)
		return;
	pthread_mutex_lock(&p->mu);
	if (pr->gen == p->gen) {
		buf_append(&p->answer, d->text, d->len);
		p->changed = 1;
	}
	pthread_mutex_unlock(&p->mu);
	console_wake(p->c);
}

/* Engine thread: the result; the UI thread formats it in prompt_poll(). */
static void
prompt_done(void *arg, struct router_result *res)
{
	struct prompt_req *pr = arg;
	struct prompt *p = pr->p;

	pthread_mutex_lock(&p->mu);
	if (pr->gen == p->gen) {
		if (p->res != NULL) {
			router_result_free(p->res);
			free(p->res);
		}
		p->res = res;
		p->res_gen = pr->gen;
		p->busy = 0;
		p->changed = 1;
		res = NULL;
	}
	pthread_mutex_unlock(&p->mu);
	if (res != NULL) {
		router_result_free(res);
		free(res);
	}
	free(pr);
	console_wake(p->c);
}

static void
prompt_send(struct console *c)
{
	struct prompt *p = c->prompt;
	struct llm_request req;
	struct prompt_req *pr;
	uint64_t rid, pr_gen;

	if (c->readonly) {
		console_message(c, 1, "read-only: prompts are refused");
		return;
	}
	if (p->text.len == 0 || p->text.data[strspn(p->text.data, " \t\r\n")] == '\0') {
		console_message(c, 1, "the prompt is empty: type something first");
		return;
	}
	llm_request_init(&req);
	if (p->route >= 0)
		req.route = xstrdup(c->cfg.routes[p->route].name);
	if (p->provider >= 0)
		req.provider = xstrdup(c->cfg.providers[p->provider].name);
	if (p->model >= 0)
		req.model = xstrdup(p->models[p->model]);
	if (p->temp > 0) {
		req.has_temperature = 1;
		req.temperature = strtod(temps[p->temp], NULL);
	}
	req.stream = 1;
	llm_request_add_message(&req, LLM_ROLE_USER, p->text.data);
	pr = xcalloc(1, sizeof *pr);
	pr->p = p;
	pthread_mutex_lock(&p->mu);
	pr_gen = pr->gen = ++p->gen;
	p->busy = 1;
	p->rid = 0;
	buf_reset(&p->answer);
	prompt_clear_result(p);
	pthread_mutex_unlock(&p->mu);
	console_message(c, 0, "sending... (Ctrl-X cancels)");
	rid = router_submit(c->router, &req, prompt_delta, prompt_done, pr);
	llm_request_free(&req);
	pthread_mutex_lock(&p->mu);
	if (p->gen == pr_gen)
		p->rid = rid;
	pthread_mutex_unlock(&p->mu);
}

/* Ctrl-X: abort the prompt in flight; the router ledgers it as cancelled. */
static void
prompt_cancel(struct console *c)
{
	struct prompt *p = c->prompt;
	uint64_t rid;

	pthread_mutex_lock(&p->mu);
	rid = p->busy ? p->rid : 0;
	pthread_mutex_unlock(&p->mu);
	if (rid == 0) {
		console_message(c, 1, "nothing to cancel: no prompt in flight");
		return;
	}
	router_cancel(c->router, rid);
	console_message(c, 0, "cancelling the prompt in flight");
}

int
prompt_poll(struct console *c)
{
	struct prompt *p = c->prompt;
	struct router_result *res;
	int changed;

	pthread_mutex_lock(&p->mu);
	changed = p->changed;
	p->changed = 0;
	res = p->res != NULL && p->n_attempts == 0 && p->summary[0] == '\0' ? p->res : NULL;
	pthread_mutex_unlock(&p->mu);
	if (res == NULL)
		return changed;
	/* Only the UI thread reads res once done has set it. */
	if (res->cls == LLM_OK)
		snprintf(p->summary, sizeof p->summary,
		    "answered by %s (%s) in %.0f ms, tokens "
		    "%lld in / %lld out, cost %s%.6f%s%s",
		    res->provider, res->model, (double)res->latency_us / 1000.0,
		    (long long)res->resp.usage.input_tokens,
		    (long long)res->resp.usage.output_tokens, res->unpriced ? "unpriced " : "$",
		    res->unpriced ? 0.0 : res->cost_usd,
		    res->cached ? ", cache hit" : ", cache miss", res->route[0] != '\0' ? "" : "");
	else
		snprintf(p->summary, sizeof p->summary, "FAILED: %s: %s",
		    llm_errclass_name(res->cls), res->err.message);
	p->attempts = xcalloc(res->n_attempts + 1, sizeof *p->attempts);
	for (size_t i = 0; i < res->n_attempts; i++) {
		const struct router_attempt *a = &res->attempts[i];
		char st[16] = "";
		if (a->status != 0)
			snprintf(st, sizeof st, "HTTP %d ", a->status);
		if (a->cls == LLM_OK)
			p->attempts[i] = xasprintf("attempt %zu: %s (%s) ok %s%.0f ms", i + 1,
			    a->provider, a->model, st, (double)a->latency_us / 1000.0);
		else
			p->attempts[i] = xasprintf("attempt %zu: %s (%s) %s%s: %s (%.0f ms)", i + 1,
			    a->provider, a->model, st, llm_errclass_name(a->cls), a->error,
			    (double)a->latency_us / 1000.0);
	}
	p->n_attempts = res->n_attempts;
	console_message(c, res->cls != LLM_OK, "%s", p->summary);
	return 1;
}

static void
cycle(int *v, int lo, int n, int dir)
{
	int span = n - lo;

	if (span <= 0)
		return;
	*v = lo + ((*v - lo + dir) % span + span) % span;
}

void
prompt_key(struct console *c, int is_key, unsigned int ch)
{
	struct prompt *p = c->prompt;
	int dir = 0;

	c->dirty = 1;
	if ((is_key && ch == KEY_SEND) || (!is_key && ch == 4)) {
		prompt_send(c);
		return;
	}
	if (!is_key && ch == 24) {
		prompt_cancel(c);
		return;
	}
	if (!is_key && ch == 27) {
		c->mode = MODE_DASHBOARD;
		return;
	}
	if (!is_key && ch == '\t') {
		p->field = (p->field + 1) % PF__COUNT;
		return;
	}
	if (is_key && ch == KEY_BTAB) {
		p->field = (p->field + PF__COUNT - 1) % PF__COUNT;
		return;
	}
	if (p->field != PF_TEXT) {
		if (is_key && ch == KEY_LEFT)
			dir = -1;
		else if ((is_key && ch == KEY_RIGHT) || (!is_key && ch == ' '))
			dir = 1;
		if (dir == 0)
			return;
		switch (p->field) {
		case PF_ROUTE: cycle(&p->route, -1, (int)c->cfg.n_routes, dir); break;
		case PF_PROVIDER: cycle(&p->provider, -1, (int)c->cfg.n_providers, dir); break;
		case PF_MODEL: cycle(&p->model, -1, (int)p->n_models, dir); break;
		case PF_TEMP: cycle(&p->temp, 0, (int)nitems(temps), dir); break;
		default: break;
		}
		return;
	}
	if (is_key && ch == KEY_ENTER)
		ch = '\r', is_key = 0;
	if (is_key && ch == KEY_BACKSPACE)
		ch = 127, is_key = 0;
	if (is_key)
		return;
	if (ch == '\r' || ch == '\n') {
		buf_append(&p->text, "\n", 1);
	} else if (ch == 127 || ch == 8) {
		while (p->text.len > 0 &&
		    ((unsigned char)p->text.data[--p->text.len] & 0xc0) == 0x80)
			;
		if (p->text.data != NULL)
			p->text.data[p->text.len] = '\0';
	} else if (ch == 21) {
		buf_reset(&p->text);
	} else if (ch >= 32) {
		char mb[MB_LEN_MAX];
		mbstate_t ps;
		size_t n;
		memset(&ps, 0, sizeof ps);
		n = wcrtomb(mb, (wchar_t)ch, &ps);
		if (n != (size_t)-1)
			buf_append(&p->text, mb, n);
	}
}

/* Wrap UTF-8 text into rows of w columns; calls put for each row (NULL: count only). */
static int
wrap_text(const char *s, int y, int x, int w, int max_rows, int skip, int *cur_y, int *cur_x)
{
	int row = 0, col = 0;
	mbstate_t ps;
	wchar_t wc;
	size_t n;

	memset(&ps, 0, sizeof ps);
	while (*s != '\0') {
		int cw;
		if (*s == '\n') {
			row++;
			col = 0;
			s++;
			continue;
		}
		n = mbrtowc(&wc, s, MB_CUR_MAX, &ps);
		if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
			memset(&ps, 0, sizeof ps);
			s++;
			continue;
		}
		cw = wcwidth(wc);
		cw = cw < 0 ? 0 : cw;
		if (col + cw > w) {
			row++;
			col = 0;
		}
		if (row - skip >= 0 && row - skip < max_rows && y >= 0)
			mvaddnstr(y + row - skip, x + col, s, (int)n);
		col += cw;
		s += n;
	}
	if (cur_y != NULL) {
		*cur_y = y + row - skip;
		*cur_x = x + col;
	}
	return row + 1;
}

void
prompt_draw(struct console *c, int y, int x, int h, int w)
{
	struct prompt *p = c->prompt;
	static int cy = -1, cx = -1;
	const char *vals[PF__COUNT];
	static const char *const labels[PF__COUNT] = {
	    "", "route", "provider", "model", "temperature"};
	int ix = x + 2, iw = w - 4, row, text_h, ans_h, rows, cyy, cxx, busy;
	char tbuf[64];

	if (y < 0) {
		if (cy >= 0 && p->field == PF_TEXT) {
			curs_set(1);
			move(cy, cx);
		} else
			curs_set(0);
		return;
	}
	attrset(color_attr(c, TC_NORMAL));
	for (int r = y; r < y + h; r++)
		for (int k = x; k < x + w; k++)
			mvaddch(r, k, ' ');
	pthread_mutex_lock(&p->mu);
	busy = p->busy;
	pthread_mutex_unlock(&p->mu);
	snprintf(tbuf, sizeof tbuf, "Test prompt%s", busy ? " (streaming...)" : "");
	/* Box, title, then the pickers on the first row. */
	draw_box(c, y, x, h, w, tbuf);
	vals[PF_TEXT] = "";
	vals[PF_ROUTE] = p->route >= 0 ? c->cfg.routes[p->route].name : "(none)";
	vals[PF_PROVIDER] = p->provider >= 0 ? c->cfg.providers[p->provider].name : "(any)";
	vals[PF_MODEL] = p->model >= 0 ? p->models[p->model] : "(default)";
	vals[PF_TEMP] = temps[p->temp];
	row = y + 1;
	{
		int px = ix;
		for (int f = PF_ROUTE; f < PF__COUNT; f++) {
			char cell[160];
			snprintf(cell, sizeof cell, "%s: %s%s%s", labels[f],
			    f == (int)p->field ? "< " : "", vals[f],
			    f == (int)p->field ? " >" : "");
			attrset(color_attr(c, f == (int)p->field ? TC_SELECTED : TC_NORMAL));
			draw_put(row, px, ix + iw - px, cell);
			px += draw_text_width(cell) + 3;
		}
	}
	attrset(color_attr(c, TC_DIM));
	draw_put(row + 1, ix, iw, prompt_keys_help);
	/* The editor. */
	text_h = (h - 5) / 3;
	text_h = text_h < 2 ? 2 : text_h;
	attrset(color_attr(c, p->field == PF_TEXT ? TC_TITLE : TC_DIM));
	draw_put(row + 2, ix, iw, p->field == PF_TEXT ? "prompt (editing):" : "prompt:");
	attrset(color_attr(c, TC_NORMAL));
	rows = wrap_text(p->text.data != NULL ? p->text.data : "", -1, 0, iw, 0, 0, NULL, NULL);
	wrap_text(p->text.data != NULL ? p->text.data : "", row + 3, ix, iw, text_h,
	    rows > text_h ? rows - text_h : 0, &cyy, &cxx);
	cy = cyy, cx = cxx;
	/* The answer, its result line and every attempt. */
	row = row + 3 + text_h;
	attrset(color_attr(c, TC_BORDER));
	mvhline(row, x + 1, ACS_HLINE, w - 2);
	attrset(color_attr(c, TC_TITLE));
	draw_put(row, ix, iw, " answer ");
	ans_h = y + h - 1 - (row + 1) - (int)p->n_attempts - (p->summary[0] ? 1 : 0);
	if (ans_h < 1)
		ans_h = 1;
	attrset(color_attr(c, TC_ANSWER));
	pthread_mutex_lock(&p->mu);
	if (p->answer.len > 0) {
		rows = wrap_text(p->answer.data, -1, 0, iw, 0, 0, NULL, NULL);
		wrap_text(p->answer.data, row + 1, ix, iw, ans_h, rows > ans_h ? rows - ans_h : 0,
		    NULL, NULL);
	}
	pthread_mutex_unlock(&p->mu);
	row = row + 1 + ans_h;
	if (p->summary[0] != '\0' && row < y + h - 1) {
		attrset(color_attr(c,
		    p->res != NULL && p->res->cls == LLM_OK ? TC_MSG_OK : TC_MSG_ERROR));
		draw_put(row++, ix, iw, p->summary);
	}
	for (size_t i = 0; i < p->n_attempts && row < y + h - 1; i++) {
		attrset(color_attr(c,
		    strstr(p->attempts[i], ") ok ") != NULL ? TC_DIM : TC_EVENT_WARN));
		draw_put(row++, ix, iw, p->attempts[i]);
	}
	attrset(color_attr(c, TC_NORMAL));
}
