/*
 * bench_flood.c: `llmdeck serve` (default settings) against 10,000 idle TCP
 * connections, as a hostile client would hold them: first from one address
 * (the per-address limit takes it), then spread over 100 loopback addresses
 * (the connection limit, derived from the descriptor limit, takes it). During
 * each flood it times normal chat requests from 127.0.0.1 and admin
 * snapshots over the Unix socket, and counts the connections serve holds
 * (its descriptors) and its resident memory. Numbers only; nothing asserts
 * on time. Bounded: each flood lasts a few seconds, well inside serve's 15 s
 * idle timeout.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/sim.h"
#include "util/util.h"

#define FLOOD 10000
#define NORMAL 60
#define ADMIN 20

static char run_dir[64], sock_path[256];

static size_t
sink(char *p, size_t sz, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return sz * n;
}

/* One request's latency in ms, or -1 if it failed (no 200 within 10 s). */
static double
timed(const char *url, const char *unix_path, const char *body)
{
	struct curl_slist *h = NULL;
	CURL *c = curl_easy_init();
	uint64_t t0 = clock_mono_us();
	long status = 0;

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (unix_path != NULL)
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, unix_path);
	if (body != NULL) {
		h = curl_slist_append(h, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	}
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	return status == 200 ? (double)(clock_mono_us() - t0) / 1000.0 : -1;
}

static int
by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* n requests: how many answered, their p50 and p99 (ms). */
static void
measure(const char *what, const char *url, const char *unix_path, const char *body, int n)
{
	double *v = xcalloc((size_t)n, sizeof *v);
	int ok = 0;

	for (int i = 0; i < n; i++) {
		double ms = timed(url, unix_path, body);
		if (ms >= 0)
			v[ok++] = ms;
	}
	qsort(v, (size_t)ok, sizeof *v, by_value);
	printf("  %-34s %3d/%d answered, p50 %7.2f ms, p99 %7.2f ms\n", what, ok, n,
	    ok > 0 ? v[ok / 2] : -1.0,
	    ok > 0 ? v[(ok * 99) / 100 < ok ? (ok * 99) / 100 : ok - 1] : -1.0);
	free(v);
}

/* serve's open descriptors and resident memory (kB). */
static void
serve_usage(pid_t pid, int *fds, long *rss_kb)
{
	char path[64], line[256];
	struct dirent *de;
	DIR *d;
	FILE *f;

	*fds = 0;
	*rss_kb = 0;
	snprintf(path, sizeof path, "/proc/%ld/fd", (long)pid);
	if ((d = opendir(path)) != NULL) {
		while ((de = readdir(d)) != NULL)
			*fds += de->d_name[0] != '.';
		closedir(d);
	}
	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	if ((f = fopen(path, "r")) != NULL) {
		while (fgets(line, sizeof line, f) != NULL)
			if (strncmp(line, "VmRSS:", 6) == 0)
				*rss_kb = atol(line + 6);
		fclose(f);
	}
}

/* n idle connections to port from 127.0.A.B addresses (spread over `addrs` of
 * them, or 127.0.0.2 alone); non-blocking, never written to. */
static int
flood(int *fds, int n, int port, int addrs)
{
	struct sockaddr_in to, from;
	int made = 0;

	memset(&to, 0, sizeof to);
	to.sin_family = AF_INET;
	to.sin_port = htons((uint16_t)port);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < n; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

		if (fd < 0)
			break;
		memset(&from, 0, sizeof from);
		from.sin_family = AF_INET;
		from.sin_addr.s_addr =
		    htonl(addrs <= 1 ? 0x7f000002u : 0x7f000100u + (uint32_t)(i % addrs) + 1);
		if (bind(fd, (struct sockaddr *)&from, sizeof from) != 0 ||
		    (connect(fd, (struct sockaddr *)&to, sizeof to) != 0 && errno != EINPROGRESS)) {
			close(fd);
			continue;
		}
		fds[made++] = fd;
	}
	return made;
}

static void
unflood(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

static void
phase(const char *name, pid_t pid, int port, const char *chat_url, int addrs)
{
	static const char body[] =
	    "{\"model\":\"test-model\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
	int *fds = xcalloc(FLOOD, sizeof *fds), made, held, base_fds;
	long rss, base_rss;
	uint64_t t0;

	serve_usage(pid, &base_fds, &base_rss);
	t0 = clock_mono_ms();
	made = flood(fds, FLOOD, port, addrs);
	usleep(1500 * 1000); /* let serve accept what it will */
	serve_usage(pid, &held, &rss);
	printf("%s: %d connections opened in %llu ms; serve holds %d more descriptors, "
	       "RSS %ld -> %ld kB (%.1f kB per held connection)\n",
	    name, made, (unsigned long long)(clock_mono_ms() - t0), held - base_fds, base_rss, rss,
	    held > base_fds ? (double)(rss - base_rss) / (held - base_fds) : 0.0);
	measure("chat from 127.0.0.1 during it", chat_url, NULL, body, NORMAL);
	measure("admin snapshot over the socket", "http://localhost/admin/v1/snapshot", sock_path,
	    NULL, ADMIN);
	unflood(fds, made);
	free(fds);
	usleep(500 * 1000);
}

int
main(void)
{
	struct sim_opts so;
	struct sim *sim;
	struct rlimit rl;
	char *cause = NULL, cfg[128], url[160], chat[200], line[512];
	const char *bin = getenv("LLMDECK") != NULL ? getenv("LLMDECK") : "build/llmdeck";
	int out[2], port = 0, fd0, fd1;
	long rss0;
	pid_t pid;
	FILE *f;

	/* The descriptors the flood needs here, and serve's limit (it inherits it). */
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(run_dir, sizeof run_dir, "/tmp/llmdeck-flood-XXXXXX");
	if (mkdtemp(run_dir) == NULL)
		return 1;
	setenv("XDG_RUNTIME_DIR", run_dir, 1);
	setenv("FLOOD_KEY", "flood-key", 1);
	unsetenv("LLMDECK_ADMIN_TOKEN");
	unsetenv("LLMDECK_GATEWAY_TOKEN");
	sim_opts_init(&so);
	so.protocol = SIM_OPENAI;
	if ((sim = sim_start(&so, &cause)) == NULL) {
		fprintf(stderr, "bench_flood: sim: %s\n", cause);
		return 1;
	}
	snprintf(cfg, sizeof cfg, "%s/config.json", run_dir);
	f = fopen(cfg, "w");
	fprintf(f,
	    "{\"providers\":[{\"name\":\"sim\",\"kind\":\"openai\",\"base_url\":\"%s\","
	    "\"api_key_env\":\"FLOOD_KEY\",\"models\":[\"test-model\"]}],"
	    "\"models\":{\"test-model\":{\"id\":\"test-model-id\",\"input_per_mtok\":1,"
	    "\"output_per_mtok\":2}}}\n",
	    sim_url(sim));
	fclose(f);
	snprintf(sock_path, sizeof sock_path, "%s/llmdeck/flood.sock", run_dir);

	if (pipe(out) != 0)
		return 1;
	if ((pid = fork()) == 0) {
		dup2(out[1], 1);
		close(out[0]);
		execl(bin, bin, "serve", "--listen", "127.0.0.1:0", "--config", cfg, "--no-db",
		    "--instance", "flood", (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	f = fdopen(out[0], "r");
	url[0] = '\0';
	while (fgets(line, sizeof line, f) != NULL) {
		char *at = strstr(line, "listening on ");
		if (at != NULL) {
			snprintf(url, sizeof url, "%.*s", (int)strcspn(at + 13, "\r\n"), at + 13);
			break;
		}
	}
	fclose(f);
	if (url[0] == '\0' || sscanf(strrchr(url, ':') + 1, "%d", &port) != 1) {
		fprintf(stderr, "bench_flood: serve did not start\n");
		return 1;
	}
	snprintf(chat, sizeof chat, "%s/v1/chat/completions", url);
	usleep(300 * 1000);
	serve_usage(pid, &fd0, &rss0);
	printf("serve (defaults, --no-db), descriptor limit %lu: %d descriptors, RSS %ld kB idle\n",
	    (unsigned long)rl.rlim_cur, fd0, rss0);
	measure("chat, no flood", chat, NULL,
	    "{\"model\":\"test-model\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
	    NORMAL);
	measure("admin snapshot over the socket, no flood", "http://localhost/admin/v1/snapshot",
	    sock_path, NULL, ADMIN);
	phase("10,000 idle from one address (127.0.0.2)", pid, port, chat, 1);
	phase("10,000 idle from 100 addresses (127.0.1.x)", pid, port, chat, 100);
	fd1 = 0;
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	sim_stop(sim);
	snprintf(line, sizeof line, "rm -rf %s", run_dir);
	fd1 = system(line);
	return fd1 == 0 ? 0 : 1;
}
