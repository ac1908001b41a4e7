/*
 * store_pg.c: the PostgreSQL backend (a postgres:// URL), shared by a fleet
 * of gateways across hosts. Not wired yet: opening refuses.
 */
#include <stdlib.h>

#include "store/store_priv.h"
#include "util/util.h"

static int
pg_open(struct store *s, const char *where, char **cause)
{
	(void)where;
	*cause = xasprintf("store: %s: PostgreSQL is not supported by this build", store_where(s));
	return -1;
}

static void
pg_close(struct store *s)
{
	(void)s;
}

const struct store_backend store_pg_backend = {
    .name = "postgres",
    .open = pg_open,
    .close = pg_close,
};
