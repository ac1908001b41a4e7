/*
 * adapter_azure.c: Azure OpenAI, the deployment form
 * {endpoint}/openai/deployments/{deployment}/chat/completions?api-version=V
 * with an api-key header. Bodies, responses and streams are OpenAI's.
 */
#include "adapter_priv.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define AZURE_API_VERSION "2024-10-21"

static char *
azure_api_version(const struct provider_conf *conf)
{
	const char *v = conf->api_version;

	return adapter_url_escape(v != NULL && *v != '\0' ? v : AZURE_API_VERSION);
}

static int
azure_build_request(const struct provider_conf *conf, const struct model_conf *m,
    const char *model_id, const struct llm_request *req, int stream, struct adapter_http *out,
    char **cause)
{
	struct openai_body_opts o;
	char *base, *dep, *ver;

	adapter_http_init(out);
	if (model_id == NULL || *model_id == '\0') {
		*cause = xasprintf("azure: no deployment for provider %s",
		    conf->name != NULL ? conf->name : "(unnamed)");
		return -1;
	}
	(void)m;
	memset(&o, 0, sizeof o);
	o.model = NULL;
	o.max_completion_tokens = 0;
	o.stream_options = 1;
	if (adapter_base_url(conf, "azure", &base, cause) != 0)
		return -1;
	if (adapter_openai_body(req, stream, &o, out, "azure", cause) != 0) {
		adapter_http_free(out);
		free(base);
		return -1;
	}
	dep = adapter_url_escape(model_id);
	ver = azure_api_version(conf);
	out->method = xstrdup("POST");
	out->url =
	    xasprintf("%s/openai/deployments/%s/chat/completions?api-version=%s", base, dep, ver);
	if (conf->api_key != NULL)
		adapter_http_header(out, "api-key: %s", conf->api_key);
	free(ver);
	free(dep);
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
	if (adapter_base_url(conf, "azure", &base, cause) != 0)
		return -1;
	ver = azure_api_version(conf);
	out->method = xstrdup("GET");
	out->url = xasprintf("%s/openai/models?api-version=%s", base, ver);
	if (conf->api_key != NULL)
		adapter_http_header(out, "api-key: %s", conf->api_key);
	free(ver);
	free(base);
	return 0;
}

const struct adapter adapter_azure = {
    .kind = "azure",
    .check_request = adapter_openai_check,
    .build_request = azure_build_request,
    .parse_response = adapter_openai_parse,
    .classify_error = azure_classify_error,
    .stream_new = adapter_openai_stream_new,
    .stream_feed = adapter_stream_feed,
    .stream_finish = adapter_stream_finish,
    .stream_free = adapter_stream_free,
    .build_probe = azure_build_probe,
};
