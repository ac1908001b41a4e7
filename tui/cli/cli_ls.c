/*
 * cli_ls.c: `llmdeck ls`, like `tmux ls`: the llmdeck processes running for
 * this user on this host (`serve`, a console with --listen), found by their
 * instance files in the runtime directory; those whose process is gone are
 * cleaned up on the way. With --db, the fleet on a database instead, on every
 * host: its instance registry (store_instances), each with its admin URL.
 * Exit codes: 0 some listed, 1 none running, 2 usage.
 */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "llmdeck.h"
#include "gateway/gateway.h"
#include "store/store.h"
#include "util/util.h"

static void
ls_usage(FILE *f)
{
	fprintf(f,
	    "usage: llmdeck ls [--db F|URL] [--json]\n"
	    "List the llmdeck instances running here (llmdeck serve, a console with\n"
	    "--listen): name, pid, HTTP address, Unix socket, uptime. The files of dead\n"
	    "ones are removed. The admin API answers on each socket (llmdeck attach).\n"
	    "  --db F|URL  the fleet on this database instead (a postgres:// URL: every\n"
	    "              host): its instance registry, with each admin URL; an\n"
	    "              instance not seen for 10 s is listed as gone\n"
	    "  --json   one JSON array: instance, pid, host, listen, socket, version,\n"
	    "           started_ms (with --db: instance, host, pid, admin_url, version,\n"
	    "           config_hash, state, started_ms, seen_ms, gone)\n"
	    "Exit codes: 0 some listed, 1 none running, 2 usage error.\n");
}

/* "3d4h", "2h05m", "4m12s", "9s". */
static void
uptime(char *out, size_t len, int64_t started_ms)
{
	int64_t s = (clock_wall_ms() - started_ms) / 1000;

	if (s < 0)
		s = 0;
	if (s >= 86400)
		snprintf(out, len, "%lldd%lldh", (long long)(s / 86400),
		    (long long)(s % 86400 / 3600));
	else if (s >= 3600)
		snprintf(out, len, "%lldh%02lldm", (long long)(s / 3600),
		    (long long)(s % 3600 / 60));
	else if (s >= 60)
		snprintf(out, len, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
	else
		snprintf(out, len, "%llds", (long long)s);
}

static void
ls_json(const struct gateway_instance *in, size_t n)
{
	cJSON *a = cJSON_CreateArray();
	char *text;

	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "instance", in[i].id);
		cJSON_AddNumberToObject(o, "pid", (double)in[i].pid);
		cJSON_AddStringToObject(o, "host", in[i].host);
		cJSON_AddStringToObject(o, "listen", in[i].listen);
		cJSON_AddStringToObject(o, "socket", in[i].socket);
		cJSON_AddStringToObject(o, "version", in[i].version);
		cJSON_AddNumberToObject(o, "started_ms", (double)in[i].started_ms);
		cJSON_AddItemToArray(a, o);
	}
	text = cJSON_Print(a);
	printf("%s\n", text);
	free(text);
	cJSON_Delete(a);
}

/* `ls --db`: the registry's instances, the live ones first. */
static int
ls_db(const char *db, int json)
{
	struct store_instance *v;
	struct store *s;
	char *cause = NULL, up[32];
	int n, live = 0;

	if (store_open(&s, db, &cause) != 0) {
		fprintf(stderr, "llmdeck ls: %s\n", cause);
		free(cause);
		return EXIT_FAILED;
	}
	n = store_instances(s, &v);
	store_close(s);
	if (n < 0) {
		fprintf(stderr, "llmdeck ls: cannot read the instance registry of %s\n", db);
		return EXIT_FAILED;
	}
	if (json) {
		cJSON *a = cJSON_CreateArray();
		char *text;

		for (int i = 0; i < n; i++) {
			cJSON *o = cJSON_CreateObject();

			cJSON_AddStringToObject(o, "instance", v[i].id);
			cJSON_AddStringToObject(o, "host", v[i].host);
			cJSON_AddNumberToObject(o, "pid", (double)v[i].pid);
			cJSON_AddStringToObject(o, "admin_url", v[i].admin_url);
			cJSON_AddStringToObject(o, "version", v[i].version);
			cJSON_AddStringToObject(o, "config_hash", v[i].config_hash);
			cJSON_AddStringToObject(o, "state", v[i].gone ? "gone" : v[i].state);
			cJSON_AddNumberToObject(o, "started_ms", (double)v[i].started_ms);
			cJSON_AddNumberToObject(o, "seen_ms", (double)v[i].seen_ms);
			cJSON_AddBoolToObject(o, "gone", v[i].gone);
			cJSON_AddItemToArray(a, o);
		}
		text = cJSON_Print(a);
		printf("%s\n", text);
		free(text);
		cJSON_Delete(a);
	}
	for (int i = 0; i < n; i++) {
		live += !v[i].gone;
		if (json)
			continue;
		uptime(up, sizeof up, v[i].started_ms);
		printf("%s: %s, pid %lld, %s, %s, up %s, config %s, seen %llds ago\n", v[i].id,
		    v[i].host, (long long)v[i].pid, v[i].admin_url, v[i].gone ? "gone" : v[i].state,
		    up, v[i].config_hash[0] != '\0' ? v[i].config_hash : "?",
		    (long long)((clock_wall_ms() - v[i].seen_ms) / 1000));
	}
	if (live == 0 && !json)
		fprintf(stderr, "llmdeck ls: no instance live on %s\n", db);
	free(v);
	return live > 0 ? 0 : EXIT_FAILED;
}

int
cli_ls_main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"db", required_argument, NULL, 'd'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct gateway_instance *in;
	size_t n;
	char *cause = NULL, up[32], when[32];
	const char *db = NULL;
	int ch, json = 0;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "jh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd': db = optarg; break;
		case 'j': json = 1; break;
		case 'h': ls_usage(stdout); return 0;
		default: ls_usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "llmdeck ls: unexpected argument \"%s\"\n", argv[optind]);
		ls_usage(stderr);
		return EXIT_USAGE;
	}
	if (db != NULL)
		return ls_db(db, json);
	if (gateway_instances(&in, &n, &cause) != 0) {
		fprintf(stderr, "llmdeck ls: %s\n", cause);
		free(cause);
		return EXIT_FAILED;
	}
	if (json)
		ls_json(in, n);
	for (size_t i = 0; !json && i < n; i++) {
		time_t t = (time_t)(in[i].started_ms / 1000);
		struct tm tm;

		localtime_r(&t, &tm);
		strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
		uptime(up, sizeof up, in[i].started_ms);
		printf("%s: pid %ld, %s, up %s (since %s), socket %s\n", in[i].id, in[i].pid,
		    in[i].listen, up, when, in[i].socket);
	}
	if (n == 0 && !json) {
		char *dir = gateway_runtime_dir(&cause);

		fprintf(stderr, "llmdeck ls: no instance running (none in %s)\n",
		    dir != NULL ? dir : "the runtime directory");
		free(dir);
		free(cause);
	}
	free(in);
	return n > 0 ? 0 : EXIT_FAILED;
}
