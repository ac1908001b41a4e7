/*
 * cli_keys.c: `llmdeck keys ...` and `llmdeck teams ...`: client keys and
 * teams in the database (store/keys.h), as the admin API's /admin/v1/keys
 * and /admin/v1/teams do them from a running gateway:
 *
 *   keys create --name NAME [--team T] [--budget USD/day|USD/month]... [--rpm N]
 *               [--tpm N] [--models a,b] [--expires 30d|12h]   the secret, once
 *   keys ls [--json]      id, name, team, prefix, state, spend, budget, rpm, last use
 *   keys show ID|NAME [--json]
 *   keys revoke ID|NAME
 *   keys rotate ID|NAME [--grace 24h]                          the new secret, once
 *   keys update ID|NAME [--team T] [--budget ...] [--rpm] [--tpm] [--models] [--expires]
 *   teams set NAME [--budget ...] [--rpm N] [--tpm N] [--models a,b] [--alert 0.8]
 *   teams ls [--json] | show NAME [--json] | rm NAME
 *
 * Every command takes --db PATH|URL and --config FILE (the database is the
 * config's store.url unless --db says). A process serving on the database
 * sees a change within KEYRING_REFRESH_MS. Bad arguments are one line naming
 * the argument, exit 2.
 */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config/config.h"
#include "gateway/gateway.h"
#include "llmdeck.h"
#include "store/keys.h"
#include "store/store.h"
#include "util/util.h"

static void
keys_usage(FILE *f)
{
	fprintf(f,
	    "usage: llmdeck keys create --name NAME [--team TEAM] [--budget USD/day|USD/month]...\n"
	    "                           [--rpm N] [--tpm N] [--models a,b] [--expires 30d|12h]\n"
	    "       llmdeck keys ls [--json]\n"
	    "       llmdeck keys show ID|NAME [--json]\n"
	    "       llmdeck keys revoke ID|NAME\n"
	    "       llmdeck keys rotate ID|NAME [--grace 24h]\n"
	    "       llmdeck keys update ID|NAME [--team TEAM] [--budget ...] [--rpm N] [--tpm N]\n"
	    "                           [--models a,b] [--expires 30d|never]\n"
	    "Each also takes --db PATH|URL and --config FILE. A key's secret (llmd-...) is\n"
	    "printed once, by create and rotate; the database keeps only its hash. Clients\n"
	    "send it as Authorization: Bearer llmd-... or x-api-key: llmd-...; once a key\n"
	    "exists, serve requires one on every request. 0 (no limit) is the default of\n"
	    "every limit; a rotated key's old secret works for --grace (default 24h).\n");
}

static void
teams_usage(FILE *f)
{
	fprintf(f,
	    "usage: llmdeck teams set NAME [--budget USD/day|USD/month]... [--rpm N] [--tpm N]\n"
	    "                          [--models a,b] [--alert 0.8]\n"
	    "       llmdeck teams ls [--json]\n"
	    "       llmdeck teams show NAME [--json]\n"
	    "       llmdeck teams rm NAME\n"
	    "Each also takes --db PATH|URL and --config FILE. A request must fit its key's,\n"
	    "its team's and the global budget; set replaces the team's limits (unset: none).\n");
}

/* ---- arguments ---- */

/* "5/day", "$100/month", "2.5usd/day" into lim. 0, or -1 with a line on stderr. */
static int
parse_budget(const char *cmd, const char *arg, struct spend_limits *lim)
{
	const char *p = arg, *slash = strchr(arg, '/');
	char *end;
	double v;

	if (*p == '$')
		p++;
	v = strtod(p, &end);
	if (slash == NULL || end == p || !isfinite(v) || v < 0 ||
	    (end != slash && strncasecmp(end, "usd", 3) != 0) ||
	    (strcmp(slash + 1, "day") != 0 && strcmp(slash + 1, "month") != 0)) {
		fprintf(stderr,
		    "llmdeck %s: --budget \"%s\": expected USD/day or USD/month (5/day)\n", cmd,
		    arg);
		return -1;
	}
	if (slash[1] == 'd')
		lim->day_usd = v;
	else
		lim->month_usd = v;
	return 0;
}

/* "30d", "12h", "45m", "90s" into milliseconds; "never" or "0": 0. 0, or -1. */
static int
parse_duration(const char *cmd, const char *opt, const char *arg, int64_t *ms)
{
	char *end;
	double v;
	int64_t unit;

	if (strcmp(arg, "never") == 0 || strcmp(arg, "0") == 0) {
		*ms = 0;
		return 0;
	}
	v = strtod(arg, &end);
	unit = strcmp(end, "d") == 0 ? 86400000LL
	    : strcmp(end, "h") == 0  ? 3600000LL
	    : strcmp(end, "m") == 0  ? 60000LL
	    : strcmp(end, "s") == 0  ? 1000LL
	                             : 0;
	if (end == arg || unit == 0 || !isfinite(v) || v <= 0 || v > 3650.0 * 86400000 / unit) {
		fprintf(stderr, "llmdeck %s: %s \"%s\": expected a duration (30d, 12h, 45m, 90s)\n",
		    cmd, opt, arg);
		return -1;
	}
	*ms = (int64_t)(v * (double)unit);
	return 0;
}

static int
parse_count(const char *cmd, const char *opt, const char *arg, int *out)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (end == arg || *end != '\0' || v < 0 || v > 1000000000L) {
		fprintf(stderr,
		    "llmdeck %s: %s \"%s\": expected a whole number, 0 (no limit) or more\n", cmd,
		    opt, arg);
		return -1;
	}
	*out = (int)v;
	return 0;
}

static int
parse_models(const char *cmd, const char *arg, struct spend_limits *lim)
{
	if (strlen(arg) >= sizeof lim->models || strstr(arg, ",,") != NULL || arg[0] == ',') {
		fprintf(stderr,
		    "llmdeck %s: --models \"%.40s\": expected aliases a,b (at most %zu "
		    "characters)\n",
		    cmd, arg, sizeof lim->models - 1);
		return -1;
	}
	strlcpy_(lim->models, arg, sizeof lim->models);
	return 0;
}

/* The options every keys and teams command shares. */
struct kopts {
	const char *cmd; /* "keys create", for errors */
	const char *config, *db;
	const char *name, *team;
	int has_team, has_expires, has_grace, json;
	int64_t expires_ms, grace_ms;
	struct spend_limits lim;
	int has_lim;       /* any limit given */
	unsigned set;      /* which: SET_DAY ... */
	const char *which; /* the positional ID|NAME */
};

enum { SET_DAY = 1, SET_MONTH = 2, SET_RPM = 4, SET_TPM = 8, SET_MODELS = 16 };
enum { O_NAME = 256, O_TEAM, O_BUDGET, O_RPM, O_TPM, O_MODELS, O_EXPIRES, O_GRACE, O_ALERT };

/* Parse argv (argv[0] the subcommand) taking only the options in allowed ("name,team,...");
 * positional: how many ID|NAME arguments (0 or 1). 0, 1 (--help printed), or -1. */
static int
kopts_parse(struct kopts *o, int argc, char **argv, const char *allowed, int positional,
    void (*usage)(FILE *))
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"db", required_argument, NULL, 'd'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {"name", required_argument, NULL, O_NAME},
	    {"team", required_argument, NULL, O_TEAM},
	    {"budget", required_argument, NULL, O_BUDGET},
	    {"rpm", required_argument, NULL, O_RPM},
	    {"tpm", required_argument, NULL, O_TPM},
	    {"models", required_argument, NULL, O_MODELS},
	    {"expires", required_argument, NULL, O_EXPIRES},
	    {"grace", required_argument, NULL, O_GRACE},
	    {"alert", required_argument, NULL, O_ALERT},
	    {NULL, 0, NULL, 0},
	};
	int ch, idx;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "c:d:jh", longopts, &idx)) != -1) {
		const char *optname = NULL;

		for (size_t i = 0; longopts[i].name != NULL; i++)
			if (longopts[i].val == ch)
				optname = longopts[i].name;
		if (ch == '?' || ch == ':') {
			fprintf(stderr, "llmdeck %s: %s: unknown option or missing value\n", o->cmd,
			    argv[optind - 1]);
			return -1;
		}
		if (ch >= O_NAME && strstr(allowed, optname) == NULL) {
			fprintf(stderr, "llmdeck %s: --%s is not an option of this command\n",
			    o->cmd, optname);
			return -1;
		}
		switch (ch) {
		case 'c': o->config = optarg; break;
		case 'd': o->db = optarg; break;
		case 'j': o->json = 1; break;
		case 'h': usage(stdout); return 1;
		case O_NAME:
			if (!gateway_key_name_ok(optarg)) {
				fprintf(stderr,
				    "llmdeck %s: --name \"%.40s\": expected 1 to 64 of A-Z a-z 0-9 "
				    ". _ -\n",
				    o->cmd, optarg);
				return -1;
			}
			o->name = optarg;
			break;
		case O_TEAM:
			if (optarg[0] != '\0' && !gateway_key_name_ok(optarg)) {
				fprintf(stderr,
				    "llmdeck %s: --team \"%.40s\": expected 1 to 64 of A-Z a-z 0-9 "
				    ". _ -\n",
				    o->cmd, optarg);
				return -1;
			}
			o->team = optarg;
			o->has_team = 1;
			break;
		case O_BUDGET:
			if (parse_budget(o->cmd, optarg, &o->lim) != 0)
				return -1;
			o->set |= strstr(optarg, "/day") != NULL ? SET_DAY : SET_MONTH;
			o->has_lim = 1;
			break;
		case O_RPM:
		case O_TPM:
			if (parse_count(o->cmd, ch == O_RPM ? "--rpm" : "--tpm", optarg,
			        ch == O_RPM ? &o->lim.rpm : &o->lim.tpm) != 0)
				return -1;
			o->set |= ch == O_RPM ? SET_RPM : SET_TPM;
			o->has_lim = 1;
			break;
		case O_MODELS:
			if (parse_models(o->cmd, optarg, &o->lim) != 0)
				return -1;
			o->set |= SET_MODELS;
			o->has_lim = 1;
			break;
		case O_EXPIRES:
			if (parse_duration(o->cmd, "--expires", optarg, &o->expires_ms) != 0)
				return -1;
			o->has_expires = 1;
			break;
		case O_GRACE:
			if (strcmp(optarg, "0") != 0 &&
			    parse_duration(o->cmd, "--grace", optarg, &o->grace_ms) != 0)
				return -1;
			if (strcmp(optarg, "0") == 0)
				o->grace_ms = 0;
			o->has_grace = 1;
			break;
		case O_ALERT: {
			char *end;
			double v = strtod(optarg, &end);

			if (end == optarg || *end != '\0' || !(v >= 0 && v <= 1)) {
				fprintf(stderr,
				    "llmdeck %s: --alert \"%s\": expected a fraction of the daily "
				    "budget, 0..1 (0.8)\n",
				    o->cmd, optarg);
				return -1;
			}
			o->lim.alert_threshold = v;
			o->has_lim = 1;
			break;
		}
		default: usage(stderr); return -1;
		}
	}
	if (argc - optind != positional) {
		if (positional == 1 && argc - optind == 0)
			fprintf(stderr, "llmdeck %s: which? give a key's ID or NAME\n", o->cmd);
		else
			fprintf(stderr, "llmdeck %s: unexpected argument \"%s\"\n", o->cmd,
			    argv[optind + positional]);
		return -1;
	}
	o->which = positional ? argv[optind] : NULL;
	return 0;
}

/* The config (for the timezone and store.url) and the database. 0, or -1 said. */
static int
kopen(const struct kopts *o, struct config *cfg, struct store **s)
{
	char *cause = NULL;
	const char *db;

	config_init(cfg);
	*s = NULL;
	if (config_load_unchecked(cfg, o->config, &cause) != 0) {
		fprintf(stderr, "llmdeck %s: %s\n", o->cmd, cause);
		free(cause);
		return -1;
	}
	db = o->db != NULL ? o->db : cfg->store.url;
	if (store_open(s, db, &cause) != 0) {
		fprintf(stderr, "llmdeck %s: %s\n", o->cmd, cause);
		free(cause);
		return -1;
	}
	return 0;
}

static const char *
ktz(const struct config *cfg)
{
	return cfg->budget.timezone != NULL ? cfg->budget.timezone : "UTC";
}

/* "3m ago", "never". */
static void
ago(char *out, size_t len, int64_t now_ms, int64_t t_ms)
{
	int64_t s = (now_ms - t_ms) / 1000;

	if (t_ms <= 0)
		snprintf(out, len, "never");
	else if (s < 60)
		snprintf(out, len, "%llds ago", (long long)(s < 0 ? 0 : s));
	else if (s < 3600)
		snprintf(out, len, "%lldm ago", (long long)(s / 60));
	else if (s < 86400)
		snprintf(out, len, "%lldh ago", (long long)(s / 3600));
	else
		snprintf(out, len, "%lldd ago", (long long)(s / 86400));
}

static void
budget_text(char *out, size_t len, const struct spend_limits *lim)
{
	if (lim->day_usd > 0 && lim->month_usd > 0)
		snprintf(out, len, "$%.2f/d $%.2f/mo", lim->day_usd, lim->month_usd);
	else if (lim->day_usd > 0)
		snprintf(out, len, "$%.2f/day", lim->day_usd);
	else if (lim->month_usd > 0)
		snprintf(out, len, "$%.2f/month", lim->month_usd);
	else
		snprintf(out, len, "-");
}

static const char *
kstate(const struct store_key *k, int64_t now_ms)
{
	if (k->revoked_ms != 0)
		return "revoked";
	if (k->expires_ms != 0 && k->expires_ms <= now_ms)
		return "expired";
	return "live";
}

static void
print_json(cJSON *o)
{
	char *t = cJSON_Print(o);

	printf("%s\n", t);
	free(t);
	cJSON_Delete(o);
}

static void
print_secret(const struct store_key *k, char secret[KEY_SECRET_SIZE])
{
	printf("%s\n", secret);
	fprintf(stderr,
	    "key %s (%s, %s): the secret above is shown once and will not be shown again; the "
	    "database keeps only its hash\n",
	    k->name, k->id, k->prefix);
	explicit_bzero(secret, KEY_SECRET_SIZE);
}

/* ---- keys ---- */

static void
key_text(struct store *s, const struct store_key *k, const char *tz, int64_t now_ms)
{
	struct scope_spend sp;
	char scope[KEY_ID_SIZE + 8], used[32], budget[48], *cause = NULL;

	memset(&sp, 0, sizeof sp);
	snprintf(scope, sizeof scope, "key:%s", k->id);
	if (keys_scope_spend(s, scope, tz, &sp, &cause) != 0)
		free(cause);
	ago(used, sizeof used, now_ms, k->last_used_ms);
	budget_text(budget, sizeof budget, &k->lim);
	printf("id          %s\nname        %s\nteam        %s\nprefix      %s...\nstate       "
	       "%s\n",
	    k->id, k->name, k->team[0] != '\0' ? k->team : "-", k->prefix, kstate(k, now_ms));
	printf("spend       $%.4f today, $%.4f this month (%s)\n", sp.day_usd, sp.month_usd, tz);
	printf("burn        $%.4f/h (5m), $%.4f/h (60m)\n", sp.burn_5m_per_hour,
	    sp.burn_60m_per_hour);
	printf("requests    %lld today, %lld refused\n", (long long)sp.requests_day,
	    (long long)sp.refused_day);
	printf("budget      %s\nrpm         %d\ntpm         %d\nmodels      %s\n", budget,
	    k->lim.rpm, k->lim.tpm, k->lim.models[0] != '\0' ? k->lim.models : "(all)");
	if (k->expires_ms != 0) {
		time_t t = (time_t)(k->expires_ms / 1000);
		char when[32];

		strftime(when, sizeof when, "%Y-%m-%d %H:%M:%SZ", gmtime(&t));
		printf("expires     %s\n", when);
	}
	if (k->grace_until_ms > now_ms)
		printf("rotated     the old secret works for %llds more\n",
		    (long long)((k->grace_until_ms - now_ms) / 1000));
	printf("last used   %s\n", used);
}

static int
keys_ls(struct kopts *o, struct store *s, const struct config *cfg)
{
	struct store_key *ks = NULL;
	char *cause = NULL;
	int64_t now = store_now_ms(s);
	int n;

	if ((n = keys_list(s, &ks, &cause)) < 0) {
		fprintf(stderr, "llmdeck %s: %s\n", o->cmd, cause);
		free(cause);
		return EXIT_FAILED;
	}
	if (o->json) {
		cJSON *a = cJSON_CreateArray();

		for (int i = 0; i < n; i++)
			cJSON_AddItemToArray(a, gateway_key_json(s, &ks[i], ktz(cfg), now));
		print_json(a);
		free(ks);
		return 0;
	}
	printf("%-16s %-20s %-12s %-14s %-8s %10s %10s %-18s %6s %s\n", "ID", "NAME", "TEAM",
	    "PREFIX", "STATE", "TODAY", "MONTH", "BUDGET", "RPM", "LAST USED");
	for (int i = 0; i < n; i++) {
		struct scope_spend sp;
		char scope[KEY_ID_SIZE + 8], used[32], budget[48], rpm[16];

		memset(&sp, 0, sizeof sp);
		snprintf(scope, sizeof scope, "key:%s", ks[i].id);
		if (keys_scope_spend(s, scope, ktz(cfg), &sp, &cause) != 0) {
			free(cause);
			cause = NULL;
		}
		ago(used, sizeof used, now, ks[i].last_used_ms);
		budget_text(budget, sizeof budget, &ks[i].lim);
		snprintf(rpm, sizeof rpm, "%d", ks[i].lim.rpm);
		printf("%-16s %-20s %-12s %-14s %-8s %10.4f %10.4f %-18s %6s %s\n", ks[i].id,
		    ks[i].name, ks[i].team[0] != '\0' ? ks[i].team : "-", ks[i].prefix,
		    kstate(&ks[i], now), sp.day_usd, sp.month_usd, budget,
		    ks[i].lim.rpm > 0 ? rpm : "-", used);
	}
	free(ks);
	return 0;
}

/* Find o->which: 0, or an exit code said. */
static int
kfind(struct kopts *o, struct store *s, struct store_key *k)
{
	char *cause = NULL;
	int rc = keys_find(s, o->which, k, &cause);

	if (rc == 0)
		return 0;
	if (rc > 0)
		fprintf(stderr, "llmdeck %s: no key \"%s\" (keys ls lists them)\n", o->cmd,
		    o->which);
	else
		fprintf(stderr, "llmdeck %s: %s\n", o->cmd, cause);
	free(cause);
	return EXIT_FAILED;
}

static int
keys_run(const char *sub, struct kopts *o, struct store *s, const struct config *cfg)
{
	struct store_key k, out;
	char secret[KEY_SECRET_SIZE], *cause = NULL;
	int64_t now = store_now_ms(s);
	int rc;

	if (strcmp(sub, "ls") == 0)
		return keys_ls(o, s, cfg);
	if (strcmp(sub, "create") == 0) {
		memset(&k, 0, sizeof k);
		strlcpy_(k.name, o->name, sizeof k.name);
		if (o->team != NULL)
			strlcpy_(k.team, o->team, sizeof k.team);
		k.expires_ms = o->expires_ms > 0 ? now + o->expires_ms : 0;
		k.lim = o->lim;
		if (keys_create(s, &k, secret, &out, &cause) != 0)
			goto failed;
		print_secret(&out, secret);
		return 0;
	}
	if ((rc = kfind(o, s, &k)) != 0)
		return rc;
	if (strcmp(sub, "show") == 0) {
		if (o->json)
			print_json(gateway_key_json(s, &k, ktz(cfg), now));
		else
			key_text(s, &k, ktz(cfg), now);
		return 0;
	}
	if (strcmp(sub, "revoke") == 0) {
		if (keys_revoke(s, k.id, &cause) != 0)
			goto failed;
		printf("key %s (%s, %s...) revoked\n", k.name, k.id, k.prefix);
		return 0;
	}
	if (strcmp(sub, "rotate") == 0) {
		if (keys_rotate(s, k.id, o->has_grace ? o->grace_ms : KEY_ROTATE_GRACE_DEFAULT_MS,
		        secret, &out, &cause) != 0)
			goto failed;
		print_secret(&out, secret);
		fprintf(stderr, "the old secret works for %llds more\n",
		    (long long)((o->has_grace ? o->grace_ms : KEY_ROTATE_GRACE_DEFAULT_MS) / 1000));
		return 0;
	}
	/* update: what was given replaces; the rest stays */
	if (o->has_team)
		strlcpy_(k.team, o->team, sizeof k.team);
	if (o->has_expires)
		k.expires_ms = o->expires_ms > 0 ? now + o->expires_ms : 0;
	if (o->has_lim) {
		struct spend_limits *l = &k.lim;

		if (o->set & SET_DAY)
			l->day_usd = o->lim.day_usd;
		if (o->set & SET_MONTH)
			l->month_usd = o->lim.month_usd;
		if (o->set & SET_RPM)
			l->rpm = o->lim.rpm;
		if (o->set & SET_TPM)
			l->tpm = o->lim.tpm;
		if (o->set & SET_MODELS)
			strlcpy_(l->models, o->lim.models, sizeof l->models);
	}
	if (!o->has_team && !o->has_expires && !o->has_lim) {
		fprintf(stderr,
		    "llmdeck %s: nothing to change: give --team, --budget, --rpm, --tpm, --models "
		    "or "
		    "--expires\n",
		    o->cmd);
		return EXIT_USAGE;
	}
	if (keys_update(s, k.id, &k, &cause) != 0)
		goto failed;
	printf("key %s (%s) updated\n", k.name, k.id);
	return 0;
failed:
	fprintf(stderr, "llmdeck %s: %s\n", o->cmd, cause != NULL ? cause : "failed");
	free(cause);
	return EXIT_FAILED;
}

/* A subcommand of `llmdeck keys` or `llmdeck teams`: the options it takes and whether it
 * names a key or team. */
struct ksub {
	const char *sub, *allowed;
	int positional;
};

/*
 * `llmdeck FAMILY SUB ...`: SUB looked up in subs, its options parsed, check (may
 * be NULL) run on them before the database is opened, then run. names lists the
 * subcommands for the error on an unknown one.
 */
static int
ksub_main(const char *family, const char *names, const struct ksub *subs, size_t n_subs,
    void (*usage)(FILE *), int (*check)(const char *sub, const struct kopts *),
    int (*run)(const char *sub, struct kopts *, struct store *, const struct config *), int argc,
    char **argv)
{
	struct kopts o;
	struct config cfg;
	struct store *s;
	char cmd[32];
	int rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	for (size_t i = 0; i < n_subs; i++) {
		if (strcmp(argv[1], subs[i].sub) != 0)
			continue;
		memset(&o, 0, sizeof o);
		snprintf(cmd, sizeof cmd, "%s %s", family, subs[i].sub);
		o.cmd = cmd;
		if ((rc = kopts_parse(&o, argc - 1, argv + 1, subs[i].allowed, subs[i].positional,
		         usage)) != 0)
			return rc > 0 ? 0 : EXIT_USAGE;
		if (check != NULL && (rc = check(subs[i].sub, &o)) != 0)
			return rc;
		if (kopen(&o, &cfg, &s) != 0) {
			config_free(&cfg);
			return EXIT_USAGE;
		}
		rc = run(subs[i].sub, &o, s, &cfg);
		store_close(s);
		config_free(&cfg);
		return rc;
	}
	fprintf(stderr, "llmdeck %s: unknown command \"%s\" (%s)\n", family, argv[1], names);
	return EXIT_USAGE;
}

/* Before the database: create needs a name. */
static int
keys_check(const char *sub, const struct kopts *o)
{
	if (strcmp(sub, "create") == 0 && o->name == NULL) {
		fprintf(stderr, "llmdeck keys create: --name NAME is required\n");
		return EXIT_USAGE;
	}
	return 0;
}

int
cli_keys_main(int argc, char **argv)
{
	static const struct ksub subs[] = {
	    {"create", "name,team,budget,rpm,tpm,models,expires", 0},
	    {"ls", "", 0},
	    {"show", "", 1},
	    {"revoke", "", 1},
	    {"rotate", "grace", 1},
	    {"update", "team,budget,rpm,tpm,models,expires", 1},
	};

	return ksub_main("keys", "create, ls, show, revoke, rotate, update", subs, nitems(subs),
	    keys_usage, keys_check, keys_run, argc, argv);
}

/* ---- teams ---- */

static int
teams_run(const char *sub, struct kopts *o, struct store *s, const struct config *cfg)
{
	struct store_team t, *ts = NULL;
	char *cause = NULL, budget[48];
	int n, rc;

	if (strcmp(sub, "ls") == 0) {
		if ((n = teams_list(s, &ts, &cause)) < 0)
			goto failed;
		if (o->json) {
			cJSON *a = cJSON_CreateArray();

			for (int i = 0; i < n; i++)
				cJSON_AddItemToArray(a, gateway_team_json(s, &ts[i], ktz(cfg)));
			print_json(a);
			free(ts);
			return 0;
		}
		printf("%-20s %10s %10s %-18s %6s %8s %s\n", "TEAM", "TODAY", "MONTH", "BUDGET",
		    "RPM", "TPM", "MODELS");
		for (int i = 0; i < n; i++) {
			struct scope_spend sp;
			char scope[LIMIT_NAME_SIZE + 8];

			memset(&sp, 0, sizeof sp);
			snprintf(scope, sizeof scope, "team:%s", ts[i].name);
			if (keys_scope_spend(s, scope, ktz(cfg), &sp, &cause) != 0) {
				free(cause);
				cause = NULL;
			}
			budget_text(budget, sizeof budget, &ts[i].lim);
			printf("%-20s %10.4f %10.4f %-18s %6d %8d %s\n", ts[i].name, sp.day_usd,
			    sp.month_usd, budget, ts[i].lim.rpm, ts[i].lim.tpm,
			    ts[i].lim.models[0] != '\0' ? ts[i].lim.models : "(all)");
		}
		free(ts);
		return 0;
	}
	if (strcmp(sub, "set") == 0) {
		memset(&t, 0, sizeof t);
		strlcpy_(t.name, o->which, sizeof t.name);
		t.lim = o->lim;
		if (teams_put(s, &t, &cause) != 0)
			goto failed;
		budget_text(budget, sizeof budget, &t.lim);
		printf("team %s: budget %s, rpm %d, tpm %d, models %s\n", t.name, budget, t.lim.rpm,
		    t.lim.tpm, t.lim.models[0] != '\0' ? t.lim.models : "(all)");
		return 0;
	}
	if (strcmp(sub, "rm") == 0) {
		if ((rc = teams_delete(s, o->which, &cause)) > 0) {
			fprintf(stderr, "llmdeck %s: no team \"%s\"\n", o->cmd, o->which);
			return EXIT_FAILED;
		}
		if (rc < 0)
			goto failed;
		printf("team %s deleted\n", o->which);
		return 0;
	}
	/* show */
	if ((rc = teams_find(s, o->which, &t, &cause)) != 0) {
		if (rc > 0) {
			fprintf(stderr, "llmdeck %s: no team \"%s\"\n", o->cmd, o->which);
			return EXIT_FAILED;
		}
		goto failed;
	}
	if (o->json) {
		print_json(gateway_team_json(s, &t, ktz(cfg)));
	} else {
		struct scope_spend sp;
		char scope[LIMIT_NAME_SIZE + 8];

		memset(&sp, 0, sizeof sp);
		snprintf(scope, sizeof scope, "team:%s", t.name);
		if (keys_scope_spend(s, scope, ktz(cfg), &sp, &cause) != 0) {
			free(cause);
			cause = NULL;
		}
		budget_text(budget, sizeof budget, &t.lim);
		printf("team        %s\nspend       $%.4f today, $%.4f this month (%s)\n", t.name,
		    sp.day_usd, sp.month_usd, ktz(cfg));
		printf("requests    %lld today, %lld refused\n", (long long)sp.requests_day,
		    (long long)sp.refused_day);
		printf("budget      %s\nrpm         %d\ntpm         %d\nmodels      %s\n", budget,
		    t.lim.rpm, t.lim.tpm, t.lim.models[0] != '\0' ? t.lim.models : "(all)");
		if (t.lim.alert_threshold > 0)
			printf("alert       at %.0f%% of the daily budget\n",
			    t.lim.alert_threshold * 100);
	}
	return 0;
failed:
	fprintf(stderr, "llmdeck %s: %s\n", o->cmd, cause != NULL ? cause : "failed");
	free(cause);
	return EXIT_FAILED;
}

/* Before the database: a team's name is checked as a key's is. */
static int
teams_check(const char *sub, const struct kopts *o)
{
	(void)sub;
	if (o->which != NULL && !gateway_key_name_ok(o->which)) {
		fprintf(stderr,
		    "llmdeck %s: team \"%.40s\": expected 1 to 64 of A-Z a-z 0-9 . _ -\n", o->cmd,
		    o->which);
		return EXIT_USAGE;
	}
	return 0;
}

int
cli_teams_main(int argc, char **argv)
{
	static const struct ksub subs[] = {
	    {"set", "budget,rpm,tpm,models,alert", 1},
	    {"ls", "", 0},
	    {"show", "", 1},
	    {"rm", "", 1},
	};

	return ksub_main("teams", "set, ls, show, rm", subs, nitems(subs), teams_usage, teams_check,
	    teams_run, argc, argv);
}
