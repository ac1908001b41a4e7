/*
 * sim_cache.c: the simulated providers' prompt cache: the hashes of prefixes a
 * sim has seen, so that a repeated prefix reads where the first one wrote
 * (Anthropic's cache_control breakpoints, OpenAI's automatic 1024-token
 * prefixes). A direct-mapped table: a collision forgets the older prefix, as a
 * real cache evicts; shared by a sim's threads under its own lock.
 */
#include "sim/sim_gen.h"

#include <pthread.h>
#include <stdlib.h>

#include "util/util.h"

#define SIM_CACHE_SLOTS 16384

struct sim_cache {
	pthread_mutex_t lock;
	uint64_t slot[SIM_CACHE_SLOTS];
};

struct sim_cache *
sim_cache_new(void)
{
	struct sim_cache *c = xcalloc(1, sizeof *c);

	pthread_mutex_init(&c->lock, NULL);
	return c;
}

void
sim_cache_free(struct sim_cache *c)
{
	if (c == NULL)
		return;
	pthread_mutex_destroy(&c->lock);
	free(c);
}

int
sim_cache_seen(struct sim_cache *c, uint64_t hash, int remember)
{
	uint64_t *s;
	int seen;

	if (c == NULL)
		return 0;
	hash |= 1; /* 0 marks an empty slot */
	pthread_mutex_lock(&c->lock);
	s = &c->slot[hash % SIM_CACHE_SLOTS];
	seen = *s == hash;
	if (remember)
		*s = hash;
	pthread_mutex_unlock(&c->lock);
	return seen;
}
