/*
 * bench_router.c: the router's cost, measured in one run against simulated
 * providers in a child process on loopback:
 *  - added latency over a direct libcurl call to the same zero-latency sim
 *    (p50, p99, microseconds);
 *  - requests per second at concurrency 1 and 64;
 *  - requests held in flight at once against a sim with 1 s latency, with the
 *    process's thread count and peak RSS.
 * It prints numbers; nothing here asserts on time.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "router/histogram.h"
#include "provider/http.h"
#include "router/router.h"
#include "sim/sim.h"
#include "store/store.h"
#include "testkit.h"
#include "tlskit.h"
#include "util/util.h"

static int n_seq = 5000;
static int n_inflight = 10000;

/* Fork a sim process (before any thread exists); returns its pid and port.
 * tls not NULL: it serves HTTPS with that certificate. */
static pid_t
spawn_sim(int latency_ms, const struct tlskit *tls, int *port)
{
	int fds[2];
	pid_t pid;

	if (pipe(fds) != 0)
		fatal("pipe");
	pid = fork();
	if (pid == 0) {
		struct sim_opts so;
		struct sim *s;
		char *cause = NULL;

		close(fds[0]);
		testkit_raise_fd_limit();
		sim_opts_init(&so);
		so.protocol = SIM_OPENAI;
		so.latency_ms = latency_ms;
		so.threads = 2;
		if (tls != NULL) {
			snprintf(so.tls_cert_file, sizeof so.tls_cert_file, "%s", tls->cert_file);
			snprintf(so.tls_key_file, sizeof so.tls_key_file, "%s", tls->key_file);
		}
		snprintf(so.key, sizeof so.key, "bench-key");
		snprintf(so.name, sizeof so.name, "bench");
		if ((s = sim_start(&so, &cause)) == NULL) {
			fprintf(stderr, "sim: %s\n", cause);
			_exit(1);
		}
		*port = sim_port(s);
		if (write(fds[1], port, sizeof *port) != sizeof *port)
			_exit(1);
		for (;;)
			pause();
	}
	close(fds[1]);
	if (read(fds[0], port, sizeof *port) != sizeof *port)
		fatal("the sim did not start");
	close(fds[0]);
	return pid;
}

static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

static const char *body =
    "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"ping\"}],"
    "\"max_completion_tokens\":16}";

static void
bench_direct(int port, struct histogram *h)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hdr = NULL;
	char url[128];

	snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/chat/completions", port);
	hdr = curl_slist_append(hdr, "Authorization: Bearer bench-key");
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	hdr = curl_slist_append(hdr, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	for (int i = 0; i < n_seq + 200; i++) {
		uint64_t t0 = clock_mono_us();
		if (curl_easy_perform(c) != CURLE_OK)
			fatal("direct call failed");
		if (i >= 200)
			hist_record(h, clock_mono_us() - t0);
	}
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
}

static void
make_config(struct config *cfg, int port)
{
	struct provider_conf *p;

	config_init(cfg);
	cfg->providers = xcalloc(1, sizeof *cfg->providers);
	cfg->n_providers = 1;
	p = &cfg->providers[0];
	p->name = xstrdup("openai");
	p->kind = PROVIDER_OPENAI;
	p->flavor = FLAVOR_OPENAI;
	p->base_url = xasprintf("http://127.0.0.1:%d", port);
	p->api_key = xstrdup("bench-key");
	p->models = xcalloc(1, sizeof *p->models);
	p->models[0] = xstrdup("gpt-4o");
	p->n_models = 1;
	p->priority = 1;
	p->weight = 1;
	p->timeout_seconds = 120;
	p->max_retries = 0;
	p->tls_verify = 1;
	p->enabled = 1;
	cfg->breaker.probe_interval_ms = 0;
	cfg->breaker.failure_threshold = 1000000;
}

static void
make_request(struct llm_request *req)
{
	llm_request_init(req);
	llm_request_add_message(req, LLM_ROLE_USER, "ping");
	req->max_tokens = 16;
}

static void
bench_router_seq(struct router *r, struct histogram *h, double *rps, double temperature)
{
	struct llm_request req;
	struct router_result res;
	uint64_t start = 0;

	make_request(&req);
	if (temperature >= 0) {
		req.temperature = temperature;
		req.has_temperature = 1;
	}
	for (int i = 0; i < n_seq + 200; i++) {
		uint64_t t0;
		if (i == 200)
			start = clock_mono_us();
		t0 = clock_mono_us();
		if (router_generate(r, &req, NULL, NULL, &res) != 0)
			fatal("router call failed: %s", res.err.message);
		if (i >= 200)
			hist_record(h, clock_mono_us() - t0);
		router_result_free(&res);
	}
	*rps = n_seq / ((double)(clock_mono_us() - start) / 1e6);
	llm_request_free(&req);
}

struct window {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int outstanding;
	int done;
	int failed;
	int peak;
};

static void
window_done(void *arg, struct router_result *res)
{
	struct window *w = arg;

	pthread_mutex_lock(&w->mu);
	w->outstanding--;
	w->done++;
	if (res->cls != LLM_OK)
		w->failed++;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	router_result_free(res);
	free(res);
}

/* Keep `conc` requests outstanding until n are done; returns requests/s. */
static double
bench_router_conc(struct router *r, int conc, int n, struct window *w)
{
	struct llm_request req;
	uint64_t t0 = clock_mono_us();
	int sent = 0;

	make_request(&req);
	memset(w, 0, sizeof *w);
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	pthread_mutex_lock(&w->mu);
	while (w->done < n) {
		while (w->outstanding < conc && sent < n) {
			w->outstanding++;
			sent++;
			if (w->outstanding > w->peak)
				w->peak = w->outstanding;
			pthread_mutex_unlock(&w->mu);
			router_submit(r, &req, NULL, window_done, w);
			pthread_mutex_lock(&w->mu);
		}
		pthread_cond_wait(&w->cv, &w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	llm_request_free(&req);
	return n / ((double)(clock_mono_us() - t0) / 1e6);
}

/* Providers speak TLS: the same load over HTTPS, and how often a connection
 * and a TLS handshake were needed (reuse keeps both near the pool size). */
static void
bench_tls(int port, const struct tlskit *tls)
{
	struct config cfg;
	struct router_opts ro;
	struct router *r;
	struct http_stats st;
	struct window w;
	char *cause = NULL;
	double rps;

	make_config(&cfg, port);
	free(cfg.providers[0].base_url);
	cfg.providers[0].base_url = xasprintf("https://127.0.0.1:%d", port);
	cfg.providers[0].ca_file = xstrdup(tls->cert_file);
	memset(&ro, 0, sizeof ro);
	ro.seed = 1;
	ro.no_probes = 1;
	if ((r = router_new(&cfg, &ro, &cause)) == NULL)
		fatal("router_new: %s", cause);
	rps = bench_router_conc(r, 16, n_seq, &w);
	http_get_stats(router_engine(r), &st);
	printf("over TLS (HTTPS sim, throwaway certificate), concurrency 16: %.0f req/s (%d "
	       "failed); "
	       "%llu transfers needed %llu connections and %llu TLS handshakes; %llu over HTTP/2\n",
	    rps, w.failed, (unsigned long long)st.transfers, (unsigned long long)st.connections,
	    (unsigned long long)st.tls_handshakes, (unsigned long long)st.http2_transfers);
	router_free(r);
	config_free(&cfg);
}

static long
proc_status(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	size_t klen = strlen(key);

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, key, klen) == 0 && line[klen] == ':')
			v = strtol(line + klen + 1, NULL, 10);
	fclose(f);
	return v;
}

int
main(int argc, char **argv)
{
	struct histogram direct, routed;
	struct config cfg, cfg_slow;
	struct router *r;
	struct router_opts ro;
	struct window w;
	char *cause = NULL;
	double rps1, rps64, secs;
	int port, slow_port;
	pid_t sim_fast, sim_slow, sim_tls;
	struct tlskit tls;
	char tlsdir[] = "/tmp/llmdeck-bench-tls-XXXXXX";
	int tls_port;
	uint64_t t0, peak_inflight = 0;
	long threads_peak = 0;

	if (argc > 1)
		n_seq = atoi(argv[1]);
	if (argc > 2)
		n_inflight = atoi(argv[2]);
	testkit_raise_fd_limit();
	if (mkdtemp(tlsdir) == NULL)
		fatal("mkdtemp");
	tlskit_make(&tls, tlsdir);
	sim_fast = spawn_sim(0, NULL, &port);
	sim_slow = spawn_sim(1000, NULL, &slow_port);
	sim_tls = spawn_sim(0, &tls, &tls_port);
	signal(SIGPIPE, SIG_IGN);

	hist_init(&direct);
	hist_init(&routed);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	bench_direct(port, &direct);

	make_config(&cfg, port);
	memset(&ro, 0, sizeof ro);
	ro.seed = 1;
	ro.no_probes = 1;
	if ((r = router_new(&cfg, &ro, &cause)) == NULL)
		fatal("router_new: %s", cause);
	bench_router_seq(r, &routed, &rps1, -1);
	rps64 = bench_router_conc(r, 64, n_seq * 4, &w);
	router_free(r);
	config_free(&cfg);

	printf("router added latency over a direct libcurl call (zero-latency sim, %d calls):\n",
	    n_seq);
	printf("  direct  p50 %6llu us  p99 %6llu us\n",
	    (unsigned long long)hist_quantile(&direct, 0.5),
	    (unsigned long long)hist_quantile(&direct, 0.99));
	printf("  router  p50 %6llu us  p99 %6llu us\n",
	    (unsigned long long)hist_quantile(&routed, 0.5),
	    (unsigned long long)hist_quantile(&routed, 0.99));
	printf("  added   p50 %6lld us  p99 %6lld us\n",
	    (long long)hist_quantile(&routed, 0.5) - (long long)hist_quantile(&direct, 0.5),
	    (long long)hist_quantile(&routed, 0.99) - (long long)hist_quantile(&direct, 0.99));
	printf("throughput: concurrency 1: %.0f req/s; concurrency 64: %.0f req/s (%d failed)\n",
	    rps1, rps64, w.failed);
	fflush(stdout);

	/* The same with the database on: every answer ledgered (group commit, fsync per
	 * batch) before it is returned; then cache hits. */
	{
		struct histogram ledgered, hits;
		struct store *st;
		char dbdir[] = "/tmp/llmdeck-bench-XXXXXX", db[64], rm[96];
		double rps_l, rps_h, rps_l64;

		if (mkdtemp(dbdir) == NULL)
			fatal("mkdtemp");
		snprintf(db, sizeof db, "%s/bench.db", dbdir);
		if (store_open(&st, db, &cause) != 0)
			fatal("store_open: %s", cause);
		make_config(&cfg, port);
		ro.store = st;
		if ((r = router_new(&cfg, &ro, &cause)) == NULL)
			fatal("router_new: %s", cause);
		hist_init(&ledgered);
		hist_init(&hits);
		bench_router_seq(r, &ledgered, &rps_l, -1);
		rps_l64 = bench_router_conc(r, 64, n_seq * 4, &w);
		bench_router_seq(r, &hits, &rps_h, 0);
		router_free(r);
		store_close(st);
		config_free(&cfg);
		ro.store = NULL;
		printf("with the ledger on (SQLite WAL, group commit, synchronous=FULL):\n");
		printf("  router  p50 %6llu us  p99 %6llu us; added over direct p50 %lld us, "
		       "p99 %lld us\n",
		    (unsigned long long)hist_quantile(&ledgered, 0.5),
		    (unsigned long long)hist_quantile(&ledgered, 0.99),
		    (long long)hist_quantile(&ledgered, 0.5) -
		        (long long)hist_quantile(&direct, 0.5),
		    (long long)hist_quantile(&ledgered, 0.99) -
		        (long long)hist_quantile(&direct, 0.99));
		printf("  throughput: concurrency 1: %.0f req/s; concurrency 64: %.0f req/s\n",
		    rps_l, rps_l64);
		printf("cache hits (temperature 0, ledgered): p50 %llu us  p99 %llu us, %.0f "
		       "req/s\n",
		    (unsigned long long)hist_quantile(&hits, 0.5),
		    (unsigned long long)hist_quantile(&hits, 0.99), rps_h);
		fflush(stdout);
		snprintf(rm, sizeof rm, "rm -rf %s", dbdir);
		if (system(rm) != 0)
			fatal("cannot remove %s", dbdir);
	}

	/* Hold n_inflight requests against a 1 s sim. */
	make_config(&cfg_slow, slow_port);
	if ((r = router_new(&cfg_slow, &ro, &cause)) == NULL)
		fatal("router_new: %s", cause);
	{
		struct llm_request req;
		make_request(&req);
		memset(&w, 0, sizeof w);
		pthread_mutex_init(&w.mu, NULL);
		pthread_cond_init(&w.cv, NULL);
		t0 = clock_mono_us();
		w.outstanding = n_inflight;
		for (int i = 0; i < n_inflight; i++)
			router_submit(r, &req, NULL, window_done, &w);
		llm_request_free(&req);
		pthread_mutex_lock(&w.mu);
		while (w.done < n_inflight) {
			struct timespec ts;
			size_t now_in;
			long th;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 50 * 1000 * 1000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&w.cv, &w.mu, &ts);
			now_in = http_inflight(router_engine(r));
			if (now_in > peak_inflight)
				peak_inflight = now_in;
			th = proc_status("Threads");
			if (th > threads_peak)
				threads_peak = th;
			if (clock_mono_us() - t0 > 120 * 1000000ULL)
				break;
		}
		pthread_mutex_unlock(&w.mu);
		secs = (double)(clock_mono_us() - t0) / 1e6;
	}
	printf("in flight against a 1 s sim: %d submitted, peak %llu HTTP transfers at once, "
	       "%d answered, %d failed in %.2f s\n",
	    n_inflight, (unsigned long long)peak_inflight, w.done - w.failed, w.failed, secs);
	printf("  threads (peak): %ld; peak RSS: %ld kB\n", threads_peak, proc_status("VmHWM"));
	router_free(r);
	config_free(&cfg_slow);
	bench_tls(tls_port, &tls);
	kill(sim_tls, SIGKILL);
	waitpid(sim_tls, NULL, 0);
	unlink(tls.cert_file);
	unlink(tls.key_file);
	rmdir(tlsdir);
	tlskit_free(&tls);
	kill(sim_fast, SIGKILL);
	kill(sim_slow, SIGKILL);
	waitpid(sim_fast, NULL, 0);
	waitpid(sim_slow, NULL, 0);
	return 0;
}
