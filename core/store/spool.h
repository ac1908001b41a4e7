/*
 * spool.h: the ledger's spool: rows whose transaction could not commit (disk
 * full, a lock held past the busy timeout, the database file deleted), kept
 * in a local file next to the database until the writer can replay them.
 *
 * One text line per row, appended and fsynced before the row's request may
 * be answered (spool.c gives the format). Each record carries the row's uid,
 * the ledger's unique key: a replay inserts with INSERT OR IGNORE, so a row
 * replayed twice (a crash between the replay's COMMIT and the spool's
 * truncation) is one row. Bounded: an append that would take it past
 * max_rows is refused, and the gateway stops admitting paid requests.
 *
 * Only the store's writer thread calls these (store_open before it starts).
 */
#ifndef LLMDECK_SPOOL_H
#define LLMDECK_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "store/ledger.h"

/* The default bound ("ledger": {"spool_max_rows": N}). */
#define SPOOL_DEFAULT_MAX_ROWS 10000
/* Bytes set aside per row when the file is preallocated (a record is shorter). */
#define SPOOL_RECORD_RESERVE 768

struct spool;

/* A spooled row: the ledger row, its uid and the reservation it settles. */
struct spool_rec {
	char uid[40];
	int64_t reservation_id;
	struct ledger_row row;
};

/*
 * Open (creating, mode 0600) the spool at path, lock it (flock: one process
 * per spool file; each process sharing a database has its own), and count
 * the records it holds; a torn last line (a crash mid-append) is cut off.
 * Preallocates room for max_rows records where the filesystem allows, so a
 * full disk still takes them. NULL with *busy set if another open spool holds
 * the file, else with *cause set on failure.
 */
struct spool *spool_open(const char *path, int64_t max_rows, int *busy, char **cause);
void spool_close(struct spool *);
const char *spool_path(const struct spool *);
/* Records in the file. */
int64_t spool_rows(const struct spool *);
int64_t spool_max(const struct spool *);
/* max_rows <= 0: SPOOL_DEFAULT_MAX_ROWS. */
void spool_set_max(struct spool *, int64_t max_rows);
/*
 * Append the first of n records that fit under max_rows and fsync: how many
 * are on disk (0 if the spool is full), or -1 with *cause on an I/O error (the
 * file is cut back to what it held).
 */
int spool_append(struct spool *, const struct spool_rec *, int n, char **cause);
/* Every record, oldest first, into *out (caller frees): the count, or -1 with *cause. */
int64_t spool_read(struct spool *, struct spool_rec **out, char **cause);
/* After a replay committed: empty the file (and set its room aside again). 0 or -1. */
int spool_clear(struct spool *, char **cause);

#endif
