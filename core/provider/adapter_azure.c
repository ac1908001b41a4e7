/*
 * adapter_azure.c: Azure OpenAI. Two URL forms: the deployment form
 * {endpoint}/openai/deployments/{deployment}/chat/completions?api-version=V,
 * and the v1 API ({endpoint}/openai/v1/chat/completions, the deployment as
 * "model"), chosen by api_version "v1" or a base_url ending in /openai/v1.
 * Auth: the api-key header, or a Microsoft Entra ID bearer token read from the
 * environment variable entra_token_env at every request (so a refreshed token
 * is used at once). Output limits go as max_completion_tokens, never
 * max_tokens (o-series deployments refuse it). Bodies, responses and streams
 * are OpenAI's.
 */
#include "provider/adapter_priv.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define AZURE_API_VERSION "2024-10-21"

char *
adapter_azure_api_version(const struct provider_conf *conf, const char *dflt)
{
	const char *v = conf->api_version;

	return adapter_url_escape(v != NULL && *v != '\0' ? v : dflt);
}

static int
azure_ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && strncasecmp(s + len - n, suffix, n) == 0;
}

/* The v1 API: api_version "v1", or a base URL that already ends in /openai/v1. */
int
adapter_azure_v1(const struct provider_conf *conf)
{
	size_t len;

	if (conf->api_version != NULL && strcasecmp(conf->api_version, "v1") == 0)
		return 1;
	if (conf->base_url == NULL)
		return 0;
	len = strlen(conf->base_url);
	while (len > 0 && conf->base_url[len - 1] == '/')
		len--;
	return azure_ends_with(conf->base_url, len, "/openai/v1");
}

/* The resource endpoint: the base URL without /openai (adapter_base_url took /v1 off). */
int
adapter_azure_endpoint(const struct provider_conf *conf, char **base, char **cause)
{
	size_t len;

	if (adapter_base_url(conf, "azure", base, cause) != 0)
		return -1;
	len = strlen(*base);
	if (azure_ends_with(*base, len, "/openai"))
		(*base)[len - 7] = '\0';
	return 0;
}

/* The Entra ID token now, or NULL (unset, empty, or holding what a header cannot). */
const char *
adapter_azure_token(const struct provider_conf *conf)
{
	const char *t = conf->entra_token_env != NULL ? getenv(conf->entra_token_env) : NULL;

	if (t == NULL || *t == '\0')
		return NULL;
	for (const char *p = t; *p != '\0'; p++)
		if (iscntrl((unsigned char)*p))
			return NULL;
	return t;
}

void
adapter_azure_auth(const struct provider_conf *conf, struct adapter_http *out)
{
	const char *token;

	if (conf->entra_token_env != NULL) {
		if ((token = adapter_azure_token(conf)) != NULL)
			adapter_http_header(out, "Authorization: Bearer %s", token);
	} else if (conf->api_key != NULL)
		adapter_http_header(out, "api-key: %s", conf->api_key);
}

int
adapter_azure_check_auth(const struct provider_conf *conf, struct llm_error *why)
{
	if (conf->entra_token_env != NULL && adapter_azure_token(conf) == NULL)
		return adapter_refuse(why, "",
		    "no Microsoft Entra ID token: the variable %s is unset, empty or not one line",
		    conf->entra_token_env);
	return 0;
}

static int
azure_check_request(const struct provider_conf *conf, const struct model_conf *m,
    const char *model_id, const struct llm_request *req, struct llm_error *why)
{
	if (adapter_azure_check_auth(conf, why) != 0)
		return -1;
	return adapter_openai_check(conf, m, model_id, req, why);
}

static int
azure_build_request(const struct provider_conf *conf, const struct model_conf *m,
    const char *model_id, const struct llm_request *req, int stream, struct adapter_http *out,
    char **cause)
{
	struct openai_body_opts o;
	char *base, *dep, *ver;
	int v1 = adapter_azure_v1(conf);

	(void)m;
	adapter_http_init(out);
	if (model_id == NULL || *model_id == '\0') {
		*cause = xasprintf("azure: no deployment for provider %s",
		    conf->name != NULL ? conf->name : "(unnamed)");
		return -1;
	}
	memset(&o, 0, sizeof o);
	o.model = v1 ? model_id : NULL;
	o.max_completion_tokens = 1;
	o.stream_options = 1;
	if (adapter_azure_endpoint(conf, &base, cause) != 0)
		return -1;
	if (adapter_openai_body(req, stream, &o, out, "azure", cause) != 0) {
		adapter_http_free(out);
		free(base);
		return -1;
	}
	out->method = xstrdup("POST");
	if (v1)
		out->url = xasprintf("%s/openai/v1/chat/completions", base);
	else {
		dep = adapter_url_escape(model_id);
		ver = adapter_azure_api_version(conf, AZURE_API_VERSION);
		out->url = xasprintf("%s/openai/deployments/%s/chat/completions?api-version=%s",
		    base, dep, ver);
		free(ver);
		free(dep);
	}
	adapter_azure_auth(conf, out);
	free(base);
	return 0;
}

/* "... Please retry after 86400 seconds ..." in a message, in ms, or -1. */
static int64_t
azure_retry_hint(const char *msg)
{
	static const char key[] = "retry after ";
	const char *p;
	char *end;
	long long n;

	for (p = msg; *p != '\0'; p++) {
		if (strncasecmp(p, key, sizeof key - 1) != 0)
			continue;
		p += sizeof key - 1;
		if (!isdigit((unsigned char)*p))
			continue;
		n = strtoll(p, &end, 10);
		while (*end == ' ')
			end++;
		if (strncasecmp(end, "second", 6) != 0 || n < 0 || n > 1000000000LL)
			return -1;
		return (int64_t)n * 1000;
	}
	return -1;
}

static void
azure_classify_error(int status, const struct http_headers *h, const char *body, size_t len,
    struct llm_error *err)
{
	adapter_classify_http(status, h, body, len, err);
	if (err->retry_after_ms < 0)
		err->retry_after_ms = azure_retry_hint(err->message);
}

static int
azure_build_probe(const struct provider_conf *conf, struct adapter_http *out, char **cause)
{
	char *base, *ver;

	adapter_http_init(out);
	if (adapter_azure_endpoint(conf, &base, cause) != 0)
		return -1;
	out->method = xstrdup("GET");
	if (adapter_azure_v1(conf))
		out->url = xasprintf("%s/openai/v1/models", base);
	else {
		ver = adapter_azure_api_version(conf, AZURE_API_VERSION);
		out->url = xasprintf("%s/openai/models?api-version=%s", base, ver);
		free(ver);
	}
	adapter_azure_auth(conf, out);
	free(base);
	return 0;
}

const struct adapter adapter_azure = {
    .kind = "azure",
    .check_request = azure_check_request,
    .build_request = azure_build_request,
    .parse_response = adapter_openai_parse,
    .classify_error = azure_classify_error,
    .stream_new = adapter_openai_stream_new,
    .stream_feed = adapter_stream_feed,
    .stream_finish = adapter_stream_finish,
    .stream_free = adapter_stream_free,
    .build_probe = azure_build_probe,
};
