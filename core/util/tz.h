/*
 * tz.h: time zones without the C library's global state. A zone is read once
 * (its TZif file from $TZDIR or /usr/share/zoneinfo, or a fixed offset) into
 * a struct tz that answers "what is the UTC offset at this instant" on any
 * thread; nothing here reads or changes $TZ or calls localtime or mktime.
 */
#ifndef LLMDECK_TZ_H
#define LLMDECK_TZ_H

#include <stdint.h>

struct tz;

/*
 * name: NULL, "", "UTC", "Z", "GMT" or "Etc/UTC"; a fixed offset "+02:00",
 * "-0530", "+2" (optionally after "UTC": "UTC+01:00"); or an IANA name such as
 * "America/New_York". NULL if the offset is malformed or the zone unknown or
 * unreadable. Free with tz_free.
 */
struct tz *tz_open(const char *name);
void tz_free(struct tz *);
/* The name it was opened with ("UTC" for NULL or ""). */
const char *tz_name(const struct tz *);

/* Seconds east of UTC at the instant t (seconds since the epoch). */
int32_t tz_offset(const struct tz *, int64_t t);

/*
 * The local day containing the instant now_ms: its first and one-past-last
 * milliseconds (a DST day is 23 or 25 hours long) and its name "YYYY-MM-DD".
 */
void tz_day(const struct tz *, int64_t now_ms, int64_t *start_ms, int64_t *end_ms, char day[16]);

#endif
