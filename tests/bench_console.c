/*
 * bench_console.c: the console's idle CPU and memory on the demo load. Starts
 * `llmdeck --demo` (default 5 requests/s) in a tmux of its own at 140x45,
 * waits for the dashboard, then reads /proc/PID/stat over 10 s: the whole
 * process (which also runs the five simulated providers, the router and the
 * load generator) and the UI thread alone (the main thread), and VmRSS/VmHWM.
 * Targets (issue 4): under 2% of one core, under 32 MB. Prints, asserts nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/util.h"

static int
sh(const char *cmd, char *out, size_t len)
{
	FILE *f = popen(cmd, "r");
	size_t n = 0;

	if (f == NULL)
		return -1;
	if (out != NULL) {
		n = fread(out, 1, len - 1, f);
		out[n] = '\0';
	} else {
		char tmp[4096];
		while (fread(tmp, 1, sizeof tmp, f) > 0)
			;
	}
	return pclose(f);
}

/* utime + stime in clock ticks from a stat file. */
static long long
cpu_ticks(const char *path)
{
	char buf[2048], *p;
	unsigned long long ut, st;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return -1;
	if (fgets(buf, sizeof buf, f) == NULL) {
		fclose(f);
		return -1;
	}
	fclose(f);
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	/* Fields after the name: state(3) ... utime(14) stime(15). */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (long long)(ut + st);
}

static long
status_kb(int pid, const char *field)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, field, strlen(field)) == 0)
			sscanf(line + strlen(field) + 1, "%ld", &kb);
	fclose(f);
	return kb;
}

int
main(void)
{
	const char *bin = getenv("LLMDECK") != NULL ? getenv("LLMDECK") : "build/llmdeck";
	char sock[64], cmd[1024], out[256], path[64], tpath[64];
	long long p0, p1, t0, t1;
	double hz = (double)sysconf(_SC_CLK_TCK), secs = 10;
	int pid = 0, ok = 0;

	if (sh("tmux -V", NULL, 0) != 0) {
		printf("bench_console: tmux not installed, skipped\n");
		return 0;
	}
	snprintf(sock, sizeof sock, "llmdeck-bench-%d", (int)getpid());
	snprintf(cmd, sizeof cmd,
	    "tmux -L %s -f /dev/null new-session -d -s b -x 140 -y 45 "
	    "'exec env LANG=C.UTF-8 %s --demo --db /tmp/%s.db'",
	    sock, bin, sock);
	if (sh(cmd, NULL, 0) != 0) {
		fprintf(stderr, "bench_console: could not start tmux\n");
		return 1;
	}
	for (int i = 0; i < 150 && !ok; i++) {
		snprintf(cmd, sizeof cmd, "tmux -L %s capture-pane -p -t b | grep -c 'p50 '", sock);
		ok = sh(cmd, out, sizeof out) == 0;
		if (!ok)
			usleep(100000);
	}
	snprintf(cmd, sizeof cmd, "tmux -L %s display -p -t b '#{pane_pid}'", sock);
	if (!ok || sh(cmd, out, sizeof out) != 0 || (pid = atoi(out)) <= 0) {
		fprintf(stderr, "bench_console: the demo did not come up\n");
		goto out;
	}
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	snprintf(tpath, sizeof tpath, "/proc/%d/task/%d/stat", pid, pid);
	p0 = cpu_ticks(path);
	t0 = cpu_ticks(tpath);
	sleep((unsigned)secs);
	p1 = cpu_ticks(path);
	t1 = cpu_ticks(tpath);
	printf("console idle on the demo load (5 req/s), %.0f s, 140x45:\n", secs);
	printf("  UI thread CPU          %.2f%% of one core (target < 2%%)\n",
	    (double)(t1 - t0) / hz / secs * 100);
	printf("  whole process CPU      %.2f%% of one core (UI + router + 5 sims + load)\n",
	    (double)(p1 - p0) / hz / secs * 100);
	printf("  RSS now / peak         %.1f MB / %.1f MB (target < 32 MB)\n",
	    (double)status_kb(pid, "VmRSS") / 1024, (double)status_kb(pid, "VmHWM") / 1024);
out:
	snprintf(cmd, sizeof cmd, "tmux -L %s kill-server; rm -f /tmp/%s.db*", sock, sock);
	sh(cmd, NULL, 0);
	return ok ? 0 : 1;
}
