/*
 * tz.c: a zone's UTC offset at any instant, from a fixed offset or the zone's
 * TZif file (RFC 8536: version 1 data, or the 64-bit version 2+ data and its
 * POSIX TZ footer for instants after the last transition). Read once, then
 * immutable: any thread may ask. The C library's way (set $TZ, then localtime
 * and mktime) changes process-wide state, which the library must never do.
 */
#include "util/tz.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/util.h"

#define TZ_MAX_FILE (256 * 1024)
#define TZ_MAX_NAME 128
#define TZ_DAY 86400

/* A POSIX TZ rule's date: Jn (1..365, no Feb 29), n (0..365), or Mm.w.d. */
struct tz_date {
	char kind; /* 'J', 'n' or 'M' */
	int n, m, w, d;
	int32_t time; /* local seconds after midnight; may be negative or past 24h */
};

/* The footer: standard time, and daylight time between two dates each year. */
struct tz_rule {
	int32_t std_off, dst_off;
	int has_dst;
	struct tz_date start, end;
};

struct tz {
	char *name;
	int64_t *at;   /* transitions, ascending */
	uint8_t *type; /* the type from each transition on */
	size_t n_at;
	int32_t *offs; /* each type's offset */
	size_t n_offs;
	int has_rule; /* after the last transition, the footer rule holds */
	struct tz_rule rule;
};

static int64_t
floor_div(int64_t a, int64_t b)
{
	return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = floor_div(y, 400);
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = floor_div(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int
is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
month_days(int64_t y, int m)
{
	static const int len[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && is_leap(y) ? 29 : len[m - 1];
}

/* ---- POSIX TZ strings ("EST5EDT,M3.2.0,M11.1.0") ---- */

/* hh[:mm[:ss]] into seconds; hours up to max_h. */
static const char *
rule_hms(const char *s, int max_h, int32_t *out)
{
	int v[3] = {0, 0, 0};

	for (int i = 0; i < 3; i++) {
		int digits = 0;

		if (i > 0) {
			if (*s != ':')
				break;
			s++;
		}
		while (isdigit((unsigned char)*s) && digits < 3) {
			v[i] = v[i] * 10 + (*s++ - '0');
			digits++;
		}
		if (digits == 0 || (i > 0 && v[i] > 59) || (i == 0 && v[i] > max_h))
			return NULL;
	}
	*out = v[0] * 3600 + v[1] * 60 + v[2];
	return s;
}

/* [+-]hh[:mm[:ss]]: sign kept as written. */
static const char *
rule_signed_hms(const char *s, int max_h, int32_t *out)
{
	int neg = *s == '-';

	if (*s == '+' || *s == '-')
		s++;
	if ((s = rule_hms(s, max_h, out)) != NULL && neg)
		*out = -*out;
	return s;
}

static const char *
rule_name(const char *s)
{
	const char *p = s;

	if (*s == '<') {
		while (*++p != '\0' && *p != '>')
			;
		return *p == '>' && p - s >= 4 ? p + 1 : NULL;
	}
	while (isalpha((unsigned char)*p))
		p++;
	return p - s >= 3 ? p : NULL;
}

static const char *
rule_number(const char *s, int lo, int hi, int *out)
{
	int v = 0, digits = 0;

	while (isdigit((unsigned char)*s) && digits < 4) {
		v = v * 10 + (*s++ - '0');
		digits++;
	}
	if (digits == 0 || v < lo || v > hi)
		return NULL;
	*out = v;
	return s;
}

static const char *
rule_date(const char *s, struct tz_date *dt)
{
	memset(dt, 0, sizeof *dt);
	dt->time = 2 * 3600;
	if (*s == 'J') {
		dt->kind = 'J';
		s = rule_number(s + 1, 1, 365, &dt->n);
	} else if (*s == 'M') {
		dt->kind = 'M';
		if ((s = rule_number(s + 1, 1, 12, &dt->m)) == NULL || *s++ != '.' ||
		    (s = rule_number(s, 1, 5, &dt->w)) == NULL || *s++ != '.')
			return NULL;
		s = rule_number(s, 0, 6, &dt->d);
	} else {
		dt->kind = 'n';
		s = rule_number(s, 0, 365, &dt->n);
	}
	if (s != NULL && *s == '/')
		s = rule_signed_hms(s + 1, 167, &dt->time);
	return s;
}

/* A footer rule; 0, or -1 if it is not one this parser knows. */
static int
rule_parse(const char *s, struct tz_rule *r)
{
	int32_t off;

	memset(r, 0, sizeof *r);
	if ((s = rule_name(s)) == NULL || (s = rule_signed_hms(s, 24, &off)) == NULL)
		return -1;
	r->std_off = -off; /* POSIX counts west as positive */
	if (*s == '\0')
		return 0;
	if ((s = rule_name(s)) == NULL)
		return -1;
	r->has_dst = 1;
	r->dst_off = r->std_off + 3600;
	if (*s != '\0' && *s != ',') {
		if ((s = rule_signed_hms(s, 24, &off)) == NULL)
			return -1;
		r->dst_off = -off;
	}
	if (*s == '\0') /* no dates: the US rule, as the C library assumes */
		s = ",M3.2.0,M11.1.0";
	if (*s++ != ',' || (s = rule_date(s, &r->start)) == NULL || *s++ != ',' ||
	    (s = rule_date(s, &r->end)) == NULL)
		return -1;
	return *s == '\0' ? 0 : -1;
}

/* The day of year y (days since the epoch) a rule date falls on. */
static int64_t
rule_day(const struct tz_date *dt, int64_t y)
{
	int64_t jan1 = days_from_civil(y, 1, 1), first;
	int wd, day;

	switch (dt->kind) {
	case 'J': return jan1 + dt->n - 1 + (is_leap(y) && dt->n >= 60);
	case 'n': return jan1 + dt->n;
	}
	first = days_from_civil(y, dt->m, 1);
	wd = (int)(first + 4 - floor_div(first + 4, 7) * 7); /* 1970-01-01 was a Thursday */
	day = 1 + (dt->d - wd + 7) % 7 + (dt->w - 1) * 7;
	while (day > month_days(y, dt->m))
		day -= 7;
	return first + day - 1;
}

static int32_t
rule_offset(const struct tz_rule *r, int64_t t)
{
	int64_t y, start, end;
	int m, d;

	if (!r->has_dst)
		return r->std_off;
	civil_from_days(floor_div(t + r->std_off, TZ_DAY), &y, &m, &d);
	/* Daylight time starts at a standard-time clock reading and ends at a daylight one. */
	start = rule_day(&r->start, y) * TZ_DAY + r->start.time - r->std_off;
	end = rule_day(&r->end, y) * TZ_DAY + r->end.time - r->dst_off;
	if (start < end)
		return t >= start && t < end ? r->dst_off : r->std_off;
	return t >= end && t < start ? r->std_off : r->dst_off;
}

/* ---- TZif files ---- */

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t
be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct tzif_counts {
	size_t isut, isstd, leap, time, type, chars;
};

static size_t
tzif_block(const struct tzif_counts *c, size_t tsize)
{
	return c->time * tsize + c->time + c->type * 6 + c->chars + c->leap * (tsize + 4) +
	    c->isstd + c->isut;
}

static int
tzif_header(const unsigned char *p, size_t len, struct tzif_counts *c)
{
	if (len < 44 || memcmp(p, "TZif", 4) != 0)
		return -1;
	c->isut = be32(p + 20);
	c->isstd = be32(p + 24);
	c->leap = be32(p + 28);
	c->time = be32(p + 32);
	c->type = be32(p + 36);
	c->chars = be32(p + 40);
	if (c->type == 0 || c->type > 256 || c->time > 100000 || c->leap > 100000 ||
	    c->chars > 100000 || c->isut > 256 || c->isstd > 256)
		return -1;
	return 0;
}

/* The data block at p (after its header), times of tsize bytes. */
static int
tzif_data(struct tz *z, const unsigned char *p, const struct tzif_counts *c, size_t tsize)
{
	const unsigned char *idx = p + c->time * tsize, *types = idx + c->time;

	z->at = xreallocarray(NULL, c->time + 1, sizeof *z->at);
	z->type = xmalloc(c->time + 1);
	z->offs = xreallocarray(NULL, c->type, sizeof *z->offs);
	z->n_at = c->time;
	z->n_offs = c->type;
	for (size_t i = 0; i < c->time; i++) {
		z->at[i] = tsize == 8 ? be64(p + i * 8) : (int32_t)be32(p + i * 4);
		z->type[i] = idx[i];
		if (idx[i] >= c->type || (i > 0 && z->at[i] <= z->at[i - 1]))
			return -1;
	}
	for (size_t i = 0; i < c->type; i++) {
		int32_t off = (int32_t)be32(types + i * 6);

		if (off <= -26 * 3600 || off >= 26 * 3600)
			return -1;
		z->offs[i] = off;
	}
	return 0;
}

static int
tzif_parse(struct tz *z, const unsigned char *p, size_t len)
{
	struct tzif_counts c;
	size_t v1;
	const unsigned char *foot, *nl;
	char rule[128];

	if (tzif_header(p, len, &c) != 0)
		return -1;
	v1 = 44 + tzif_block(&c, 4);
	if (v1 > len)
		return -1;
	if (p[4] == '\0')
		return tzif_data(z, p + 44, &c, 4);
	/* Version 2 and later: skip the 32-bit data for the 64-bit data and the footer. */
	p += v1;
	len -= v1;
	if (tzif_header(p, len, &c) != 0 || 44 + tzif_block(&c, 8) > len ||
	    tzif_data(z, p + 44, &c, 8) != 0)
		return -1;
	foot = p + 44 + tzif_block(&c, 8);
	len -= (size_t)(foot - p);
	if (len < 2 || foot[0] != '\n' || (nl = memchr(foot + 1, '\n', len - 1)) == NULL)
		return 0;
	if (nl == foot + 1 || (size_t)(nl - foot - 1) >= sizeof rule)
		return 0;
	memcpy(rule, foot + 1, (size_t)(nl - foot - 1));
	rule[nl - foot - 1] = '\0';
	z->has_rule = rule_parse(rule, &z->rule) == 0;
	return 0;
}

static int
tz_read_file(struct tz *z, const char *name)
{
	const char *dir = getenv("TZDIR");
	unsigned char *data;
	struct stat st;
	char *path;
	ssize_t n;
	size_t len = 0;
	int fd, rc;

	path = xasprintf("%s/%s", dir != NULL && *dir != '\0' ? dir : "/usr/share/zoneinfo", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > TZ_MAX_FILE) {
		close(fd);
		return -1;
	}
	data = xmalloc((size_t)st.st_size + 1);
	while (len < (size_t)st.st_size &&
	    ((n = read(fd, data + len, (size_t)st.st_size - len)) > 0 || (n < 0 && errno == EINTR)))
		if (n > 0)
			len += (size_t)n;
	close(fd);
	rc = tzif_parse(z, data, len);
	free(data);
	return rc;
}

/* "+02:00", "-0530", "+2": the offset in seconds; -1 if s is not one. */
static int
tz_parse_offset(const char *s, int32_t *off)
{
	int sign, h = 0, m = 0, digits = 0;
	const char *p = s + 1;

	if (*s != '+' && *s != '-')
		return -1;
	sign = *s == '-' ? -1 : 1;
	while (*p >= '0' && *p <= '9' && digits < 2) {
		h = h * 10 + (*p++ - '0');
		digits++;
	}
	if (digits == 0)
		return -1;
	if (*p == ':')
		p++;
	if (*p != '\0') {
		if (p[0] < '0' || p[0] > '5' || p[1] < '0' || p[1] > '9' || p[2] != '\0')
			return -1;
		m = (p[0] - '0') * 10 + (p[1] - '0');
	}
	if (h > 14)
		return -1;
	*off = sign * (h * 3600 + m * 60);
	return 0;
}

static int
tz_is_utc(const char *name)
{
	return name == NULL || *name == '\0' || strcmp(name, "UTC") == 0 ||
	    strcmp(name, "Z") == 0 || strcmp(name, "GMT") == 0 || strcmp(name, "Etc/UTC") == 0;
}

struct tz *
tz_open(const char *name)
{
	struct tz *z = xcalloc(1, sizeof *z);
	const char *s = name;
	int32_t off = 0;

	z->name = xstrdup(tz_is_utc(name) ? "UTC" : name);
	if (!tz_is_utc(name)) {
		if (strncmp(s, "UTC", 3) == 0 && (s[3] == '+' || s[3] == '-'))
			s += 3;
		if (*s == '+' || *s == '-') {
			if (tz_parse_offset(s, &off) != 0)
				goto fail;
		} else {
			if (strstr(s, "..") != NULL || *s == '/' || strlen(s) >= TZ_MAX_NAME ||
			    tz_read_file(z, s) != 0)
				goto fail;
			return z;
		}
	}
	z->offs = xmalloc(sizeof *z->offs);
	z->offs[0] = off;
	z->n_offs = 1;
	return z;
fail:
	tz_free(z);
	return NULL;
}

void
tz_free(struct tz *z)
{
	if (z == NULL)
		return;
	free(z->name);
	free(z->at);
	free(z->type);
	free(z->offs);
	free(z);
}

const char *
tz_name(const struct tz *z)
{
	return z->name;
}

int32_t
tz_offset(const struct tz *z, int64_t t)
{
	size_t lo = 0, hi = z->n_at;

	/* Before the first transition: type 0 (RFC 8536, 3.2). */
	if (z->n_at == 0 || t < z->at[0])
		return z->n_at == 0 && z->has_rule ? rule_offset(&z->rule, t) : z->offs[0];
	if (t >= z->at[z->n_at - 1] && z->has_rule)
		return rule_offset(&z->rule, t);
	/* The last transition at or before t. */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (z->at[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return z->offs[z->type[lo]];
}

static int64_t
local_day(const struct tz *z, int64_t t)
{
	return floor_div(t + tz_offset(z, t), TZ_DAY);
}

/* The first instant whose local date is day d (days since the epoch). */
static int64_t
day_start(const struct tz *z, int64_t d)
{
	/* Offsets stay within +-26 hours, so lo is on an earlier day and hi on d or later. */
	int64_t lo = d * TZ_DAY - 26 * 3600 - 1, hi = d * TZ_DAY + 26 * 3600;

	while (hi - lo > 1) {
		int64_t mid = lo + (hi - lo) / 2;

		if (local_day(z, mid) >= d)
			hi = mid;
		else
			lo = mid;
	}
	return hi;
}

void
tz_day(const struct tz *z, int64_t now_ms, int64_t *start_ms, int64_t *end_ms, char day[16])
{
	int64_t d = local_day(z, floor_div(now_ms, 1000)), y;
	int m, dd;

	*start_ms = day_start(z, d) * 1000;
	*end_ms = day_start(z, d + 1) * 1000;
	civil_from_days(d, &y, &m, &dd);
	snprintf(day, 16, "%04d-%02d-%02d", (int)y, m, dd);
}
