/*
 * console.c: `llmdeck` with no subcommand: the operations console. Options,
 * setup of the router, store and demo, and the UI thread's loop: it blocks in
 * poll() on the terminal and a wake-up pipe, handles keys at once, takes a
 * router snapshot every refresh period and redraws only when what is shown
 * changed.
 */
#include "console.h"
#include "gateway.h"

#include <curl/curl.h>
#include <curses.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "store.h"
#include "util.h"

static void
console_usage(FILE *f)
{
	fprintf(f,
	    "usage: llmdeck [--config F] [--db F] [--demo] [--demo-rate N] [--theme NAME]\n"
	    "               [--no-color] [--readonly] [--listen HOST:PORT]\n"
	    "The operations console on the configured providers.\n"
	    "  --config F      the config file (else $LLMDECK_CONFIG, the XDG path, the\n"
	    "                  environment's keys)\n"
	    "  --db F          the database (default $XDG_STATE_HOME/llmdeck/llmdeck.db;\n"
	    "                  demo.db beside it with --demo)\n"
	    "  --demo          five simulated providers in-process and a steady load\n"
	    "  --demo-rate N   demo requests per second (default 5)\n"
	    "  --theme NAME    a theme from themes/ (default, light, solarized-dark,\n"
	    "                  high-contrast, monochrome) or a path to a theme file\n"
	    "  --no-color      no colours (also when NO_COLOR is set)\n"
	    "  --readonly      show everything, refuse every action\n"
	    "  --listen H:P    serve the OpenAI/Anthropic-compatible gateway on H:P from the\n"
	    "                  console's router, so the console shows the applications' traffic\n"
	    "  --commands      print the console's keys and commands and exit\n"
	    "Inside, press ? for every key and command. Exit codes: 0 quit, 2 usage or\n"
	    "config error.\n");
}

/* The command table as text: one line per command, for docs and tests. */
static void
print_commands(void)
{
	char k1[8], k2[8];

	for (size_t i = 0; i < console_ncmds; i++) {
		const struct console_cmd *cmd = &console_cmds[i];
		printf("%-16s %-6s %-6s %-12s %s%s\n", cmd->name,
		    cmd_key_name(cmd->key, k1, sizeof k1), cmd_key_name(cmd->key2, k2, sizeof k2),
		    cmd->args, cmd->help, (cmd->flags & CMD_CONFIRM) ? " [confirms]" : "");
	}
}

void
console_message(struct console *c, int error, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->message, sizeof c->message, fmt, ap);
	va_end(ap);
	c->message_error = error;
	c->message_ms = clock_mono_ms();
	c->dirty = 1;
}

void
console_wake(struct console *c)
{
	ssize_t n;

	n = write(c->wake[1], "", 1);
	(void)n; /* a full pipe already wakes the loop */
}

void
console_event(struct console *c, enum event_kind kind, const char *provider, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	event_add(router_events(c->router), kind, provider, "%s", msg);
	console_refresh(c);
}

const struct provider_snapshot *
console_selected(struct console *c)
{
	if (!c->have_snap || c->snap.n_providers == 0)
		return NULL;
	if (c->selected >= c->snap.n_providers)
		c->selected = c->snap.n_providers - 1;
	return &c->snap.providers[c->selected];
}

static uint64_t
mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	return h * 0x100000001b3ULL;
}

static uint64_t
dbits(double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof u);
	return u;
}

/* A digest of everything the screen shows, so an idle console does not redraw. */
static uint64_t
console_signature(struct console *c)
{
	uint64_t h = 1469598103934665603ULL;
	const struct router_snapshot *s = &c->snap;

	h = mix(h, (uint64_t)(clock_wall_ms() / 1000));
	h = mix(h, s->requests);
	h = mix(h, s->answered);
	h = mix(h, s->failed);
	h = mix(h, s->in_flight);
	for (size_t i = 0; i < s->n_providers; i++) {
		const struct provider_snapshot *p = &s->providers[i];
		h = mix(h,
		    (uint64_t)p->admin << 8 | (uint64_t)p->breaker << 4 | (uint64_t)p->usable);
		h = mix(h, (uint64_t)p->priority);
		h = mix(h, dbits(p->weight));
		h = mix(h, p->requests);
		h = mix(h, p->errors);
		h = mix(h, p->in_flight);
		h = mix(h, p->cooldown_left_ms / 1000);
	}
	h = mix(h, c->n_events > 0 ? c->events[c->n_events - 1].seq : 0);
	h = mix(h, dbits(c->budget.spent_usd));
	h = mix(h, (uint64_t)c->cache.entries);
	h = mix(h, (uint64_t)c->cache.hits);
	h = mix(h, (uint64_t)c->cache.misses);
	return h;
}

static void
console_rates(struct console *c)
{
	const struct router_snapshot *s = &c->snap;
	uint64_t attempts = 0, errors = 0;
	size_t last, first;
	double dt;

	for (size_t i = 0; i < s->n_providers; i++) {
		attempts += s->providers[i].requests;
		errors += s->providers[i].errors;
	}
	if (c->n_rate == CONSOLE_RATE_SAMPLES) {
		memmove(c->rate, c->rate + 1, sizeof c->rate[0] * (CONSOLE_RATE_SAMPLES - 1));
		c->n_rate--;
	}
	last = c->n_rate++;
	c->rate[last].t_ms = clock_mono_ms();
	c->rate[last].requests = s->requests;
	c->rate[last].failed = s->failed;
	c->rate[last].attempts = attempts;
	c->rate[last].errors = errors;
	c->rate[last].cost = s->cost_usd;
	first = 0;
	dt = (double)(c->rate[last].t_ms - c->rate[first].t_ms) / 1000.0;
	if (dt <= 0) {
		c->req_per_s = 0;
		c->err_rate = attempts > 0 ? (double)errors / (double)attempts : 0;
		return;
	}
	c->req_per_s = (double)(c->rate[last].requests - c->rate[first].requests) / dt;
	if (c->rate[last].attempts > c->rate[first].attempts)
		c->err_rate = (double)(c->rate[last].errors - c->rate[first].errors) /
		    (double)(c->rate[last].attempts - c->rate[first].attempts);
	else
		c->err_rate = 0;
	c->burn_per_hour = (c->rate[last].cost - c->rate[first].cost) / dt * 3600.0;
}

/* Store figures are SQLite reads: every 2 s, not every refresh. */
static void
console_store_stats(struct console *c, int force)
{
	char *cause = NULL;

	if (c->store == NULL || (!force && clock_mono_ms() < c->next_store_ms))
		return;
	c->next_store_ms = clock_mono_ms() + 2000;
	if (budget_get_status(c->store, &c->cfg.budget, &c->budget, &cause) == 0)
		c->have_budget = 1;
	else
		free(cause);
	if (cache_get_stats(c->store, &c->cache) == 0) {
		c->cache.ttl_seconds = c->cfg.cache.ttl_seconds;
		c->have_cache = 1;
	}
}

void
console_refresh(struct console *c)
{
	uint64_t sig;

	if (!c->paused) {
		if (c->have_snap)
			router_snapshot_free(&c->snap);
		router_snapshot(c->router, &c->snap);
		c->have_snap = 1;
		console_rates(c);
		c->n_events = event_last(router_events(c->router), c->events, CONSOLE_EVENTS);
		console_store_stats(c, 0);
	}
	sig = console_signature(c);
	if (sig != c->signature) {
		c->signature = sig;
		c->dirty = 1;
	}
}

int
console_set_theme(struct console *c, const char *name, char **cause)
{
	char *path = theme_path(name);
	struct theme t;
	int rc;

	rc = theme_load_file(&t, path, name, cause);
	free(path);
	c->theme = t; /* on error: the default */
	if (c->color_depth >= 0 && !isendwin())
		color_setup(c);
	c->dirty = 1;
	return rc;
}

/* The provider row under a mouse click, if any. */
static void
console_click(struct console *c)
{
	MEVENT me;

	if (getmouse(&me) != OK || !c->have_snap)
		return;
	if (!(me.bstate & (BUTTON1_CLICKED | BUTTON1_PRESSED | BUTTON1_RELEASED)))
		return;
	if (me.y >= c->table_y && (size_t)(me.y - c->table_y) < c->snap.n_providers) {
		c->selected = (size_t)(me.y - c->table_y);
		c->dirty = 1;
	}
}

static void
cmdline_key(struct console *c, int is_key, wint_t ch)
{
	if (is_key && ch == KEY_BACKSPACE)
		ch = 127, is_key = 0;
	if (is_key) {
		if (ch == KEY_ENTER)
			ch = '\n', is_key = 0;
		else
			return;
	}
	switch (ch) {
	case 27:
		c->mode = MODE_DASHBOARD;
		c->message[0] = '\0';
		break;
	case '\n':
	case '\r':
		c->mode = MODE_DASHBOARD;
		c->cmdline[c->cmdlen] = '\0';
		cmd_run_line(c, c->cmdline, 0);
		break;
	case '\t':
		cmd_complete(c, c->cmdline, sizeof c->cmdline);
		c->cmdlen = strlen(c->cmdline);
		break;
	case 127:
	case 8:
		/* Back over one UTF-8 character. */
		while (c->cmdlen > 0 && ((unsigned char)c->cmdline[--c->cmdlen] & 0xc0) == 0x80)
			;
		c->cmdline[c->cmdlen] = '\0';
		if (c->cmdlen == 0)
			c->mode = MODE_DASHBOARD;
		break;
	case 21: /* ^U */
		c->cmdlen = 0;
		c->cmdline[0] = '\0';
		break;
	default:
		if (ch >= 32) {
			char mb[MB_LEN_MAX];
			mbstate_t ps;
			size_t n;
			memset(&ps, 0, sizeof ps);
			n = wcrtomb(mb, (wchar_t)ch, &ps);
			if (n != (size_t)-1 && c->cmdlen + n < sizeof c->cmdline) {
				memcpy(c->cmdline + c->cmdlen, mb, n);
				c->cmdlen += n;
				c->cmdline[c->cmdlen] = '\0';
			}
		}
		break;
	}
	c->dirty = 1;
}

static void
dashboard_key(struct console *c, int is_key, wint_t ch)
{
	const struct console_cmd *cmd;
	const struct provider_snapshot *p;
	int key = (int)ch;

	if (is_key && ch == KEY_MOUSE) {
		console_click(c);
		return;
	}
	if (!is_key && ch == 27)
		return;
	if (!is_key && (ch == '\r' || ch == '\n'))
		key = '\n';
	if ((cmd = cmd_by_key(key)) == NULL) {
		if (!is_key && ch < 128 && ch > 32)
			console_message(c, 1, "no command on key '%c'; ? lists them", (int)ch);
		return;
	}
	c->message[0] = '\0';
	if (cmd->flags & CMD_ASK_ARGS) {
		p = console_selected(c);
		snprintf(c->cmdline, sizeof c->cmdline, "%s%s%s", cmd->name,
		    (cmd->flags & CMD_PROVIDER) && p != NULL ? " " : "",
		    (cmd->flags & CMD_PROVIDER) && p != NULL ? p->name : "");
		c->cmdlen = strlen(c->cmdline);
		if (c->cmdlen + 1 < sizeof c->cmdline) {
			c->cmdline[c->cmdlen++] = ' ';
			c->cmdline[c->cmdlen] = '\0';
		}
		c->mode = MODE_CMDLINE;
		c->dirty = 1;
		return;
	}
	cmd_run_line(c, cmd->name, 0);
}

static void
console_key(struct console *c, int is_key, wint_t ch)
{
	if (is_key && ch == KEY_RESIZE) {
		clearok(curscr, TRUE);
		c->dirty = 1;
		return;
	}
	switch (c->mode) {
	case MODE_DASHBOARD: dashboard_key(c, is_key, ch); break;
	case MODE_HELP:
		if (is_key && (ch == KEY_DOWN || ch == KEY_NPAGE))
			c->help_scroll += ch == KEY_NPAGE ? 10 : 1;
		else if (is_key && (ch == KEY_UP || ch == KEY_PPAGE))
			c->help_scroll -= ch == KEY_PPAGE ? 10 : 1;
		else if (!is_key && (ch == 'j' || ch == 'k'))
			c->help_scroll += ch == 'j' ? 1 : -1;
		else
			c->mode = MODE_DASHBOARD;
		if (c->help_scroll < 0)
			c->help_scroll = 0;
		c->dirty = 1;
		break;
	case MODE_CMDLINE: cmdline_key(c, is_key, ch); break;
	case MODE_CONFIRM:
		c->mode = MODE_DASHBOARD;
		if (!is_key && (ch == 'y' || ch == 'Y'))
			cmd_run_line(c, c->confirm_line, 1);
		else
			console_message(c, 0, "cancelled: %s", c->confirm_line);
		break;
	case MODE_PROMPT:
		if (!is_key && ch == 27) {
			wint_t next;
			/* Alt-Enter arrives as ESC then Enter; ESC alone closes. */
			if (get_wch(&next) == OK) {
				if (next == '\r' || next == '\n') {
					prompt_key(c, 1, KEY_SEND);
					break;
				}
				unget_wch(next);
			}
		}
		prompt_key(c, is_key, ch);
		break;
	}
}

static void
console_input(struct console *c)
{
	wint_t ch;
	int rc;

	while ((rc = get_wch(&ch)) != ERR) {
		console_key(c, rc == KEY_CODE_YES, ch);
		if (c->quit)
			break;
	}
}

static int
wake_setup(struct console *c)
{
	if (pipe(c->wake) != 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		fcntl(c->wake[i], F_SETFL, fcntl(c->wake[i], F_GETFL) | O_NONBLOCK);
		fcntl(c->wake[i], F_SETFD, FD_CLOEXEC);
	}
	return 0;
}

/* 24-bit when the terminal says so, else what curses reports; 0 for none. */
static int
console_depth(struct console *c)
{
	const char *ct = getenv("COLORTERM"), *nc = getenv("NO_COLOR");

	if (c->no_color || (nc != NULL && *nc != '\0') || !has_colors())
		return 0;
	start_color(); /* COLORS is known only after this */
	if (ct != NULL && (strcmp(ct, "truecolor") == 0 || strcmp(ct, "24bit") == 0) &&
	    COLORS >= 256 && can_change_color())
		return 24;
	if (COLORS >= 256)
		return 256;
	if (COLORS >= 16)
		return 16;
	return COLORS >= 8 ? 8 : 0;
}

static void
console_loop(struct console *c)
{
	struct pollfd pfd[2];
	char drain[256];

	console_refresh(c);
	c->next_refresh_ms = clock_mono_ms() + (uint64_t)c->refresh_ms;
	c->dirty = 1;
	while (!c->quit) {
		uint64_t now = clock_mono_ms();
		int timeout;

		if (c->dirty) {
			draw_screen(c);
			c->dirty = 0;
		}
		timeout = now >= c->next_refresh_ms ? 0 : (int)(c->next_refresh_ms - now);
		pfd[0].fd = STDIN_FILENO;
		pfd[0].events = POLLIN;
		pfd[1].fd = c->wake[0];
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, timeout) < 0 && errno != EINTR)
			break;
		/* A resize interrupts poll(); curses reports it as KEY_RESIZE. */
		console_input(c);
		if (pfd[1].revents & POLLIN) {
			while (read(c->wake[0], drain, sizeof drain) > 0)
				;
		}
		if (prompt_poll(c))
			c->dirty = 1;
		if (drill_poll(c))
			c->dirty = 1;
		if (c->message[0] != '\0' && !c->message_error &&
		    clock_mono_ms() - c->message_ms > 8000) {
			c->message[0] = '\0';
			c->dirty = 1;
		}
		if (clock_mono_ms() >= c->next_refresh_ms) {
			console_refresh(c);
			c->next_refresh_ms = clock_mono_ms() + (uint64_t)c->refresh_ms;
		}
	}
}

static void
console_free(struct console *c)
{
	if (c->gateway != NULL)
		gateway_stop(c->gateway); /* applications first: no new requests */
	if (c->demo != NULL)
		demo_load_stop(c->demo); /* the load first: no new requests */
	if (c->router != NULL)
		router_free(c->router); /* every done callback has run */
	if (c->prompt != NULL)
		prompt_free(c->prompt);
	if (c->drill != NULL)
		drill_stop(c->drill);
	if (c->demo != NULL)
		demo_stop(c->demo);
	if (c->have_snap)
		router_snapshot_free(&c->snap);
	if (c->store != NULL)
		store_close(c->store);
	free(c->store_error);
	config_free(&c->cfg);
	if (c->wake[0] >= 0) {
		close(c->wake[0]);
		close(c->wake[1]);
	}
}

/* The command line into c and *listen: 0, 1 when done (--help, --commands), -1 on a usage
 * error (its message printed). */
static int
console_parse(struct console *c, int argc, char **argv, const char **listen)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"db", required_argument, NULL, 'b'},
	    {"demo", no_argument, NULL, 'd'},
	    {"demo-rate", required_argument, NULL, 'r'},
	    {"theme", required_argument, NULL, 't'},
	    {"no-color", no_argument, NULL, 'n'},
	    {"readonly", no_argument, NULL, 'R'},
	    {"listen", required_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {"commands", no_argument, NULL, 'C'},
	    {NULL, 0, NULL, 0},
	};
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:b:dr:t:nRl:hC", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': c->config_path = optarg; break;
		case 'b': c->db_path = optarg; break;
		case 'd': c->demo_on = 1; break;
		case 't': c->theme_name = optarg; break;
		case 'n': c->no_color = 1; break;
		case 'R': c->readonly = 1; break;
		case 'l': *listen = optarg; break;
		case 'r':
			if (parse_double(optarg, 0, 1000, &c->demo_rate) != 0) {
				fprintf(stderr,
				    "llmdeck: --demo-rate: expected requests per second 0..1000, "
				    "got "
				    "\"%s\"\n",
				    optarg);
				console_usage(stderr);
				return -1;
			}
			break;
		case 'h': console_usage(stdout); return 1;
		case 'C': print_commands(); return 1;
		default: console_usage(stderr); return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "llmdeck: unexpected argument \"%s\"\n", argv[optind]);
		console_usage(stderr);
		return -1;
	}
	return 0;
}

/* Config (or the demo), store, router and the --listen gateway: 0, or the exit code with
 * the message printed. A store that cannot open is not fatal: its panels say why. */
static int
console_open(struct console *c, const char *listen, char **dbpath)
{
	struct router_opts ro;
	char *cause = NULL;
	int rc = EXIT_USAGE;

	config_init(&c->cfg);
	if (c->demo_on)
		c->demo = demo_start(&c->cfg, &cause);
	if (c->demo_on ? c->demo == NULL : config_load(&c->cfg, c->config_path, &cause) != 0) {
		fprintf(stderr, "llmdeck: %s\n", cause);
		goto out;
	}
	if (c->cfg.n_providers == 0) {
		fprintf(stderr,
		    "llmdeck: no providers: set ANTHROPIC_API_KEY or OPENAI_API_KEY, "
		    "give --config FILE, or try llmdeck --demo\n");
		goto out;
	}
	/* The demo's database is demo.db beside the real one: demo spend never mixes in. */
	if (c->db_path == NULL && c->demo_on &&
	    (c->db_path = *dbpath = store_state_path("demo.db", &cause)) == NULL) {
		c->store_error = cause;
		cause = NULL;
	} else if (store_open(&c->store, c->db_path, &cause) != 0) {
		c->store_error = cause;
		c->store = NULL;
		cause = NULL;
	}
	memset(&ro, 0, sizeof ro);
	ro.store = c->store; /* ledger, budget, cache, events, overrides */
	if ((c->router = router_new(&c->cfg, &ro, &cause)) == NULL) {
		fprintf(stderr, "llmdeck: %s\n", cause);
		goto out;
	}
	if (listen != NULL) {
		struct gateway_opts go;

		gateway_opts_init(&go);
		go.listen = listen;
		go.store = c->store;
		if ((c->gateway = gateway_start(c->router, &go, &cause)) == NULL) {
			fprintf(stderr, "llmdeck: --listen: %s\n", cause);
			goto out;
		}
		event_add(router_events(c->router), EV_INFO, NULL, "gateway listening on %s",
		    gateway_url(c->gateway));
	}
	rc = 0;
out:
	free(cause);
	return rc;
}

/* curses on, colours by the terminal's depth, and the first message. */
static void
console_screen_start(struct console *c, const char *theme_error)
{
	if (getenv("ESCDELAY") == NULL)
		set_escdelay(25);
	initscr();
	raw();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	curs_set(0);
	c->mouse = mousemask(BUTTON1_CLICKED | BUTTON1_PRESSED, NULL) != 0;
	mouseinterval(0);
	c->color_depth = console_depth(c);
	color_setup(c);
	if (theme_error != NULL)
		console_message(c, 1, "%s; using the default theme", theme_error);
	else if (c->store_error != NULL)
		console_message(c, 1, "store: %s (budget and cache panels off)", c->store_error);
	else if (c->gateway != NULL)
		console_message(c, 0, "gateway listening on %s", gateway_url(c->gateway));
	else if (c->readonly)
		console_message(c, 0, "read-only: actions are refused");
}

int
console_main(int argc, char **argv)
{
	struct console *c;
	char *theme_error = NULL, *dbpath = NULL;
	const char *listen = NULL;
	int rc;

	c = xcalloc(1, sizeof *c);
	c->wake[0] = c->wake[1] = -1;
	c->demo_rate = 5;
	c->refresh_ms = 500;
	c->color_depth = -1;
	c->theme_name = "default";
	if ((rc = console_parse(c, argc, argv, &listen)) != 0) {
		free(c);
		return rc > 0 ? 0 : EXIT_USAGE;
	}
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr,
		    "llmdeck: the console needs a terminal; try 'llmdeck ask' or "
		    "'llmdeck status'\n");
		free(c);
		return EXIT_USAGE;
	}

	setlocale(LC_ALL, "");
	c->utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	signal(SIGPIPE, SIG_IGN);
	if (c->demo_on || listen != NULL)
		cli_raise_fd_limit(); /* the demo's simulated providers, the gateway's clients */
	if ((rc = console_open(c, listen, &dbpath)) != 0)
		goto out;
	if (wake_setup(c) != 0) {
		fprintf(stderr, "llmdeck: pipe: %s\n", strerror(errno));
		rc = EXIT_FAILED;
		goto out;
	}
	if (console_set_theme(c, c->theme_name, &theme_error) != 0)
		c->theme_name = "default";
	c->prompt = prompt_new(c);
	c->drill = drill_start(c);
	event_add(router_events(c->router), EV_INFO, NULL, "console started%s%s",
	    c->demo_on ? " (demo)" : "", c->readonly ? " read-only" : "");
	if (c->demo != NULL)
		demo_load_start(c->demo, c->router, c->demo_rate);
	console_screen_start(c, theme_error);
	console_loop(c);
	endwin();
out:
	free(theme_error);
	console_free(c);
	free(dbpath);
	free(c);
	curl_global_cleanup();
	return rc;
}
