/*
 * test_runtime_dir.c: the runtime directory is trusted only if it is this
 * user's, mode 0700, and a directory (not a symlink), like tmux's socket
 * directory: another local user who made it first (/tmp/llmdeck-UID is
 * guessable) gets a refusal naming the directory and the fix, not our
 * instance files. The socket and the instance file are 0600 in it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "gateway/gateway.h"
#include "router/router.h"
#include "sim/sim.h"
#include "testkit.h"
#include "util/util.h"

static char base[64], dir[128];

static int
setup(void **state)
{
	(void)state;
	snprintf(base, sizeof base, "/tmp/llmdeck-rundir-XXXXXX");
	if (mkdtemp(base) == NULL)
		return -1;
	snprintf(dir, sizeof dir, "%s/llmdeck", base);
	setenv("XDG_RUNTIME_DIR", base, 1);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf %s", base);
	return system(cmd) == 0 ? 0 : -1;
}

/* The directory is refused with a one-line cause holding each of want. */
static void
refused(const char *want1, const char *want2)
{
	char *cause = NULL, *got = gateway_runtime_dir(&cause);

	if (got != NULL)
		fail_msg("%s taken", got);
	assert_non_null(cause);
	assert_null(strchr(cause, '\n'));
	if (strstr(cause, dir) == NULL || strstr(cause, want1) == NULL ||
	    (want2 != NULL && strstr(cause, want2) == NULL))
		fail_msg("cause \"%s\" (wanted %s, %s)", cause, want1, want2 ? want2 : "");
	free(cause);
}

static void
test_a_directory_open_to_others_is_refused(void **state)
{
	(void)state;
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(chmod(dir, 0755), 0);
	refused("mode 0755", "chmod 700");
	assert_int_equal(chmod(dir, 0701), 0);
	refused("0700 expected", "XDG_RUNTIME_DIR");
	assert_int_equal(chmod(dir, 0700), 0);
	{
		char *cause = NULL, *got = gateway_runtime_dir(&cause);

		assert_non_null(got);
		assert_string_equal(got, dir);
		free(got);
	}
}

/* Another user made it first (tested as root: the directory is given away). */
static void
test_a_directory_of_another_user_is_refused(void **state)
{
	(void)state;
	if (getuid() != 0)
		skip();
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(chown(dir, 4242, 4242), 0);
	refused("owned by uid 4242", "remove it");
}

static void
test_a_symlink_is_refused(void **state)
{
	char target[160];

	(void)state;
	snprintf(target, sizeof target, "%s/elsewhere", base);
	assert_int_equal(mkdir(target, 0700), 0);
	assert_int_equal(symlink(target, dir), 0);
	refused("not a directory", NULL);
}

/* A gateway refuses to start on it, naming it; on a good one its files are 0600. */
static void
test_the_gateway_names_it_and_keeps_its_files_private(void **state)
{
	struct testkit kit;
	struct router_opts ro;
	struct gateway_opts go;
	struct router *r;
	struct gateway *gw;
	struct stat st;
	char *cause = NULL, info[256];

	(void)state;
	assert_int_equal(mkdir(dir, 0777), 0);
	assert_int_equal(chmod(dir, 0777), 0);
	testkit_init(&kit);
	testkit_add_provider(&kit, "gpt", SIM_OPENAI, 1, 1);
	memset(&ro, 0, sizeof ro);
	ro.no_probes = 1;
	r = router_new(&kit.cfg, &ro, &cause);
	assert_non_null(r);
	gateway_opts_init(&go);
	go.listen = "127.0.0.1:0";
	go.local_socket = 1;
	go.instance = "rundir";
	assert_null(gateway_start(r, &go, &cause));
	assert_non_null(strstr(cause, dir));
	assert_non_null(strstr(cause, "chmod 700"));
	free(cause);
	cause = NULL;

	assert_int_equal(chmod(dir, 0700), 0);
	gw = gateway_start(r, &go, &cause);
	assert_non_null(gw);
	assert_int_equal(stat(gateway_socket_path(gw), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(info, sizeof info, "%s/rundir.json", dir);
	assert_int_equal(stat(info, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	gateway_stop(gw);
	router_free(r);
	testkit_free(&kit);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_a_directory_open_to_others_is_refused, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(test_a_directory_of_another_user_is_refused, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(test_a_symlink_is_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_the_gateway_names_it_and_keeps_its_files_private,
	        setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
