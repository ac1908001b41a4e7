/*
 * bench_fleet.c: `make bench-fleet`, the fleet on PostgreSQL as issue 17 checks
 * it. A throwaway cluster (pg_testutil.h), one simulated OpenAI provider
 * (`llmdeck sim`, 20 ms) and three `llmdeck serve` processes on one database,
 * each with its own --instance name and the admin token, as three hosts would
 * run them; 64 client threads (libcurl, loopback only) spread their requests
 * over the three. The provider has a 600 RPM limit and the day a hard-stop
 * budget priced to run out mid-run. Printed: what the clients got, the
 * budget's overrun from the ledger, the provider's admitted rate against its
 * limit, a drain typed into one instance reaching the other two, `llmdeck ls
 * --db`, answered requests against ledger rows; then the same, shorter, with
 * one instance SIGKILLed mid-run and with PostgreSQL restarted mid-run; last,
 * one `serve` on SQLite and one on PostgreSQL under the same clients.
 * Numbers only: nothing asserts on time. Every child is stopped at the end
 * (and by a watchdog if the bench overruns).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <sys/wait.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin_testutil.h"
#include "pg_testutil.h"
#include "util/util.h"

#define SERVES 3
#define CLIENTS 64
#define MAIN_SECONDS 30
#define SHORT_SECONDS 15
#define SIM_LATENCY_MS 20
#define RPM 600
/* Requests ask for at most this many tokens, priced on output only, so the
 * largest single reservation is exactly MAX_TOKENS * OUT_PER_MTOK / 1e6. */
#define MAX_TOKENS 64
#define OUT_PER_MTOK 1000.0
#define ADMIN_TOKEN "bench-fleet-admin"
/* The bound on an override reaching every instance. */
#define DRAIN_GOAL_MS 250
/*
 * How many times the limit the fleet admits: 1, now that RPM/TPM limits are
 * held fleet-wide (store/limits.c); it was SERVES while each instance had its
 * own. The budget is priced from it so that it runs out about halfway through
 * each run.
 */
#define LIMIT_COPIES 1
#define WATCHDOG_SECONDS 600

enum outcome { O_OK, O_BUDGET, O_RATE429, O_NOPROV, O_STORE503, O_HTTP_OTHER, O_CONN, O_N };

struct serve {
	pid_t pid;
	char name[32];
	char url[128];
	char err[192];
};

/* What one run's clients got, and what its ledger holds. */
struct result {
	const char *title;
	int seconds;
	long n[O_N];
	long answered_by[SERVES];
	double elapsed_s;
	double budget_out_s; /* first budget refusal after the start; -1: none */
	double last_ok_s;    /* the last answered request's ledger row, after the start */
	int64_t start_wall_ms;
	double daily_usd;
	long disrupt_ms; /* the SIGKILL's moment or the restart's length; -1: none */
	/* the ledger */
	long rows_ok, rows_all, rows_ok_by[SERVES];
	double spend;
	long admitted;       /* ok rows for the provider */
	double admitted_min; /* over which minutes (first to last row) */
	long steady;         /* ok rows after the first 5 s (the bucket's burst spent) */
	double steady_min;
};

static char dir[] = "/tmp/llmdeck-bench-fleet-XXXXXX";
static int dir_made;
static struct pgtest *pg;
static pid_t sim_pid = -1;
static char sim_url_s[128];
static struct serve fleet[SERVES];
static int alive[SERVES]; /* read by the clients, __atomic */
static int n_fleet;
static double cost_per_req; /* the sim's mean answer, priced */

/* Clients' shared state for one run. */
static uint64_t run_start_ms, run_deadline_ms;
static uint64_t first_budget_ms; /* __atomic; 0: none yet */

static const char *
bin_path(void)
{
	return getenv("LLMDECK") != NULL ? getenv("LLMDECK") : "build/llmdeck";
}

static void
stop_pid(pid_t *pid, int sig)
{
	int st;

	if (*pid <= 0)
		return;
	kill(*pid, sig);
	for (int i = 0; i < 1500; i++) {
		if (waitpid(*pid, &st, WNOHANG) == *pid) {
			*pid = -1;
			return;
		}
		sleep_ms(10);
	}
	kill(*pid, SIGKILL);
	waitpid(*pid, &st, 0);
	*pid = -1;
}

static void
stop_fleet(void)
{
	for (int i = 0; i < n_fleet; i++)
		stop_pid(&fleet[i].pid, SIGTERM);
	n_fleet = 0;
}

static void
cleanup(void)
{
	char cmd[128];

	for (int i = 0; i < SERVES; i++)
		stop_pid(&fleet[i].pid, SIGKILL);
	stop_pid(&sim_pid, SIGTERM);
	pgtest_stop(pg);
	pg = NULL;
	if (dir_made) {
		snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench_fleet: could not remove %s\n", dir);
	}
}

static void
watchdog(int sig)
{
	(void)sig;
	fprintf(stderr, "bench_fleet: over %d s, stopping\n", WATCHDOG_SECONDS);
	exit(1); /* cleanup() runs */
}

static size_t
collect(char *p, size_t sz, size_t n, void *arg)
{
	buf_append(arg, p, sz * n);
	return sz * n;
}

/* The config: one OpenAI provider on the sim; rpm 0 and daily_usd 0 leave them out. */
static char *
write_config(const char *name, int rpm, double daily_usd)
{
	char *path = xasprintf("%s/%s.json", dir, name);
	FILE *f = fopen(path, "w");

	if (f == NULL)
		fatal("cannot write %s", path);
	fprintf(f,
	    "{\"providers\":[{\"name\":\"gpt\",\"kind\":\"openai\",\"base_url\":\"%s\","
	    "\"api_key_env\":\"BENCH_FLEET_KEY\",\"models\":[\"bench-model\"],\"max_retries\":0,"
	    "\"timeout_seconds\":20,\"rate_limit_rpm\":%d}],\n"
	    " \"models\":{\"bench-model\":{\"id\":\"bench-model-id\",\"input_per_mtok\":0,"
	    "\"output_per_mtok\":%g}},\n"
	    " \"cache\":{\"enabled\":false},\n"
	    " \"budget\":{\"daily_usd\":%.6f,\"hard_stop\":true}}\n",
	    sim_url_s, rpm, OUT_PER_MTOK, daily_usd);
	fclose(f);
	return path;
}

static void
serve_start(struct serve *s, const char *name, const char *config, const char *db)
{
	const char *args[] = {"llmdeck", "serve", "--listen", "127.0.0.1:0", "--config", config,
	    "--db", db, "--instance", name, NULL};

	snprintf(s->name, sizeof s->name, "%s", name);
	snprintf(s->err, sizeof s->err, "%s/%s.err", dir, name);
	s->pid = spawn_serve(args, s->err, s->url, sizeof s->url);
}

/* n instances on db, all alive. */
static void
fleet_start(int n, const char *config, const char *db)
{
	char name[32];

	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof name, "fleet-%d", i + 1);
		serve_start(&fleet[i], name, config, db);
		__atomic_store_n(&alive[i], 1, __ATOMIC_SEQ_CST);
	}
	n_fleet = n;
}

static enum outcome
classify(CURLcode rc, long status, const struct buf *body)
{
	if (rc != CURLE_OK)
		return O_CONN;
	if (status == 200)
		return O_OK;
	if (status == 429)
		return body->data != NULL && memmem(body->data, body->len, "budget_exceeded", 15)
		    ? O_BUDGET
		    : O_RATE429;
	if (status == 503)
		return body->data != NULL && memmem(body->data, body->len, "no_provider", 11)
		    ? O_NOPROV
		    : O_STORE503;
	return O_HTTP_OTHER;
}

struct client {
	pthread_t th;
	int id;
	long n[O_N];
	long answered_by[SERVES];
};

/* One client: requests back to back until the deadline, each to the next live instance. */
static void *
client_main(void *arg)
{
	struct client *c = arg;
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	CURL *e = curl_easy_init();
	struct buf body;
	char url[256], req[256];
	long seq = 0, status;
	int at = c->id % n_fleet;

	buf_init(&body);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	while (clock_mono_ms() < run_deadline_ms) {
		enum outcome o;
		CURLcode rc;
		int k;

		for (k = 0; k < n_fleet && !__atomic_load_n(&alive[at], __ATOMIC_SEQ_CST); k++)
			at = (at + 1) % n_fleet;
		snprintf(url, sizeof url, "%s/v1/chat/completions", fleet[at].url);
		snprintf(req, sizeof req,
		    "{\"model\":\"bench-model\",\"max_tokens\":%d,\"messages\":[{\"role\":\"user\","
		    "\"content\":\"client %d request %ld\"}]}",
		    MAX_TOKENS, c->id, seq++);
		curl_easy_setopt(e, CURLOPT_URL, url);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, req);
		buf_reset(&body);
		status = 0;
		rc = curl_easy_perform(e);
		if (rc == CURLE_OK)
			curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
		o = classify(rc, status, &body);
		c->n[o]++;
		if (o == O_OK)
			c->answered_by[at]++;
		if (o == O_BUDGET) {
			uint64_t none = 0, now = clock_mono_ms();
			__atomic_compare_exchange_n(&first_budget_ms, &none, now, 0,
			    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		}
		if (o == O_CONN)
			sleep_ms(5); /* a dead instance: not a busy loop */
		at = (at + 1) % n_fleet;
	}
	buf_free(&body);
	curl_easy_cleanup(e);
	curl_slist_free_all(h);
	return NULL;
}

enum disrupt { D_NONE, D_KILL, D_PG_RESTART };

/* The clients for seconds against the running fleet; a disruption a third of the way in. */
static void
drive(struct result *res, int seconds, enum disrupt d)
{
	struct client *cs = xcalloc(CLIENTS, sizeof *cs);

	res->seconds = seconds;
	res->disrupt_ms = -1;
	__atomic_store_n(&first_budget_ms, 0, __ATOMIC_SEQ_CST);
	run_start_ms = clock_mono_ms();
	res->start_wall_ms = clock_wall_ms();
	run_deadline_ms = run_start_ms + (uint64_t)seconds * 1000;
	for (int i = 0; i < CLIENTS; i++) {
		cs[i].id = i;
		if (pthread_create(&cs[i].th, NULL, client_main, &cs[i]) != 0)
			fatal("pthread_create");
	}
	if (d != D_NONE) {
		sleep_ms((long)seconds * 1000 / 3);
		if (d == D_KILL) {
			/* The last instance dies as a host would: no shutdown, no flush. */
			__atomic_store_n(&alive[n_fleet - 1], 0, __ATOMIC_SEQ_CST);
			res->disrupt_ms = (long)(clock_mono_ms() - run_start_ms);
			stop_pid(&fleet[n_fleet - 1].pid, SIGKILL);
		} else
			res->disrupt_ms = pgtest_restart(pg);
	}
	for (int i = 0; i < CLIENTS; i++) {
		pthread_join(cs[i].th, NULL);
		for (int o = 0; o < O_N; o++)
			res->n[o] += cs[i].n[o];
		for (int k = 0; k < SERVES; k++)
			res->answered_by[k] += cs[i].answered_by[k];
	}
	res->elapsed_s = (double)(clock_mono_ms() - run_start_ms) / 1000.0;
	{
		uint64_t fb = __atomic_load_n(&first_budget_ms, __ATOMIC_SEQ_CST);
		res->budget_out_s = fb == 0 ? -1 : (double)(fb - run_start_ms) / 1000.0;
	}
	free(cs);
}

static PGresult *
pg_query(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fatal("ledger query failed: %s", PQerrorMessage(c));
	return r;
}

/* The ledger of db (the instances stopped): rows, spend, the provider's admitted rate. */
static void
read_ledger(struct result *res, const char *db)
{
	PGconn *c = PQconnectdb(db);
	PGresult *r;

	if (PQstatus(c) != CONNECTION_OK)
		fatal("cannot connect to %s: %s", db, PQerrorMessage(c));
	r = pg_query(c,
	    "SELECT count(*) FILTER (WHERE outcome = 'ok'), count(*), "
	    "coalesce(sum(cost_usd), 0) FROM ledger");
	res->rows_ok = atol(PQgetvalue(r, 0, 0));
	res->rows_all = atol(PQgetvalue(r, 0, 1));
	res->spend = atof(PQgetvalue(r, 0, 2));
	PQclear(r);
	r = pg_query(c, "SELECT instance, count(*) FROM ledger WHERE outcome = 'ok' GROUP BY 1");
	for (int i = 0; i < PQntuples(r); i++)
		for (int k = 0; k < SERVES; k++)
			if (strcmp(PQgetvalue(r, i, 0), fleet[k].name) == 0)
				res->rows_ok_by[k] = atol(PQgetvalue(r, i, 1));
	PQclear(r);
	r = pg_query(c,
	    "WITH t AS (SELECT time_ms FROM ledger WHERE provider = 'gpt' AND "
	    "outcome = 'ok'), b AS (SELECT min(time_ms) AS t0 FROM t) "
	    "SELECT count(*), coalesce(max(time_ms) - min(time_ms), 0), "
	    "count(*) FILTER (WHERE time_ms >= t0 + 5000), "
	    "coalesce(max(time_ms) - (min(t0) + 5000), 0) FROM t, b");
	res->admitted = atol(PQgetvalue(r, 0, 0));
	res->admitted_min = atof(PQgetvalue(r, 0, 1)) / 60000.0;
	res->steady = atol(PQgetvalue(r, 0, 2));
	res->steady_min = atof(PQgetvalue(r, 0, 3)) / 60000.0;
	PQclear(r);
	r = pg_query(c, "SELECT coalesce(max(time_ms), 0) FROM ledger WHERE outcome = 'ok'");
	res->last_ok_s = (double)(atoll(PQgetvalue(r, 0, 0)) - res->start_wall_ms) / 1000.0;
	PQclear(r);
	PQfinish(c);
}

/* The budget priced so the fleet's admitted requests reach it about at `at_s`:
 * each instance's bucket starts full (RPM at once), then refills at RPM/min. */
static double
budget_for(double at_s)
{
	return cost_per_req * LIMIT_COPIES * RPM * (1.0 + at_s / 60.0);
}

/* One fleet run on a fresh database: 3 instances, the clients, a disruption. */
static void
fleet_run(struct result *res, const char *title, int seconds, enum disrupt d)
{
	char *db = pgtest_new_db(pg), *config;

	if (db == NULL)
		fatal("no PostgreSQL database");
	res->title = title;
	res->daily_usd = budget_for(seconds * 2.0 / 3.0); /* after the disruption */
	config = write_config(d == D_NONE ? "fleet"
	        : d == D_KILL             ? "kill"
	                                  : "restart",
	    RPM, res->daily_usd);
	fprintf(stderr, "bench_fleet: %s, %d s ...\n", title, seconds);
	fleet_start(SERVES, config, db);
	drive(res, seconds, d);
	stop_fleet();
	read_ledger(res, db);
	free(config);
	free(db);
}

/* The provider's admin state on instance i. */
static int
gpt_is(int i, const char *want)
{
	struct hreply r;
	char url[256];
	cJSON *p;
	int ok = 0;

	snprintf(url, sizeof url, "%s/admin/v1/snapshot", fleet[i].url);
	hreq(&r, "GET", url, NULL, ADMIN_TOKEN);
	cJSON_ArrayForEach(p, jget(r.json, "providers"))
	{
		const char *name = jstr(p, "name"), *st = jstr(p, "state.admin");

		if (name != NULL && strcmp(name, "gpt") == 0 && st != NULL)
			ok = strcmp(st, want) == 0;
	}
	hreply_free(&r);
	return ok;
}

/* One instance's watcher for until_all: polls its own snapshot, so the time one instance
 * sees the change is not held up by the snapshots of the others. */
struct watch {
	int i;
	uint64_t t0;
	const char *want;
	long ms;   /* when it first saw want, from t0; -1: not within 5 s */
	long poll; /* its slowest snapshot (ms): the figure's resolution */
};

static void *
watch_one(void *arg)
{
	struct watch *w = arg;

	w->ms = -1;
	w->poll = 0;
	for (;;) {
		uint64_t before = clock_mono_ms();
		int ok = gpt_is(w->i, w->want);
		long took = (long)(clock_mono_ms() - before);

		if (took > w->poll)
			w->poll = took;
		if (ok) {
			w->ms = (long)(clock_mono_ms() - w->t0);
			return NULL;
		}
		if (clock_mono_ms() - w->t0 > 5000)
			return NULL;
		sleep_ms(2);
	}
}

/* Ms until every instance shows the provider as want (-1: not within 5 s), each instance
 * watched by a thread of its own; *resolution: the slowest snapshot any took. */
static long
until_all(uint64_t t0, const char *want, long *resolution)
{
	struct watch w[SERVES];
	pthread_t th[SERVES];
	long worst = 0;

	*resolution = 0;
	for (int i = 0; i < n_fleet; i++) {
		w[i] = (struct watch){.i = i, .t0 = t0, .want = want};
		pthread_create(&th[i], NULL, watch_one, &w[i]);
	}
	for (int i = 0; i < n_fleet; i++) {
		pthread_join(th[i], NULL);
		if (w[i].ms < 0)
			worst = -1;
		else if (worst >= 0 && w[i].ms > worst)
			worst = w[i].ms;
		if (w[i].poll > *resolution)
			*resolution = w[i].poll;
	}
	return worst;
}

static void
admin_post(int i, const char *path, long *status)
{
	struct hreply r;
	char url[256];

	snprintf(url, sizeof url, "%s%s", fleet[i].url, path);
	hreq(&r, "POST", url, NULL, ADMIN_TOKEN);
	*status = r.status;
	hreply_free(&r);
}

/* `llmdeck ls --db URL --json`: how many live instances it lists, their names into names. */
static int
ls_db(const char *db, char *names, size_t len, int *exit_code)
{
	char *cmd = xasprintf("%s ls --db '%s' --json 2>/dev/null", bin_path(), db);
	char out[16384];
	FILE *p = popen(cmd, "r");
	size_t n = p != NULL ? fread(out, 1, sizeof out - 1, p) : 0;
	int count = 0, rc = p != NULL ? pclose(p) : -1;
	cJSON *a, *it;

	out[n] = '\0';
	names[0] = '\0';
	a = cJSON_Parse(out);
	cJSON_ArrayForEach(it, a)
	{
		if (cJSON_IsTrue(jget(it, "gone")))
			continue;
		count++;
		snprintf(names + strlen(names), len - strlen(names), "%s%s", names[0] ? ", " : "",
		    jstr(it, "instance") != NULL ? jstr(it, "instance") : "?");
	}
	cJSON_Delete(a);
	free(cmd);
	*exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
	return count;
}

/* The sim's mean completion tokens over a few direct requests, priced. */
static void
measure_cost(void)
{
	long tokens = 0, n = 0;

	for (int i = 0; i < 20; i++) {
		struct curl_slist *h = NULL;
		struct buf body;
		char url[256], req[256];
		CURL *e = curl_easy_init();
		cJSON *j;

		buf_init(&body);
		h = curl_slist_append(h, "Content-Type: application/json");
		h = curl_slist_append(h, "Authorization: Bearer bench-fleet-key");
		snprintf(url, sizeof url, "%s/v1/chat/completions", sim_url_s);
		snprintf(req, sizeof req,
		    "{\"model\":\"bench-model-id\",\"max_tokens\":%d,\"messages\":[{\"role\":"
		    "\"user\",\"content\":\"client %d request %d\"}]}",
		    MAX_TOKENS, i, i);
		curl_easy_setopt(e, CURLOPT_URL, url);
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, req);
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
		curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
		curl_easy_setopt(e, CURLOPT_TIMEOUT, 10L);
		if (curl_easy_perform(e) == CURLE_OK) {
			buf_append(&body, "", 1);
			if ((j = cJSON_Parse(body.data)) != NULL) {
				cJSON *ct = jget(j, "usage.completion_tokens");
				if (cJSON_IsNumber(ct)) {
					tokens += (long)ct->valuedouble;
					n++;
				}
				cJSON_Delete(j);
			}
		}
		buf_free(&body);
		curl_easy_cleanup(e);
		curl_slist_free_all(h);
	}
	if (n == 0)
		fatal("the sim at %s did not answer", sim_url_s);
	cost_per_req = (double)tokens / (double)n * OUT_PER_MTOK / 1e6;
}

static void
sim_start(void)
{
	char latency[16];
	const char *args[] = {"llmdeck", "sim", "--protocol", "openai", "--listen", "127.0.0.1:0",
	    "--key", "bench-fleet-key", "--latency-ms", latency, NULL};
	char err[192];

	snprintf(latency, sizeof latency, "%d", SIM_LATENCY_MS);
	snprintf(err, sizeof err, "%s/sim.err", dir);
	sim_pid = spawn_serve(args, err, sim_url_s, sizeof sim_url_s);
}

/* One `serve` alone on db, no rate limit, a budget it never reaches: req/s. */
static void
single_run(struct result *res, const char *title, const char *db)
{
	char *config = write_config("single", 0, 1e9);

	res->title = title;
	res->daily_usd = 1e9;
	fprintf(stderr, "bench_fleet: %s, %d s ...\n", title, SHORT_SECONDS);
	fleet_start(1, config, db);
	drive(res, SHORT_SECONDS, D_NONE);
	stop_fleet();
	free(config);
}

static double
rate(const struct result *r, long n)
{
	return r->elapsed_s > 0 ? (double)n / r->elapsed_s : 0;
}

static long
errors(const struct result *r)
{
	return r->n[O_HTTP_OTHER] + r->n[O_CONN];
}

static long
requests(const struct result *r)
{
	long t = 0;

	for (int o = 0; o < O_N; o++)
		t += r->n[o];
	return t;
}

/* Answered requests without an ok row, counted per instance. */
static long
lost_rows(const struct result *r)
{
	long lost = 0;

	for (int k = 0; k < SERVES; k++)
		if (r->answered_by[k] > r->rows_ok_by[k])
			lost += r->answered_by[k] - r->rows_ok_by[k];
	return lost;
}

#define COL "%-50s"
#define VAL " %16s"

static void
row3(const struct result *rs, const char *label, int decimals, double (*f)(const struct result *))
{
	char cell[64];

	printf(COL, label);
	for (int i = 0; i < 3; i++) {
		snprintf(cell, sizeof cell, "%.*f", decimals, f(&rs[i]));
		printf(VAL, cell);
	}
	printf("\n");
}

#define FIELD(name, expr) \
	static double name(const struct result *r) \
	{ \
		return (double)(expr); \
	}
FIELD(f_req, requests(r))
FIELD(f_ok, r->n[O_OK])
FIELD(f_budget, r->n[O_BUDGET])
FIELD(f_rate429, r->n[O_RATE429])
FIELD(f_noprov, r->n[O_NOPROV])
FIELD(f_store, r->n[O_STORE503])
FIELD(f_err, errors(r))
FIELD(f_rps, rate(r, requests(r)))
FIELD(f_okps, rate(r, r->n[O_OK]))
FIELD(f_out, r->budget_out_s)
FIELD(f_last, r->last_ok_s)
FIELD(f_daily, r->daily_usd)
FIELD(f_spend, r->spend)
FIELD(f_overrun, r->spend - r->daily_usd)
FIELD(f_within, r->spend <= r->daily_usd + MAX_TOKENS * OUT_PER_MTOK / 1e6 + 1e-9)
FIELD(f_rows_ok, r->rows_ok)
FIELD(f_rows_all, r->rows_all)
FIELD(f_diff, r->n[O_OK] - r->rows_ok)
FIELD(f_lost, lost_rows(r))
FIELD(f_adm, r->admitted)
FIELD(f_adm_min, r->admitted_min > 0 ? r->admitted / r->admitted_min : 0)
FIELD(f_adm_ratio, r->admitted_min > 0 ? r->admitted / r->admitted_min / RPM : 0)
FIELD(f_steady_min, r->steady_min > 0 ? r->steady / r->steady_min : 0)
FIELD(f_steady_ratio, r->steady_min > 0 ? r->steady / r->steady_min / RPM : 0)
FIELD(f_disrupt, r->disrupt_ms)

static void
print_runs(const struct result *rs)
{
	printf("\nFleet on PostgreSQL: %d x serve, %d clients, sim %d ms, gpt at %d RPM, hard-stop "
	       "budget\n",
	    SERVES, CLIENTS, SIM_LATENCY_MS, RPM);
	printf(COL, "run");
	for (int i = 0; i < 3; i++)
		printf(VAL, rs[i].title);
	printf("\n");
	printf(COL, "length (s)");
	for (int i = 0; i < 3; i++)
		printf(" %16d", rs[i].seconds);
	printf("\n");
	row3(rs, "disruption at (ms from start) / restart took (ms)", 0, f_disrupt);
	row3(rs, "requests", 0, f_req);
	row3(rs, "  answered (200)", 0, f_ok);
	row3(rs, "  refused 429 budget", 0, f_budget);
	row3(rs, "  refused 429 rate", 0, f_rate429);
	row3(rs, "  refused 503 no provider (at its RPM limit)", 0, f_noprov);
	row3(rs, "  refused 503 other (store)", 0, f_store);
	row3(rs, "  errors (other status, no answer)", 0, f_err);
	row3(rs, "requests per second (req/s)", 1, f_rps);
	row3(rs, "answered per second (req/s)", 1, f_okps);
	row3(rs, "first 429 budget at (s from start; -1 never)", 1, f_out);
	row3(rs, "last answered row at (s from start)", 1, f_last);
	row3(rs, "daily_usd ($)", 4, f_daily);
	row3(rs, "ledger spend for the day ($)", 4, f_spend);
	row3(rs, "budget overrun: spend - daily_usd ($)", 4, f_overrun);
	printf(COL, "spend <= budget + largest reservation ($)");
	for (int i = 0; i < 3; i++) {
		char cell[64];
		snprintf(cell, sizeof cell, "%s (+%.3f)", f_within(&rs[i]) ? "yes" : "NO",
		    MAX_TOKENS * OUT_PER_MTOK / 1e6);
		printf(VAL, cell);
	}
	printf("\n");
	row3(rs, "ledger rows, ok (rows)", 0, f_rows_ok);
	row3(rs, "ledger rows, all outcomes (rows)", 0, f_rows_all);
	row3(rs, "answered - ok rows (rows)", 0, f_diff);
	row3(rs, "lost rows: answered without a row (rows)", 0, f_lost);
	row3(rs, "gpt admitted: ok rows (rows)", 0, f_adm);
	row3(rs, "gpt admitted rate, first to last row (rows/min)", 0, f_adm_min);
	row3(rs, "  against 600/min (ratio)", 2, f_adm_ratio);
	row3(rs, "gpt admitted rate after the first 5 s (rows/min)", 0, f_steady_min);
	row3(rs, "  against 600/min (ratio)", 2, f_steady_ratio);
}

int
main(void)
{
	struct result runs[3], single[2];
	char *config, *db, names[512];
	long status, drain_ms, clear_ms, post_ms, drain_res, clear_res;
	int listed, ls_rc;
	uint64_t t0;
	char *why = NULL;

	memset(runs, 0, sizeof runs);
	memset(single, 0, sizeof single);
	if (mkdtemp(dir) == NULL)
		fatal("mkdtemp");
	dir_made = 1;
	atexit(cleanup);
	signal(SIGALRM, watchdog);
	signal(SIGPIPE, SIG_IGN);
	alarm(WATCHDOG_SECONDS);
	{
		char *run = xasprintf("%s/run", dir);
		mkdir(run, 0700);
		setenv("XDG_RUNTIME_DIR", run, 1);
		free(run);
	}
	setenv("BENCH_FLEET_KEY", "bench-fleet-key", 1);
	setenv("LLMDECK_ADMIN_TOKEN", ADMIN_TOKEN, 1);
	unsetenv("LLMDECK_GATEWAY_TOKEN");
	unsetenv("LLMDECK_CONFIG");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if ((pg = pgtest_start(&why)) == NULL) {
		printf("bench_fleet: skipped: %s\n", why);
		free(why);
		return 0;
	}
	sim_start();
	measure_cost();
	fprintf(stderr, "bench_fleet: sim at %s, $%.4f a request\n", sim_url_s, cost_per_req);

	/* The main run, then the drain and `ls` on the same fleet (restarted, idle). */
	db = pgtest_new_db(pg);
	if (db == NULL)
		fatal("no PostgreSQL database");
	runs[0].title = "30 s";
	runs[0].daily_usd = budget_for(MAIN_SECONDS / 2.0);
	config = write_config("fleet", RPM, runs[0].daily_usd);
	fprintf(stderr, "bench_fleet: 3 x serve, %d s ...\n", MAIN_SECONDS);
	fleet_start(SERVES, config, db);
	drive(&runs[0], MAIN_SECONDS, D_NONE);

	t0 = clock_mono_ms();
	admin_post(0, "/admin/v1/providers/gpt/drain", &status);
	post_ms = (long)(clock_mono_ms() - t0);
	drain_ms = status == 200 ? until_all(t0, "drained", &drain_res) : -1;
	t0 = clock_mono_ms();
	admin_post(0, "/admin/v1/providers/gpt/clear-overrides", &status);
	clear_ms = status == 200 ? until_all(t0, "enabled", &clear_res) : -1;
	listed = ls_db(db, names, sizeof names, &ls_rc);

	stop_fleet();
	read_ledger(&runs[0], db);
	free(config);

	fleet_run(&runs[1], "SIGKILL one", SHORT_SECONDS, D_KILL);
	fleet_run(&runs[2], "pg_ctl restart", SHORT_SECONDS, D_PG_RESTART);

	free(db);
	db = xasprintf("%s/single.db", dir);
	single_run(&single[0], "SQLite", db);
	free(db);
	db = pgtest_new_db(pg);
	single_run(&single[1], "PostgreSQL", db);
	free(db);

	print_runs(runs);
	printf("\nAcross the fleet (after the 30 s run, instance fleet-1 typed into)\n");
	printf(COL " %16ld  (goal <= %d ms)\n", "drain on fleet-1 seen by all three (ms)", drain_ms,
	    DRAIN_GOAL_MS);
	printf(COL " %16ld\n", "  of which the POST to fleet-1 (ms)", post_ms);
	printf(COL " %16ld\n", "  resolution: the slowest snapshot read (ms)", drain_res);
	printf(COL " %16ld\n", "clear-overrides seen by all three (ms)", clear_ms);
	printf(COL " %16ld\n", "  resolution: the slowest snapshot read (ms)", clear_res);
	printf(COL " %16d  (exit %d: %s)\n", "`llmdeck ls --db URL --json` live (instances)",
	    listed, ls_rc, names);
	printf("\nOne serve, %d clients, %d s, no rate limit, budget never reached\n", CLIENTS,
	    SHORT_SECONDS);
	printf(COL VAL VAL VAL "\n", "store", "SQLite", "PostgreSQL", "PG / SQLite");
	printf(COL " %16.1f %16.1f %16.2f\n", "answered per second (req/s)",
	    rate(&single[0], single[0].n[O_OK]), rate(&single[1], single[1].n[O_OK]),
	    rate(&single[0], single[0].n[O_OK]) > 0
	        ? rate(&single[1], single[1].n[O_OK]) / rate(&single[0], single[0].n[O_OK])
	        : 0);
	printf(COL " %16ld %16ld\n", "errors and refusals (requests)",
	    requests(&single[0]) - single[0].n[O_OK], requests(&single[1]) - single[1].n[O_OK]);
	curl_global_cleanup();
	return 0;
}
