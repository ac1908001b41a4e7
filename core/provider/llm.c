/* llm.c: the request/response model's constructors and names. */
#include "llm.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void
llm_request_init(struct llm_request *r)
{
	memset(r, 0, sizeof *r);
}

void
llm_request_free(struct llm_request *r)
{
	free(r->model);
	free(r->route);
	free(r->provider);
	free(r->system);
	for (size_t i = 0; i < r->n_messages; i++)
		free(r->messages[i].content);
	free(r->messages);
	for (size_t i = 0; i < r->n_stop; i++)
		free(r->stop[i]);
	free(r->stop);
	free(r->tools_json);
	free(r->quality);
	free(r->complexity);
	memset(r, 0, sizeof *r);
}

void
llm_request_add_message(struct llm_request *r, enum llm_role role, const char *content)
{
	r->messages = xreallocarray(r->messages, r->n_messages + 1, sizeof *r->messages);
	r->messages[r->n_messages].role = role;
	r->messages[r->n_messages].content = xstrdup(content);
	r->n_messages++;
}

static char *
dupnull(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

void
llm_request_copy(struct llm_request *dst, const struct llm_request *src)
{
	*dst = *src;
	dst->model = dupnull(src->model);
	dst->route = dupnull(src->route);
	dst->provider = dupnull(src->provider);
	dst->system = dupnull(src->system);
	dst->tools_json = dupnull(src->tools_json);
	dst->quality = dupnull(src->quality);
	dst->complexity = dupnull(src->complexity);
	dst->messages = NULL;
	dst->n_messages = 0;
	for (size_t i = 0; i < src->n_messages; i++)
		llm_request_add_message(dst, src->messages[i].role, src->messages[i].content);
	dst->stop = NULL;
	if (src->n_stop > 0) {
		dst->stop = xcalloc(src->n_stop, sizeof *dst->stop);
		for (size_t i = 0; i < src->n_stop; i++)
			dst->stop[i] = xstrdup(src->stop[i]);
	}
}

int
llm_request_max_tokens(const struct llm_request *r)
{
	return r->max_tokens > 0 ? r->max_tokens : LLM_DEFAULT_MAX_TOKENS;
}

const char *
llm_stop_name(enum llm_stop s)
{
	switch (s) {
	case LLM_STOP_NONE: return "none";
	case LLM_STOP_END: return "end";
	case LLM_STOP_MAX_TOKENS: return "max_tokens";
	case LLM_STOP_STOP_SEQUENCE: return "stop_sequence";
	case LLM_STOP_TOOL_USE: return "tool_use";
	case LLM_STOP_CONTENT_FILTER: return "content_filter";
	case LLM_STOP_OTHER: return "other";
	}
	return "other";
}

void
llm_response_init(struct llm_response *r)
{
	memset(r, 0, sizeof *r);
}

void
llm_response_free(struct llm_response *r)
{
	free(r->id);
	free(r->model);
	free(r->content);
	free(r->stop_raw);
	free(r->request_id);
	memset(r, 0, sizeof *r);
}

static const char *const errclass_names[LLM_ERR__COUNT] = {
    [LLM_OK] = "ok",
    [LLM_ERR_RATE_LIMIT] = "rate_limit",
    [LLM_ERR_OVERLOADED] = "overloaded",
    [LLM_ERR_SERVER] = "server_error",
    [LLM_ERR_TIMEOUT] = "timeout",
    [LLM_ERR_CONNECT] = "connect",
    [LLM_ERR_MALFORMED] = "malformed",
    [LLM_ERR_AUTH] = "auth",
    [LLM_ERR_QUOTA] = "quota",
    [LLM_ERR_NOT_FOUND] = "not_found",
    [LLM_ERR_BAD_REQUEST] = "bad_request",
    [LLM_ERR_STREAM] = "stream_broken",
    [LLM_ERR_NO_PROVIDER] = "no_provider",
    [LLM_ERR_BUDGET] = "budget",
    [LLM_ERR_CANCELLED] = "cancelled",
    [LLM_ERR_INTERNAL] = "internal",
};

const char *
llm_errclass_name(enum llm_errclass c)
{
	if ((unsigned)c >= LLM_ERR__COUNT)
		return "unknown";
	return errclass_names[c];
}

int
llm_errclass_retryable(enum llm_errclass c)
{
	switch (c) {
	case LLM_ERR_RATE_LIMIT:
	case LLM_ERR_OVERLOADED:
	case LLM_ERR_SERVER:
	case LLM_ERR_TIMEOUT:
	case LLM_ERR_CONNECT:
	case LLM_ERR_MALFORMED: return 1;
	default: return 0;
	}
}

void
llm_error_clear(struct llm_error *e)
{
	memset(e, 0, sizeof *e);
	e->retry_after_ms = -1;
	e->should_retry = -1;
}

void
llm_error_set(struct llm_error *e, enum llm_errclass cls, int status, const char *fmt, ...)
{
	va_list ap;

	e->cls = cls;
	e->status = status;
	e->retryable = llm_errclass_retryable(cls);
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof e->message, fmt, ap);
	va_end(ap);
	for (char *p = e->message; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
}
