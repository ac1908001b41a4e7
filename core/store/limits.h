/*
 * limits.h: per-provider RPM/TPM allowances shared by every process on the
 * database (a fleet on PostgreSQL, processes on one SQLite file).
 *
 * Each calendar minute of the store's clock (floor(ms / 60000)) a provider has
 * `limit` requests (kind "rpm") or tokens ("tpm") for the whole fleet, counted
 * in one row per (provider, kind, minute). A process takes a lease of them (a
 * slice, in one transaction: never more than the minute has left, so the
 * fleet's admitted total per minute never exceeds the limit) and spends it in
 * memory without a round trip (router/ratelimit.h's rate_lease); its router's
 * worker refills it ahead of need. What a lease does not use expires with its
 * minute (or is given back); a process that dies loses at most its slice for
 * one minute. Slices are sized from the live instances in the registry, so
 * no instance starves while another hoards the minute.
 */
#ifndef LLMDECK_LIMITS_H
#define LLMDECK_LIMITS_H

#include <stdint.h>

struct store;

/*
 * Take up to want of provider's kind ("rpm" or "tpm") for minute, whose
 * allowance is limit: *granted is what was taken (0 when the minute is spent).
 * want < 0 gives -want back to the minute. 0, or -1 with *cause (the store
 * unreachable: nothing granted).
 */
int limits_take(struct store *, const char *provider, const char *kind, int64_t minute,
    double limit, double want, double *granted, char **cause);

/* The live instances in the registry, at least 1 (this one, registered or not). */
int limits_live_instances(struct store *);

/* One lease's size: limit shared by live instances, LIMITS_SLICES refills each a
 * minute, at least 1 (a request). */
#define LIMITS_SLICES 4
double limits_slice(double limit, int live);

#endif
