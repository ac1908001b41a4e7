/*
 * test_tz.c: time zones read from TZif files and fixed offsets (tz.h): offsets at
 * instants, days 23 and 25 hours long, the POSIX rule after the last transition,
 * hand-made version 1 and "slim" files, and that the process's TZ is never touched.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"
#include "testkit.h"
#include "util/tz.h"
#include "util/util.h"

#define H 3600
#define HMS (3600 * 1000LL)

static char dir[PATH_MAX];

/* Instants, UTC. */
#define T_2025_01_15 1736899200LL /* 2025-01-15 00:00 */
#define T_2025_07_15 1752537600LL /* 2025-07-15 00:00 */
#define T_2025_03_09 1741478400LL /* 2025-03-09 00:00: New York springs forward at 2:00 */
#define T_2025_11_02 1762041600LL /* 2025-11-02 00:00: New York falls back at 2:00 */
#define T_2090_07_15 3803760000LL /* after every transition a "fat" file lists */

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/llmdeck-tz-XXXXXX");
	return mkdtemp(dir) != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);
	int rc = system(cmd);

	(void)state;
	free(cmd);
	return rc == 0 ? 0 : -1;
}

static void
put32(struct buf *b, uint32_t v)
{
	unsigned char p[4] = {v >> 24, v >> 16, v >> 8, v};

	buf_append(b, p, 4);
}

/* A TZif header: version, then isut, isstd, leap, time, type and char counts. */
static void
header(struct buf *b, char version, uint32_t timecnt, uint32_t typecnt, uint32_t charcnt)
{
	char pad[15] = {0};

	buf_append(b, "TZif", 4);
	buf_append(b, &version, 1);
	buf_append(b, pad, sizeof pad);
	put32(b, 0);
	put32(b, 0);
	put32(b, 0);
	put32(b, timecnt);
	put32(b, typecnt);
	put32(b, charcnt);
}

static void
ttinfo(struct buf *b, int32_t off, int dst)
{
	unsigned char rest[2] = {(unsigned char)dst, 0};

	put32(b, (uint32_t)off);
	buf_append(b, rest, 2);
}

static void
write_zone(const char *name, const struct buf *b)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(b->data, 1, b->len, f), b->len);
	assert_int_equal(fclose(f), 0);
	free(path);
}

static int
have_zone(const char *name)
{
	struct stat st;
	char *path = xasprintf("/usr/share/zoneinfo/%s", name);
	int ok = stat(path, &st) == 0 && getenv("TZDIR") == NULL;

	free(path);
	if (!ok && getenv("TZDIR") == NULL)
		testkit_missing("/usr/share/zoneinfo (tzdata)");
	return ok;
}

/* The day containing instant t (seconds): its start and length relative to the UTC date. */
static void
day_of(const struct tz *z, int64_t t, int64_t *start, int64_t *hours, char day[16])
{
	int64_t s, e;

	tz_day(z, t * 1000, &s, &e, day);
	*start = s;
	*hours = (e - s) / HMS;
	assert_int_equal((e - s) % HMS, 0);
}

static void
test_utc_and_fixed_offsets(void **state)
{
	struct tz *z;
	int64_t start, hours;
	char day[16];

	(void)state;
	assert_non_null(z = tz_open(NULL));
	assert_string_equal(tz_name(z), "UTC");
	assert_int_equal(tz_offset(z, T_2025_07_15), 0);
	day_of(z, T_2025_07_15 + 5, &start, &hours, day);
	assert_string_equal(day, "2025-07-15");
	assert_int_equal(start, T_2025_07_15 * 1000);
	assert_int_equal(hours, 24);
	/* The millisecond before midnight, and instants before 1970. */
	day_of(z, T_2025_07_15 - 1, &start, &hours, day);
	assert_string_equal(day, "2025-07-14");
	day_of(z, -1, &start, &hours, day);
	assert_string_equal(day, "1969-12-31");
	assert_int_equal(start, -86400000LL);
	tz_free(z);

	assert_non_null(z = tz_open("UTC+05:30"));
	assert_int_equal(tz_offset(z, 0), 5 * H + 1800);
	tz_free(z);
	assert_non_null(z = tz_open("-0800"));
	day_of(z, T_2025_07_15 + 7 * H, &start, &hours, day);
	assert_string_equal(day, "2025-07-14");
	assert_int_equal(start, (T_2025_07_15 - 16 * H) * 1000);
	tz_free(z);

	assert_null(tz_open("+2x"));
	assert_null(tz_open("+15:00"));
	assert_null(tz_open("Nowhere/Atlantis"));
	assert_null(tz_open("../../etc/passwd"));
	assert_null(tz_open("/etc/passwd"));
}

static void
test_new_york(void **state)
{
	const char *before = getenv("TZ");
	struct tz *z;
	int64_t start, hours;
	char day[16];

	(void)state;
	if (!have_zone("America/New_York"))
		return;
	assert_non_null(z = tz_open("America/New_York"));
	assert_int_equal(tz_offset(z, T_2025_01_15), -5 * H);
	assert_int_equal(tz_offset(z, T_2025_07_15), -4 * H);
	/* An ordinary summer day starts at 04:00 UTC. */
	day_of(z, T_2025_07_15 + 12 * H, &start, &hours, day);
	assert_string_equal(day, "2025-07-15");
	assert_int_equal(start, (T_2025_07_15 + 4 * H) * 1000);
	assert_int_equal(hours, 24);
	/* Spring forward: 23 hours; fall back: 25. */
	day_of(z, T_2025_03_09 + 12 * H, &start, &hours, day);
	assert_string_equal(day, "2025-03-09");
	assert_int_equal(start, (T_2025_03_09 + 5 * H) * 1000);
	assert_int_equal(hours, 23);
	day_of(z, T_2025_11_02 + 12 * H, &start, &hours, day);
	assert_string_equal(day, "2025-11-02");
	assert_int_equal(start, (T_2025_11_02 + 4 * H) * 1000);
	assert_int_equal(hours, 25);
	/* 03:00 UTC is still the evening before in New York. */
	day_of(z, T_2025_07_15 + 3 * H, &start, &hours, day);
	assert_string_equal(day, "2025-07-14");
	/* Beyond the file's last transition the footer rule decides. */
	assert_int_equal(tz_offset(z, T_2090_07_15), -4 * H);
	assert_int_equal(tz_offset(z, T_2090_07_15 + 180 * 86400LL), -5 * H);
	tz_free(z);
	/* store_day_bounds gives the same through the store's API. */
	assert_int_equal(store_day_bounds("America/New_York", (T_2025_11_02 + 12 * H) * 1000,
	                     &start, &hours, day),
	    0);
	assert_int_equal(hours - start, 25 * HMS);
	/* Nothing of this went through the process's TZ. */
	assert_true((before == NULL) == (getenv("TZ") == NULL));
	if (before != NULL)
		assert_string_equal(before, getenv("TZ"));
}

/* A "slim" file: no transitions at all, only the POSIX rule in the footer. */
static void
test_slim_file_uses_the_footer(void **state)
{
	struct buf b;
	struct tz *z;
	int64_t start, hours;
	char day[16];

	(void)state;
	buf_init(&b);
	header(&b, '2', 0, 1, 4);
	ttinfo(&b, -5 * H, 0);
	buf_append(&b, "EST", 4);
	header(&b, '2', 0, 1, 4);
	ttinfo(&b, -5 * H, 0);
	buf_append(&b, "EST", 4);
	buf_puts(&b, "\nEST5EDT,M3.2.0,M11.1.0\n");
	write_zone("Slim", &b);
	buf_free(&b);

	setenv("TZDIR", dir, 1); /* the test's own environment, not the library's doing */
	z = tz_open("Slim");
	unsetenv("TZDIR");
	assert_non_null(z);
	assert_int_equal(tz_offset(z, T_2025_01_15), -5 * H);
	assert_int_equal(tz_offset(z, T_2025_07_15), -4 * H);
	/* The switch is at 2:00 local: 06:59:59 UTC is still EST, 07:00 is EDT. */
	assert_int_equal(tz_offset(z, T_2025_03_09 + 7 * H - 1), -5 * H);
	assert_int_equal(tz_offset(z, T_2025_03_09 + 7 * H), -4 * H);
	assert_int_equal(tz_offset(z, T_2025_11_02 + 6 * H - 1), -4 * H);
	assert_int_equal(tz_offset(z, T_2025_11_02 + 6 * H), -5 * H);
	day_of(z, T_2025_03_09 + 12 * H, &start, &hours, day);
	assert_int_equal(hours, 23);
	day_of(z, T_2025_11_02 + 12 * H, &start, &hours, day);
	assert_int_equal(hours, 25);
	tz_free(z);
}

/* Version 1 data: 32-bit transitions; type 0 before the first. */
static void
test_version_1_file(void **state)
{
	struct buf b;
	struct tz *z;
	unsigned char idx[2] = {1, 0};

	(void)state;
	buf_init(&b);
	header(&b, '\0', 2, 2, 2);
	put32(&b, (uint32_t)T_2025_03_09);
	put32(&b, (uint32_t)T_2025_11_02);
	buf_append(&b, idx, 2);
	ttinfo(&b, H, 0);
	ttinfo(&b, 2 * H, 1);
	buf_append(&b, "A", 2);
	write_zone("Old", &b);
	/* A truncated copy is refused, not misread. */
	b.len -= 3;
	write_zone("Short", &b);
	buf_free(&b);

	setenv("TZDIR", dir, 1);
	z = tz_open("Old");
	assert_null(tz_open("Short"));
	unsetenv("TZDIR");
	assert_non_null(z);
	assert_int_equal(tz_offset(z, 0), H);
	assert_int_equal(tz_offset(z, T_2025_03_09 - 1), H);
	assert_int_equal(tz_offset(z, T_2025_03_09), 2 * H);
	assert_int_equal(tz_offset(z, T_2025_11_02), H);
	assert_int_equal(tz_offset(z, T_2090_07_15), H);
	tz_free(z);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_utc_and_fixed_offsets),
	    cmocka_unit_test(test_new_york),
	    cmocka_unit_test_setup_teardown(test_slim_file_uses_the_footer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_version_1_file, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
