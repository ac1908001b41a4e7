/*
 * test_install.c: `make install PREFIX=... DESTDIR=...` into a scratch
 * directory: the binary (which runs), every theme, the man page (every
 * subcommand in it, and groff finds nothing wrong when it is there) and the
 * systemd unit for serve (ExecStart on the installed binary, ExecReload
 * sending HUP); then `make uninstall` takes them away.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin_testutil.h"
#include "util/util.h"

static char dir[] = "/tmp/llmdeck-install-XXXXXX";

/* Run a shell command; its exit status. */
static int
sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	rc = system(cmd);
	return rc == -1 ? -1 : WEXITSTATUS(rc);
}

static int
count_files(const char *path, const char *suffix)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name), sl = strlen(suffix);
		if (len > sl && strcmp(de->d_name + len - sl, suffix) == 0)
			n++;
	}
	closedir(d);
	return n;
}

static void
test_make_install_puts_everything_under_the_prefix(void **state)
{
	const char *b = getenv("B") != NULL ? getenv("B") : "build";
	char path[512], *text;
	struct stat st;
	static const char *const subcommands[] = {"llmdeck attach", "llmdeck ask", "llmdeck serve",
	    "llmdeck ls", "llmdeck status", "llmdeck sim", "SIGHUP", "SIGTERM",
	    "LLMDECK_ADMIN_TOKEN", "XDG_RUNTIME_DIR", "EXIT STATUS", "/admin/v1/snapshot",
	    "--access-log", "--drain-seconds"};

	(void)state;
	assert_non_null(mkdtemp(dir));
	/* A make of its own, not a child of the one running the tests. */
	unsetenv("MAKEFLAGS");
	unsetenv("MFLAGS");
	unsetenv("MAKELEVEL");
	assert_int_equal(sh("make -s install B=%s PREFIX=/opt/llmdeck DESTDIR=%s >%s/make.log 2>&1",
	                     b, dir, dir),
	    0);

	snprintf(path, sizeof path, "%s/opt/llmdeck/bin/llmdeck", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0755);
	assert_int_equal(sh("%s --version | grep -q '^llmdeck '", path), 0);

	snprintf(path, sizeof path, "%s/opt/llmdeck/share/llmdeck/themes", dir);
	assert_int_equal(count_files(path, ".theme"), count_files("themes", ".theme"));
	assert_true(count_files(path, ".theme") >= 5);

	snprintf(path, sizeof path, "%s/opt/llmdeck/share/man/man1/llmdeck.1", dir);
	text = slurp(path);
	assert_non_null(strstr(text, ".TH LLMDECK 1"));
	for (size_t i = 0; i < nitems(subcommands); i++) {
		/* roff escapes '-' as "\-" */
		char want[64];
		size_t k = 0;

		for (const char *p = subcommands[i]; *p != '\0' && k < sizeof want - 2; p++) {
			if (*p == '-')
				want[k++] = '\\';
			want[k++] = *p;
		}
		want[k] = '\0';
		if (strstr(text, want) == NULL && strstr(text, subcommands[i]) == NULL)
			fail_msg("the man page does not mention %s", subcommands[i]);
	}
	free(text);
	if (sh("command -v groff >/dev/null") == 0)
		assert_int_equal(sh("groff -man -Tutf8 -ww -z %s 2>%s/groff.log && ! test -s "
		                    "%s/groff.log",
		                     path, dir, dir),
		    0);
	else
		print_message("groff is not installed: the man page's syntax is not checked\n");

	snprintf(path, sizeof path, "%s/opt/llmdeck/lib/systemd/system/llmdeck.service", dir);
	text = slurp(path);
	assert_non_null(strstr(text, "\nExecStart=/opt/llmdeck/bin/llmdeck serve "));
	assert_non_null(strstr(text, "\nExecReload=/bin/kill -HUP $MAINPID\n"));
	assert_non_null(strstr(text, "\nNoNewPrivileges=yes\n"));
	assert_non_null(strstr(text, "\nProtectSystem=strict\n"));
	assert_null(strstr(text, "@BINDIR@"));
	free(text);

	assert_int_equal(sh("make -s uninstall B=%s PREFIX=/opt/llmdeck DESTDIR=%s >>%s/make.log "
	                    "2>&1",
	                     b, dir, dir),
	    0);
	assert_int_not_equal(access(path, F_OK), 0);
	snprintf(path, sizeof path, "%s/opt/llmdeck/bin/llmdeck", dir);
	assert_int_not_equal(access(path, F_OK), 0);
	assert_int_equal(sh("rm -rf %s", dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_make_install_puts_everything_under_the_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
