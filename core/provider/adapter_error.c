/*
 * adapter_error.c: error classification the adapters share: retry headers
 * (retry-after, retry-after-ms, x-should-retry, HTTP dates), error bodies in
 * every provider's shape, and the class of a status, type, code or body.
 */
#include "provider/adapter_priv.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Our own lookup, so the adapters do not depend on the HTTP engine. */
static const char *
adapter_header(const struct http_headers *h, const char *name)
{
	if (h == NULL)
		return NULL;
	for (size_t i = 0; i < h->n; i++)
		if (h->v[i].name != NULL && strcasecmp(h->v[i].name, name) == 0)
			return h->v[i].value;
	return NULL;
}

/* A non-negative decimal number filling all of s (spaces around allowed), or -1. */
static double
adapter_parse_number(const char *s)
{
	char *end;
	double d;

	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s) && *s != '.')
		return -1;
	errno = 0;
	d = strtod(s, &end);
	if (errno != 0 || end == s || isnan(d) || isinf(d) || d < 0)
		return -1;
	while (isspace((unsigned char)*end))
		end++;
	return *end == '\0' ? d : -1;
}

static int
adapter_month(const char *m)
{
	static const char *const months[] = {
	    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

	for (int i = 0; i < 12; i++)
		if (strcasecmp(m, months[i]) == 0)
			return i;
	return -1;
}

int64_t
adapter_parse_http_date(const char *s)
{
	char mon[4] = "", wd[16] = "";
	int d, y, H, M, S, n = 0, ok = 0;
	struct tm tm;
	time_t t;

	if (s == NULL)
		return -1;
	while (isspace((unsigned char)*s))
		s++;
	/* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
	if (sscanf(s, "%15[A-Za-z], %d %3[A-Za-z] %d %d:%d:%d GMT%n", wd, &d, mon, &y, &H, &M, &S,
	        &n) == 7 &&
	    n > 0)
		ok = 1;
	/* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
	if (!ok &&
	    sscanf(s, "%15[A-Za-z], %d-%3[A-Za-z]-%d %d:%d:%d GMT%n", wd, &d, mon, &y, &H, &M, &S,
	        &n) == 7 &&
	    n > 0) {
		if (y < 100)
			y += y >= 70 ? 1900 : 2000;
		ok = 1;
	}
	/* asctime: Sun Nov  6 08:49:37 1994 */
	if (!ok &&
	    sscanf(s, "%15[A-Za-z] %3[A-Za-z] %d %d:%d:%d %d%n", wd, mon, &d, &H, &M, &S, &y, &n) ==
	        7 &&
	    n > 0)
		ok = 1;
	if (!ok)
		return -1;
	while (isspace((unsigned char)s[n]))
		n++;
	if (s[n] != '\0')
		return -1;
	memset(&tm, 0, sizeof tm);
	if ((tm.tm_mon = adapter_month(mon)) < 0)
		return -1;
	if (d < 1 || d > 31 || y < 1970 || y > 9999 || H < 0 || H > 23 || M < 0 || M > 59 ||
	    S < 0 || S > 60)
		return -1;
	tm.tm_mday = d;
	tm.tm_year = y - 1900;
	tm.tm_hour = H;
	tm.tm_min = M;
	tm.tm_sec = S;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	return (int64_t)t * 1000;
}

int64_t
adapter_parse_retry_after(const char *value, int64_t now_ms)
{
	double secs;
	int64_t at;

	if (value == NULL)
		return -1;
	if ((secs = adapter_parse_number(value)) >= 0) {
		if (secs > 1e9)
			secs = 1e9;
		return (int64_t)(secs * 1000.0 + 0.5);
	}
	if ((at = adapter_parse_http_date(value)) < 0)
		return -1;
	return at > now_ms ? at - now_ms : 0;
}

void
adapter_read_retry_headers(const struct http_headers *h, struct llm_error *err)
{
	const char *v;
	double ms;
	int64_t after;

	if ((v = adapter_header(h, "retry-after-ms")) != NULL &&
	    (ms = adapter_parse_number(v)) >= 0) {
		err->retry_after_ms = ms > 1e12 ? (int64_t)1e12 : (int64_t)(ms + 0.5);
	} else if ((v = adapter_header(h, "retry-after")) != NULL &&
	    (after = adapter_parse_retry_after(v, clock_wall_ms())) >= 0)
		err->retry_after_ms = after;

	if ((v = adapter_header(h, "x-should-retry")) != NULL) {
		while (isspace((unsigned char)*v))
			v++;
		if (strncasecmp(v, "true", 4) == 0) {
			err->should_retry = 1;
			err->retryable = 1;
		} else if (strncasecmp(v, "false", 5) == 0) {
			err->should_retry = 0;
			err->retryable = 0;
		}
	}
}

void
adapter_error_message(struct llm_error *err, const char *msg)
{
	size_t n = 0, max = sizeof err->message - 1;
	unsigned char c;

	while (*msg != '\0' && isspace((unsigned char)*msg))
		msg++;
	for (; msg[n] != '\0' && n < max; n++) {
		c = (unsigned char)msg[n];
		err->message[n] = (c == '\n' || c == '\r' || c == '\t') ? ' ' : (char)c;
	}
	/* Do not leave half a UTF-8 sequence at a cut. */
	if (msg[n] != '\0') {
		size_t k = n;
		while (k > 0 && ((unsigned char)err->message[k - 1] & 0xc0) == 0x80)
			k--;
		if (k > 0 && ((unsigned char)err->message[k - 1] & 0x80) != 0)
			n = k - 1;
	}
	while (n > 0 && isspace((unsigned char)err->message[n - 1]))
		n--;
	err->message[n] = '\0';
	/* A provider's text may quote the key it was sent (masked or not): never relayed. */
	str_scrub_keys(err->message);
}

/* err->type from a string or integer JSON value; returns 1 if set. */
static int
adapter_error_type(struct llm_error *err, const cJSON *v)
{
	if (cJSON_IsString(v) && *v->valuestring != '\0') {
		strlcpy_(err->type, v->valuestring, sizeof err->type);
		return 1;
	}
	if (cJSON_IsNumber(v)) {
		snprintf(err->type, sizeof err->type, "%.0f", v->valuedouble);
		return 1;
	}
	return 0;
}

/* FastAPI-style {"detail": [{"type","loc","msg"}]} (Mistral 422) or {"detail": "..."}. */
static int
adapter_error_detail(const cJSON *detail, struct llm_error *err)
{
	const cJSON *first, *loc, *part;
	const char *msg;
	struct buf b;

	if (cJSON_IsString(detail)) {
		adapter_error_message(err, detail->valuestring);
		return 1;
	}
	if (!cJSON_IsArray(detail) || (first = cJSON_GetArrayItem(detail, 0)) == NULL ||
	    !cJSON_IsObject(first))
		return 0;
	adapter_error_type(err, cJSON_GetObjectItemCaseSensitive(first, "type"));
	buf_init(&b);
	msg = adapter_json_string(first, "msg");
	buf_puts(&b, msg != NULL ? msg : "invalid request");
	loc = cJSON_GetObjectItemCaseSensitive(first, "loc");
	if (cJSON_IsArray(loc) && cJSON_GetArraySize(loc) > 0) {
		buf_puts(&b, " at ");
		int i = 0;
		cJSON_ArrayForEach(part, loc)
		{
			if (i++ > 0)
				buf_puts(&b, ".");
			if (cJSON_IsString(part))
				buf_puts(&b, part->valuestring);
			else if (cJSON_IsNumber(part))
				buf_printf(&b, "%.0f", part->valuedouble);
		}
	}
	adapter_error_message(err, b.data);
	buf_free(&b);
	return 1;
}

void
adapter_error_from_json(const cJSON *root, struct llm_error *err)
{
	const cJSON *e, *obj = NULL;
	const char *msg = NULL;

	err->type[0] = '\0';
	err->message[0] = '\0';
	if (cJSON_IsString(root)) {
		adapter_error_message(err, root->valuestring);
		return;
	}
	if (!cJSON_IsObject(root))
		return;
	e = cJSON_GetObjectItemCaseSensitive(root, "error");
	if (cJSON_IsObject(e))
		obj = e;
	else if (cJSON_IsString(e))
		msg = e->valuestring; /* Ollama: {"error": "..."} */
	else
		obj = root; /* Mistral: {"object":"error","message",...} or {"message"} */

	if (obj != NULL) {
		if (!adapter_error_type(err, cJSON_GetObjectItemCaseSensitive(obj, "type")))
			adapter_error_type(err, cJSON_GetObjectItemCaseSensitive(obj, "code"));
		/* "type":"error" at the top is Anthropic's envelope, not a type. */
		if (obj == root && strcmp(err->type, "error") == 0)
			err->type[0] = '\0';
		msg = adapter_json_string(obj, "message");
	}
	if (msg != NULL && *msg != '\0')
		adapter_error_message(err, msg);
	else
		adapter_error_detail(cJSON_GetObjectItemCaseSensitive(root, "detail"), err);
}

void
adapter_error_in_2xx(const cJSON *root, const char *who, struct llm_error *err)
{
	struct llm_error e;

	llm_error_clear(&e);
	adapter_error_from_json(root, &e);
	llm_error_clear(err);
	llm_error_set(err, LLM_ERR_MALFORMED, 0, "%s: an error body: %s", who,
	    e.message[0] != '\0' ? e.message : "no message");
	strlcpy_(err->type, e.type, sizeof err->type);
}

/* Does the body's error say type or code is word? */
static int
adapter_error_says(const cJSON *root, const char *word)
{
	const cJSON *e;
	const char *s;

	if (!cJSON_IsObject(root))
		return 0;
	e = cJSON_GetObjectItemCaseSensitive(root, "error");
	if (!cJSON_IsObject(e))
		e = root;
	if ((s = adapter_json_string(e, "type")) != NULL && strcmp(s, word) == 0)
		return 1;
	if ((s = adapter_json_string(e, "code")) != NULL && strcmp(s, word) == 0)
		return 1;
	return 0;
}

/* The class a known error type or code names; 0 if unknown. */
static int
adapter_type_class(const char *type, enum llm_errclass *cls)
{
	static const struct {
		const char *type;
		enum llm_errclass cls;
	} map[] = {
	    {"overloaded_error", LLM_ERR_OVERLOADED},
	    {"rate_limit_error", LLM_ERR_RATE_LIMIT},
	    {"rate_limit_exceeded", LLM_ERR_RATE_LIMIT},
	    {"rate_limited", LLM_ERR_RATE_LIMIT},
	    {"429", LLM_ERR_RATE_LIMIT},
	    {"insufficient_quota", LLM_ERR_QUOTA},
	    {"billing_error", LLM_ERR_QUOTA},
	    {"api_error", LLM_ERR_SERVER},
	    {"server_error", LLM_ERR_SERVER},
	    {"internal_error", LLM_ERR_SERVER},
	    {"timeout_error", LLM_ERR_TIMEOUT},
	    {"unavailable_error", LLM_ERR_OVERLOADED},
	    {"invalid_request_error", LLM_ERR_BAD_REQUEST},
	    {"request_too_large", LLM_ERR_BAD_REQUEST},
	    {"content_filter", LLM_ERR_BAD_REQUEST},
	    {"context_length_exceeded", LLM_ERR_BAD_REQUEST},
	    {"authentication_error", LLM_ERR_AUTH},
	    {"permission_error", LLM_ERR_AUTH},
	    {"invalid_api_key", LLM_ERR_AUTH},
	    {"not_found_error", LLM_ERR_NOT_FOUND},
	    {"model_not_found", LLM_ERR_NOT_FOUND},
	    {"DeploymentNotFound", LLM_ERR_NOT_FOUND},
	};

	if (type == NULL)
		return 0;
	for (size_t i = 0; i < nitems(map); i++) {
		if (strcmp(type, map[i].type) == 0) {
			*cls = map[i].cls;
			return 1;
		}
	}
	return 0;
}

enum llm_errclass
adapter_class_for_type(const char *type)
{
	enum llm_errclass cls;

	return adapter_type_class(type, &cls) ? cls : LLM_ERR_SERVER;
}

enum llm_errclass
adapter_class_for_body(const cJSON *root)
{
	enum llm_errclass cls = LLM_ERR_SERVER;
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
	char num[32];

	if (!cJSON_IsObject(e))
		e = root;
	/* By type, else by code (OpenAI: type "requests", code "rate_limit_exceeded"). */
	if (adapter_type_class(adapter_json_string(e, "type"), &cls) ||
	    adapter_type_class(adapter_json_string(e, "code"), &cls))
		return cls;
	if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(e, "code"))) {
		snprintf(num, sizeof num, "%.0f",
		    cJSON_GetObjectItemCaseSensitive(e, "code")->valuedouble);
		adapter_type_class(num, &cls);
	}
	return cls;
}

static enum llm_errclass
adapter_class_for_status(int status)
{
	switch (status) {
	case 400:
	case 413:
	case 422: return LLM_ERR_BAD_REQUEST;
	case 401:
	case 403: return LLM_ERR_AUTH;
	case 402: return LLM_ERR_QUOTA;
	case 404: return LLM_ERR_NOT_FOUND;
	case 408:
	case 409: return LLM_ERR_SERVER;
	case 429: return LLM_ERR_RATE_LIMIT;
	case 503:
	case 529: return LLM_ERR_OVERLOADED;
	}
	if (status >= 500)
		return LLM_ERR_SERVER;
	if (status >= 400)
		return LLM_ERR_BAD_REQUEST;
	return LLM_ERR_SERVER; /* a non-error status where an error was expected */
}

static int
adapter_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!isspace((unsigned char)s[i]))
			return 0;
	return 1;
}

void
adapter_classify_http(int status, const struct http_headers *h, const char *body, size_t len,
    struct llm_error *err)
{
	enum llm_errclass cls = adapter_class_for_status(status);
	cJSON *root = NULL;

	llm_error_clear(err);
	if (body == NULL)
		len = 0;
	if (len > 0 && !adapter_blank(body, len))
		root = adapter_json_parse(body, len);

	if ((status == 429 || status == 402) && adapter_error_says(root, "insufficient_quota"))
		cls = LLM_ERR_QUOTA;
	if (adapter_error_says(root, "overloaded_error"))
		cls = LLM_ERR_OVERLOADED;
	llm_error_set(err, cls, status, "HTTP %d", status);

	if (len == 0 || adapter_blank(body, len))
		llm_error_set(err, cls, status, "HTTP %d with an empty body", status);
	else if (root == NULL)
		llm_error_set(err, cls, status, "HTTP %d with a non-JSON body", status);
	else {
		adapter_error_from_json(root, err);
		if (err->message[0] == '\0')
			llm_error_set(err, cls, status, "HTTP %d with no error message in the body",
			    status);
	}
	cJSON_Delete(root);

	adapter_read_retry_headers(h, err);
	/* x-should-retry may veto a retry but never revives one the router must not make. */
	if (!llm_errclass_retryable(cls))
		err->retryable = 0;
}
