/*
 * test_ledger_spool.c: no answer without its charge. A ledger batch that
 * cannot commit (an injected write failure, a database locked past the busy
 * timeout, its file deleted) goes to the spool before its request is
 * answered, is replayed exactly once when the store takes writes again, and
 * the budget holds throughout; a full spool refuses paid requests (503), and
 * /ready says how the store stands.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "gateway/gateway.h"
#include "router/router.h"
#include "sim/sim.h"
#include "sim_testutil.h"
#include "store/ledger.h"
#include "store/store.h"
#include "store_testutil.h"
#include "util/util.h"

static struct ledger_row
row_make(double cost)
{
	struct ledger_row r;

	memset(&r, 0, sizeof r);
	strlcpy_(r.route, "r\tx", sizeof r.route); /* a tab survives the spool */
	strlcpy_(r.provider, "anthropic", sizeof r.provider);
	strlcpy_(r.model, "claude-sonnet", sizeof r.model);
	r.input_tokens = 19;
	r.output_tokens = 10;
	r.cost_usd = cost;
	strlcpy_(r.outcome, "ok", sizeof r.outcome);
	r.attempts = 1;
	return r;
}

/* Lines (rows) in the spool file, and its size into *bytes. */
static long
spool_lines(struct store *s, long *bytes)
{
	struct store_health h;
	long n = 0;
	FILE *f;
	int c;

	store_health(s, &h);
	*bytes = 0;
	if ((f = fopen(h.spool_path, "r")) == NULL)
		return 0;
	while ((c = fgetc(f)) != EOF) {
		(*bytes)++;
		n += c == '\n';
	}
	fclose(f);
	return n;
}

/* Wait up to ms for the store to be failing (want 1) or healthy with an empty spool (0). */
static int
wait_health(struct store *s, int want, int ms)
{
	struct store_health h;

	for (int waited = 0;; waited += 20) {
		store_health(s, &h);
		if (want ? h.failing : !h.failing && h.spooled_rows == 0)
			return waited;
		if (waited >= ms)
			return -1;
		usleep(20000);
	}
}

static void
test_a_failed_commit_is_spooled_then_replayed_once(void **state)
{
	struct sttest_store *t = *state;
	struct store_health h;
	char *cause = NULL, *copy, *cmd;
	struct ledger_row r = row_make(0.01);
	long bytes;

	store_test_fail_writes(t->s, 1);
	for (int i = 0; i < 5; i++)
		assert_int_equal(ledger_record(t->s, &r, 0, &cause), 0); /* spooled: recorded */
	assert_int_equal(sttest_sql_int64(t->path, "SELECT count(*) FROM ledger"), 0);
	assert_int_equal(spool_lines(t->s, &bytes), 5);
	assert_true(bytes > 5 * 100);
	store_health(t->s, &h);
	assert_int_equal(h.failing, 1);
	assert_int_equal(h.spooled_rows, 5);
	assert_non_null(strstr(h.reason, "injected write failure"));
	/* What a crash between the replay's commit and the spool's truncation leaves. */
	copy = xasprintf("%s/spool.copy", t->dir);
	cmd = xasprintf("cp %s %s", h.spool_path, copy);
	assert_int_equal(system(cmd), 0);
	free(cmd);

	store_test_fail_writes(t->s, 0);
	assert_true(wait_health(t->s, 0, 10000) >= 0);
	assert_int_equal(sttest_sql_int64(t->path, "SELECT count(*) FROM ledger"), 5);
	assert_int_equal(sttest_sql_int64(t->path,
	                     "SELECT count(*) FROM ledger WHERE route = "
	                     "'r\tx'"),
	    5);
	assert_int_equal(spool_lines(t->s, &bytes), 0);
	assert_int_equal(bytes, 0);
	/* A new row commits at once again. */
	assert_int_equal(ledger_record(t->s, &r, 0, &cause), 0);
	assert_int_equal(sttest_sql_int64(t->path, "SELECT count(*) FROM ledger"), 6);

	/* The same spool replayed again on the next open: the uids make it a no-op. */
	store_close(t->s);
	cmd = xasprintf("cp %s %s", copy, h.spool_path);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	assert_int_equal(store_open(&t->s, t->path, &cause), 0);
	assert_int_equal(sttest_sql_int64(t->path, "SELECT count(*) FROM ledger"), 6);
	assert_true(sttest_sql_double(t->path, "SELECT TOTAL(cost_usd) FROM ledger") < 0.0601);
	assert_int_equal(spool_lines(t->s, &bytes), 0);
	free(copy);
}

static void
test_a_torn_last_record_is_dropped(void **state)
{
	struct sttest_store *t = *state;
	struct store_health h;
	char *cause = NULL;
	struct ledger_row r = row_make(0.02);
	long bytes;
	FILE *f;

	store_test_fail_writes(t->s, 1);
	assert_int_equal(ledger_record(t->s, &r, 0, &cause), 0);
	store_health(t->s, &h);
	store_close(t->s);
	/* A crash in the middle of an append: half a line, no newline. */
	f = fopen(h.spool_path, "a");
	assert_non_null(f);
	fputs("L1\tdeadbeef-1\t0\t1700000000000\tr\tanthropic\tclaude", f);
	fclose(f);
	assert_int_equal(store_open(&t->s, t->path, &cause), 0);
	assert_int_equal(sttest_sql_int64(t->path, "SELECT count(*) FROM ledger"), 1);
	assert_int_equal(spool_lines(t->s, &bytes), 0);
}

static void
test_a_full_spool_refuses_with_its_reason(void **state)
{
	struct sttest_store *t = *state;
	struct store_health h;
	struct ledger_row r = row_make(0.01);
	char *cause = NULL;
	long bytes;

	ledger_set_spool_max(t->s, 3);
	store_test_fail_writes(t->s, 1);
	for (int i = 0; i < 3; i++)
		assert_int_equal(ledger_record(t->s, &r, 0, &cause), 0);
	assert_int_equal(ledger_record(t->s, &r, 0, &cause), -1);
	assert_non_null(strstr(cause, "the ledger cannot be written: "));
	assert_non_null(strstr(cause, "injected write failure"));
	assert_non_null(strstr(cause, "3 rows spooled at "));
	assert_non_null(strstr(cause, "-spool"));
	free(cause);
	store_health(t->s, &h);
	assert_int_equal(h.spool_full, 1);
	assert_int_equal(spool_lines(t->s, &bytes), 3);
	store_test_fail_writes(t->s, 0);
	assert_true(wait_health(t->s, 0, 10000) >= 0);
	store_health(t->s, &h);
	assert_int_equal(h.spool_full, 0);
	assert_int_equal(sttest_sql_int64(t->path, "SELECT count(*) FROM ledger"), 3);
}

static void
test_a_deleted_database_is_noticed_and_reopened(void **state)
{
	struct sttest_store *t = *state;
	struct ledger_row r = row_make(0.01);
	struct store *other;
	char *cause = NULL, *p;
	long bytes;
	int waited;

	assert_int_equal(ledger_record(t->s, &r, 0, &cause), 0);
	for (int i = 0; i < 3; i++) {
		p = xasprintf("%s%s", t->path, i == 0 ? "" : i == 1 ? "-wal" : "-shm");
		unlink(p);
		free(p);
	}
	waited = wait_health(t->s, 1, 2000);
	print_message("deleted database noticed after %d ms\n", waited);
	assert_true(waited >= 0);
	/* The answer path spools. */
	assert_int_equal(ledger_record(t->s, &r, 0, &cause), 0);
	assert_int_equal(spool_lines(t->s, &bytes), 1);
	/* A database at the path again (another handle creates it): reopened, replayed. */
	assert_int_equal(store_open(&other, t->path, &cause), 0);
	store_close(other);
	assert_true(wait_health(t->s, 0, 10000) >= 0);
	assert_int_equal(sttest_sql_int64(t->path, "SELECT count(*) FROM ledger"), 1);
	assert_int_equal(ledger_record(t->s, &r, 0, &cause), 0);
	assert_int_equal(sttest_sql_int64(t->path, "SELECT count(*) FROM ledger"), 2);
}

/*
 * A real full disk where the machine lets the test mount a small tmpfs
 * (root), else skipped: the database and its spool on 2 MiB, filled up.
 */
static void
test_a_full_disk_spools_and_recovers(void **state)
{
	char *dir = xasprintf("%s/small", (char *)*state), *path, *filler, *wal;
	char *cmd, *cause = NULL, block[65536];
	struct ledger_row r = row_make(0.01);
	struct store_health h;
	struct store *s;
	struct stat st;
	long bytes, spooled;
	int fd, n = 0;

	assert_int_equal(mkdir(dir, 0700), 0);
	cmd = xasprintf("mount -t tmpfs -o size=2m tmpfs %s 2>/dev/null", dir);
	if (getuid() != 0 || system(cmd) != 0) {
		free(cmd);
		free(dir);
		skip();
	}
	free(cmd);
	path = xasprintf("%s/l.db", dir);
	filler = xasprintf("%s/filler", dir);
	wal = xasprintf("%s-wal", path);
	assert_int_equal(store_open(&s, path, &cause), 0);
	ledger_set_spool_max(s, 500); /* 500 rows' room set aside now */
	assert_int_equal(ledger_record(s, &r, 0, &cause), 0);
	/* Fill the disk. */
	memset(block, 'x', sizeof block);
	fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	while (write(fd, block, sizeof block) > 0)
		;
	for (int i = 0; i < 1024 && write(fd, block, 512) > 0; i++)
		;
	close(fd);
	memset(r.response_id, 'r', sizeof r.response_id - 1);
	for (int i = 0; i < 200; i++)
		n += ledger_record(s, &r, 0, &cause) == 0;
	store_health(s, &h);
	spooled = spool_lines(s, &bytes);
	print_message("full disk: %d of 200 rows recorded, %lld committed, %ld spooled (%ld "
	              "bytes); %s\n",
	    n, (long long)sttest_sql_int64(path, "SELECT count(*) FROM ledger"), spooled, bytes,
	    h.reason);
	assert_int_equal(n, 200);
	assert_true(spooled > 0);
	assert_int_equal(h.failing, 1);
	assert_int_equal(sttest_sql_int64(path, "SELECT count(*) FROM ledger") + spooled, 201);
	/* Space again: replayed, and the WAL checkpointed back down. */
	unlink(filler);
	assert_true(wait_health(s, 0, 15000) >= 0);
	assert_int_equal(sttest_sql_int64(path, "SELECT count(*) FROM ledger"), 201);
	for (int i = 0; i < 50 && stat(wal, &st) == 0 && st.st_size > 0; i++)
		usleep(20000);
	assert_true(stat(wal, &st) != 0 || st.st_size == 0);
	store_close(s);
	cmd = xasprintf("umount %s", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(wal);
	free(filler);
	free(path);
	free(dir);
}

static void
test_a_locked_database_takes_the_same_path(void **state)
{
	struct sttest_store *t = *state;
	struct ledger_row r = row_make(0.01);
	struct store_health h;
	char *cause = NULL;
	sqlite3 *db;
	long bytes;
	uint64_t t0;

	store_test_busy_timeout(t->s, 300);
	assert_int_equal(sqlite3_open(t->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
	t0 = clock_mono_ms();
	assert_int_equal(ledger_record(t->s, &r, 0, &cause), 0);
	print_message("a locked database spooled the row after %llu ms\n",
	    (unsigned long long)(clock_mono_ms() - t0));
	assert_int_equal(spool_lines(t->s, &bytes), 1);
	store_health(t->s, &h);
	assert_int_equal(h.failing, 1);
	assert_non_null(strstr(h.reason, "locked"));
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_true(wait_health(t->s, 0, 10000) >= 0);
	assert_int_equal(sttest_sql_int64(t->path, "SELECT count(*) FROM ledger"), 1);
}

/* The router and the gateway on a store that fails. */
struct fixture {
	char dir[64], db[128];
	struct config cfg;
	struct sim *sim;
	struct store *store;
	struct router *r;
	struct gateway *gw;
};

static int
setup_router(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);
	struct provider_conf *p;
	struct sim_opts so;
	char *cause = NULL;

	snprintf(f->dir, sizeof f->dir, "/tmp/llmdeck-spool-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->db, sizeof f->db, "%s/test.db", f->dir);
	sim_opts_init(&so);
	snprintf(so.name, sizeof so.name, "sim");
	so.protocol = SIM_ANTHROPIC;
	if ((f->sim = sim_start(&so, &cause)) == NULL)
		return -1;
	config_init(&f->cfg);
	f->cfg.providers = xcalloc(1, sizeof *f->cfg.providers);
	f->cfg.n_providers = 1;
	p = &f->cfg.providers[0];
	p->name = xstrdup("anthropic");
	p->kind = PROVIDER_ANTHROPIC;
	p->base_url = xstrdup(sim_url(f->sim));
	p->models = xcalloc(1, sizeof *p->models);
	p->models[0] = xstrdup("claude-sonnet");
	p->n_models = 1;
	p->priority = 1;
	p->weight = 1;
	p->timeout_seconds = 10;
	p->tls_verify = 1;
	p->enabled = 1;
	f->cfg.breaker.probe_interval_ms = 0;
	f->cfg.budget.daily_usd = 0.05;
	f->cfg.budget.hard_stop = 1;
	if (store_open(&f->store, f->db, &cause) != 0)
		return -1;
	*state = f;
	return 0;
}

static void
start_router(struct fixture *f)
{
	struct router_opts ro;
	char *cause = NULL;

	memset(&ro, 0, sizeof ro);
	ro.seed = 7;
	ro.no_probes = 1;
	ro.store = f->store;
	if ((f->r = router_new(&f->cfg, &ro, &cause)) == NULL)
		fail_msg("router_new: %s", cause);
}

static int
teardown_router(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	if (f->gw != NULL)
		gateway_stop(f->gw);
	if (f->r != NULL)
		router_free(f->r);
	store_close(f->store);
	sim_stop(f->sim);
	config_free(&f->cfg);
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void
ask(struct fixture *f, struct router_result *res)
{
	struct llm_request req;

	llm_request_init(&req);
	llm_request_add_message(&req, LLM_ROLE_USER, "what does the ledger say?");
	req.model = xstrdup("claude-sonnet");
	req.max_tokens = 200;
	router_generate(f->r, &req, NULL, NULL, res);
	llm_request_free(&req);
}

static uint64_t
sim_requests_count(struct sim *sim)
{
	struct sim_stats st;

	sim_get_stats(sim, &st);
	return st.requests;
}

static long long
db_int(struct fixture *f, const char *sql)
{
	return sttest_sql_int64(f->db, sql);
}

/* A hard-stop budget of daily dollars, 400 requests while every commit fails, then the rest. */
static void
budget_holds(struct fixture *f, double daily)
{
	struct router_result res;
	struct store_health h;
	int answered = 0, refused = 0, other = 0;
	double billed = 0, upper = 0;
	long rows, bytes;

	f->cfg.budget.daily_usd = daily;
	start_router(f);
	store_test_fail_writes(f->store, 1);
	for (int i = 0; i < 400; i++) {
		ask(f, &res);
		if (res.cls == LLM_OK) {
			answered++;
			billed += res.cost_usd;
		} else if (res.cls == LLM_ERR_BUDGET)
			refused++;
		else
			other++;
		router_result_free(&res);
	}
	/* The most one request could reserve: 200 output tokens at $15/M plus its input. */
	upper = 200 * 15e-6 + 0.001;
	rows = spool_lines(f->store, &bytes);
	print_message("store failing: %d of 400 answered, %d refused by the budget, %d other; "
	              "$%.4f billed of a $%.2f budget; %lld rows committed, %ld spooled (%ld "
	              "bytes)\n",
	    answered, refused, other, billed, daily, db_int(f, "SELECT count(*) FROM ledger"), rows,
	    bytes);
	assert_true(answered > 0);
	assert_true(refused > 0);
	assert_true(billed <= daily + upper);
	/* Every answer has its row: committed (none can be) or spooled. */
	assert_int_equal(db_int(f, "SELECT count(*) FROM ledger"), 0);
	assert_true(rows >= answered);
	store_health(f->store, &h);
	assert_int_equal(h.failing, 1);

	store_test_fail_writes(f->store, 0);
	assert_true(wait_health(f->store, 0, 10000) >= 0);
	print_message("after the failure cleared: %lld rows committed ($%.4f), %ld spooled\n",
	    db_int(f, "SELECT count(*) FROM ledger"),
	    sttest_sql_double(f->db, "SELECT TOTAL(cost_usd) FROM ledger"),
	    spool_lines(f->store, &bytes));
	assert_int_equal(db_int(f, "SELECT count(*) FROM ledger WHERE outcome = 'ok'"), answered);
	assert_int_equal(db_int(f, "SELECT count(*) FROM ledger"), rows);
	assert_true(sttest_sql_double(f->db, "SELECT TOTAL(cost_usd) FROM ledger") <=
	    daily + upper);
	assert_int_equal(spool_lines(f->store, &bytes), 0);
	/*
	 * While rows were spooled their reservations held their upper bounds (the
	 * spooled rows settle them only on replay), so the failure ended below the
	 * budget; now the rest of it is spent, and no more.
	 */
	answered = 0;
	for (int i = 0; i < 400; i++) {
		ask(f, &res);
		answered += res.cls == LLM_OK;
		router_result_free(&res);
	}
	print_message("after: %d more answered; $%.4f in the ledger of a $%.2f budget\n", answered,
	    sttest_sql_double(f->db, "SELECT TOTAL(cost_usd) FROM ledger"), daily);
	assert_true(answered < 400);
	assert_true(sttest_sql_double(f->db, "SELECT TOTAL(cost_usd) FROM ledger") <=
	    daily + upper);
}

/* $0.05: a reservation row per request (near the limit from the start). */
static void
test_the_budget_holds_while_the_ledger_cannot_commit(void **state)
{
	budget_holds(*state, 0.05);
}

/* $0.20: the requests reserve in memory, in the handle's lease, until near the limit. */
static void
test_the_lease_holds_while_the_ledger_cannot_commit(void **state)
{
	budget_holds(*state, 0.20);
}

static void
test_the_gateway_refuses_when_the_spool_is_full(void **state)
{
	struct fixture *f = *state;
	struct gateway_opts go;
	struct simtest_resp resp;
	struct router_result res;
	struct router_snapshot snap;
	char *cause = NULL, url[256];
	const char *hdrs[] = {"Content-Type: application/json", NULL};
	const char *body = "{\"model\":\"claude-sonnet\",\"max_tokens\":50,\"messages\":"
	                   "[{\"role\":\"user\",\"content\":\"hi\"}]}";
	cJSON *j;
	long bytes;

	f->cfg.budget.daily_usd = 0;
	start_router(f);
	gateway_opts_init(&go);
	go.listen = "127.0.0.1:0";
	go.store = f->store;
	if ((f->gw = gateway_start(f->r, &go, &cause)) == NULL)
		fail_msg("gateway_start: %s", cause);
	snprintf(url, sizeof url, "%s/ready", gateway_url(f->gw));
	simtest_http("GET", url, NULL, NULL, 0, &resp);
	assert_int_equal(resp.status, 200);
	simtest_resp_free(&resp);

	ledger_set_spool_max(f->store, 2);
	store_test_fail_writes(f->store, 1);
	ask(f, &res); /* spooled, answered */
	assert_int_equal(res.cls, LLM_OK);
	router_result_free(&res);
	simtest_http("GET", url, NULL, NULL, 0, &resp);
	assert_int_equal(resp.status, 503);
	j = cJSON_Parse(resp.body.data);
	assert_string_equal(simtest_jstr(j, "status"), "store_failing");
	assert_string_equal(simtest_jstr(j, "store.status"), "failing");
	assert_non_null(strstr(simtest_jstr(j, "store.reason"), "injected write failure"));
	assert_int_equal((int)simtest_jnum(j, "store.spooled_rows"), 1);
	cJSON_Delete(j);
	simtest_resp_free(&resp);
	router_snapshot(f->r, &snap);
	assert_int_equal(snap.has_store, 1);
	assert_int_equal(snap.store.failing, 1);
	router_snapshot_free(&snap);
	/* The admin snapshot says so too: what an attached console shows. */
	snprintf(url, sizeof url, "%s/admin/v1/snapshot", gateway_url(f->gw));
	simtest_http("GET", url, NULL, NULL, 0, &resp);
	assert_int_equal(resp.status, 200);
	j = cJSON_Parse(resp.body.data);
	assert_string_equal(simtest_jstr(j, "instance.store.status"), "failing");
	assert_non_null(strstr(simtest_jstr(j, "instance.store.reason"), "injected write failure"));
	cJSON_Delete(j);
	simtest_resp_free(&resp);
	snprintf(url, sizeof url, "%s/ready", gateway_url(f->gw));

	ask(f, &res); /* the second row fills the spool */
	assert_int_equal(res.cls, LLM_OK);
	router_result_free(&res);
	snprintf(url, sizeof url, "%s/v1/messages", gateway_url(f->gw));
	simtest_http("POST", url, hdrs, body, 0, &resp);
	print_message("spool full: POST /v1/messages %ld %s\n", resp.status, resp.body.data);
	assert_int_equal(resp.status, 503);
	assert_non_null(strstr(resp.body.data, "the ledger cannot be written"));
	assert_non_null(strstr(resp.body.data, "2 rows spooled at"));
	simtest_resp_free(&resp);
	assert_int_equal(spool_lines(f->store, &bytes), 2);
	assert_int_equal(sim_requests_count(f->sim), 2);

	store_test_fail_writes(f->store, 0);
	assert_true(wait_health(f->store, 0, 10000) >= 0);
	assert_int_equal(db_int(f, "SELECT count(*) FROM ledger WHERE outcome = 'ok'"), 2);
	snprintf(url, sizeof url, "%s/ready", gateway_url(f->gw));
	simtest_http("GET", url, NULL, NULL, 0, &resp);
	assert_int_equal(resp.status, 200);
	simtest_resp_free(&resp);
}

static void
test_the_spool_bound_is_configured(void **state)
{
	struct config cfg;
	char *cause = NULL;

	(void)state;
	config_init(&cfg);
	assert_int_equal(cfg.ledger.spool_max_rows, 0); /* the store's default: 10000 */
	assert_int_equal(config_load_string(&cfg, "{\"ledger\": {\"spool_max_rows\": 50}}",
	                     "x.json", &cause),
	    0);
	assert_int_equal(cfg.ledger.spool_max_rows, 50);
	config_free(&cfg);
	config_init(&cfg);
	assert_int_equal(config_load_string(&cfg, "{\"ledger\": {\"spool_max_rows\": 0}}", "x.json",
	                     &cause),
	    -1);
	assert_non_null(strstr(cause, "spool_max_rows"));
	free(cause);
	config_free(&cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_the_spool_bound_is_configured),
	    cmocka_unit_test_setup_teardown(test_a_failed_commit_is_spooled_then_replayed_once,
	        sttest_setup_store, sttest_teardown_store),
	    cmocka_unit_test_setup_teardown(test_a_torn_last_record_is_dropped, sttest_setup_store,
	        sttest_teardown_store),
	    cmocka_unit_test_setup_teardown(test_a_full_spool_refuses_with_its_reason,
	        sttest_setup_store, sttest_teardown_store),
	    cmocka_unit_test_setup_teardown(test_a_deleted_database_is_noticed_and_reopened,
	        sttest_setup_store, sttest_teardown_store),
	    cmocka_unit_test_setup_teardown(test_a_full_disk_spools_and_recovers, sttest_setup_dir,
	        sttest_teardown_dir),
	    cmocka_unit_test_setup_teardown(test_a_locked_database_takes_the_same_path,
	        sttest_setup_store, sttest_teardown_store),
	    cmocka_unit_test_setup_teardown(test_the_budget_holds_while_the_ledger_cannot_commit,
	        setup_router, teardown_router),
	    cmocka_unit_test_setup_teardown(test_the_lease_holds_while_the_ledger_cannot_commit,
	        setup_router, teardown_router),
	    cmocka_unit_test_setup_teardown(test_the_gateway_refuses_when_the_spool_is_full,
	        setup_router, teardown_router),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
