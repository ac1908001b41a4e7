/* sim_opts.c: the simulated providers' options from command-line flags and a JSON file. */
#include "sim/sim.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

/* HOST:PORT or [V6]:PORT into opts. */
static int
parse_listen(struct sim_opts *o, const char *v, char **cause)
{
	switch (hostport_parse(v, o->host, sizeof o->host, &o->port)) {
	case 0: return 0;
	case HOSTPORT_HOST: *cause = xasprintf("--listen %s: bad host", v); return -1;
	case HOSTPORT_PORT: *cause = xasprintf("--listen %s: bad port", v); return -1;
	default: *cause = xasprintf("--listen %s: expected HOST:PORT", v); return -1;
	}
}

static int
parse_int(const char *flag, const char *v, long lo, long hi, int *out, char **cause)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || end == v || n < lo || n > hi) {
		*cause = xasprintf("%s %s: expected an integer from %ld to %ld", flag, v, lo, hi);
		return -1;
	}
	*out = (int)n;
	return 0;
}

static int
parse_str(const char *flag, const char *v, char *dst, size_t dstsz, char **cause)
{
	if (strlen(v) >= dstsz) {
		*cause = xasprintf("%s: value longer than %zu bytes", flag, dstsz - 1);
		return -1;
	}
	strlcpy_(dst, v, dstsz);
	return 0;
}

/* Set one option by its flag name (without "--", '-' or '_' alike) from a string value. */
static int
opts_set(struct sim_opts *o, const char *name, const char *v, char **cause)
{
	char flag[64], *end;
	double d;
	unsigned long long u;

	snprintf(flag, sizeof flag, "--%s", name);
	for (char *p = flag + 2; *p != '\0'; p++)
		if (*p == '_')
			*p = '-';
	name = flag + 2;
	if (strcmp(name, "protocol") == 0) {
		if (sim_protocol_parse(v, &o->protocol) != 0) {
			*cause = xasprintf("--protocol %s: expected anthropic, openai, azure, "
			                   "mistral or ollama",
			    v);
			return -1;
		}
	} else if (strcmp(name, "listen") == 0)
		return parse_listen(o, v, cause);
	else if (strcmp(name, "name") == 0)
		return parse_str(flag, v, o->name, sizeof o->name, cause);
	else if (strcmp(name, "key") == 0)
		return parse_str(flag, v, o->key, sizeof o->key, cause);
	else if (strcmp(name, "model") == 0)
		return parse_str(flag, v, o->model, sizeof o->model, cause);
	else if (strcmp(name, "latency-ms") == 0)
		return parse_int(flag, v, 0, 3600000, &o->latency_ms, cause);
	else if (strcmp(name, "jitter-ms") == 0)
		return parse_int(flag, v, 0, 3600000, &o->jitter_ms, cause);
	else if (strcmp(name, "token-delay-ms") == 0)
		return parse_int(flag, v, 0, 600000, &o->token_delay_ms, cause);
	else if (strcmp(name, "error-status") == 0)
		return parse_int(flag, v, 100, 599, &o->error_status, cause);
	else if (strcmp(name, "retry-after") == 0 || strcmp(name, "retry-after-s") == 0)
		return parse_int(flag, v, 0, 86400, &o->retry_after_s, cause);
	else if (strcmp(name, "threads") == 0)
		return parse_int(flag, v, 1, 64, &o->threads, cause);
	else if (strcmp(name, "tls-cert") == 0)
		return parse_str(flag, v, o->tls_cert_file, sizeof o->tls_cert_file, cause);
	else if (strcmp(name, "tls-key") == 0)
		return parse_str(flag, v, o->tls_key_file, sizeof o->tls_key_file, cause);
	else if (strcmp(name, "error-rate") == 0) {
		errno = 0;
		d = strtod(v, &end);
		if (errno != 0 || *end != '\0' || end == v || d < 0 || d > 1) {
			*cause = xasprintf("--error-rate %s: expected a number from 0 to 1", v);
			return -1;
		}
		o->error_rate = d;
	} else if (strcmp(name, "fault") == 0) {
		if (sim_fault_parse(v, &o->fault) != 0) {
			*cause =
			    xasprintf("--fault %s: expected none, hang, slow, drop, malformed, "
			              "truncated, down or midstream",
			        v);
			return -1;
		}
	} else if (strcmp(name, "seed") == 0) {
		errno = 0;
		u = strtoull(v, &end, 10);
		if (errno != 0 || *end != '\0' || end == v || v[0] == '-') {
			*cause = xasprintf("--seed %s: expected a non-negative integer", v);
			return -1;
		}
		o->seed = (uint64_t)u;
	} else {
		*cause = xasprintf("unknown option %s", flag);
		return -1;
	}
	return 0;
}

int
sim_opts_parse_args(struct sim_opts *o, int argc, char **argv, char **cause)
{
	const char *a, *v, *eq;
	char name[64];
	size_t nl;

	for (int i = 0; i < argc; i++) {
		a = argv[i];
		if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
			*cause = xasprintf("unexpected argument \"%s\"", a);
			return -1;
		}
		a += 2;
		if (strcmp(a, "allow-remote") == 0) {
			o->allow_remote = 1;
			continue;
		}
		if (strcmp(a, "quota") == 0) {
			o->quota = 1;
			continue;
		}
		eq = strchr(a, '=');
		nl = eq != NULL ? (size_t)(eq - a) : strlen(a);
		if (nl >= sizeof name) {
			*cause = xasprintf("unknown option --%s", a);
			return -1;
		}
		memcpy(name, a, nl);
		name[nl] = '\0';
		if (eq != NULL)
			v = eq + 1;
		else if (i + 1 < argc)
			v = argv[++i];
		else {
			*cause = xasprintf("option --%s needs a value", name);
			return -1;
		}
		if (opts_set(o, name, v, cause) != 0)
			return -1;
	}
	return 0;
}

/* One {"name":..,"protocol":..,...} object of a config file. */
static int
config_one(const cJSON *e, struct sim_opts *o, char **cause)
{
	const cJSON *v;
	char num[64];
	const char *s;

	if (!cJSON_IsObject(e)) {
		*cause = xstrdup("not an object");
		return -1;
	}
	for (v = e->child; v != NULL; v = v->next) {
		if (strcmp(v->string, "allow_remote") == 0 || strcmp(v->string, "quota") == 0) {
			if (!cJSON_IsBool(v)) {
				*cause = xasprintf("%s: expected true or false", v->string);
				return -1;
			}
			if (strcmp(v->string, "quota") == 0)
				o->quota = cJSON_IsTrue(v);
			else
				o->allow_remote = cJSON_IsTrue(v);
			continue;
		}
		if (cJSON_IsString(v))
			s = v->valuestring;
		else if (cJSON_IsNumber(v)) {
			if (v->valuedouble == (double)(long long)v->valuedouble)
				snprintf(num, sizeof num, "%lld", (long long)v->valuedouble);
			else
				snprintf(num, sizeof num, "%.17g", v->valuedouble);
			s = num;
		} else {
			*cause = xasprintf("%s: expected a string or a number", v->string);
			return -1;
		}
		if (opts_set(o, v->string, s, cause) != 0)
			return -1;
	}
	return 0;
}

int
sim_config_load(const char *path, struct sim_opts **out, size_t *n, char **cause)
{
	char *text, *why = NULL;
	size_t len, count, i = 0;
	cJSON *root, *sims, *e;
	struct sim_opts *v;

	*out = NULL;
	*n = 0;
	if ((text = read_file(path, 1 << 20, &len, cause)) == NULL)
		return -1;
	root = cJSON_ParseWithLength(text, len);
	free(text);
	if (root == NULL) {
		*cause = xasprintf("%s: not valid JSON", path);
		return -1;
	}
	sims = cJSON_GetObjectItemCaseSensitive(root, "sims");
	if (!cJSON_IsArray(sims) || cJSON_GetArraySize(sims) == 0) {
		*cause = xasprintf("%s: \"sims\": expected a non-empty array", path);
		cJSON_Delete(root);
		return -1;
	}
	count = (size_t)cJSON_GetArraySize(sims);
	v = xcalloc(count, sizeof *v);
	cJSON_ArrayForEach(e, sims)
	{
		sim_opts_init(&v[i]);
		if (config_one(e, &v[i], &why) != 0) {
			*cause = xasprintf("%s: sims[%zu]: %s", path, i, why);
			free(why);
			free(v);
			cJSON_Delete(root);
			return -1;
		}
		if (v[i].name[0] == '\0')
			snprintf(v[i].name, sizeof v[i].name, "%s-%zu",
			    sim_protocol_name(v[i].protocol), i);
		i++;
	}
	cJSON_Delete(root);
	*out = v;
	*n = count;
	return 0;
}
