/*
 * config_priv.h: what the config files share among themselves (config.c the
 * model, config_file.c the JSON file, config_env.c the environment,
 * config_check.c the checks). Nothing outside core/config includes it.
 */
#ifndef LLMDECK_CONFIG_PRIV_H
#define LLMDECK_CONFIG_PRIV_H

#include <stddef.h>

#include "config/config.h"
#include "util/util.h"

#define CONFIG_PATH_LEN 512
#define CONFIG_MAX_SECONDS 86400.0
#define SRC_UNPRICED "unpriced (no price configured)"

#define CONFIG_N_KINDS (PROVIDER_AZURE + 1)
#define CONFIG_N_FLAVORS (FLAVOR_OLLAMA + 1)
#define CONFIG_N_TIERS 4

/* Names as written in the file, indexed by the enums; config_file.c's tier key names,
 * in the order of struct budget_conf's tier fields. */
extern const char *const config_kind_names[CONFIG_N_KINDS];
extern const char *const config_flavor_names[CONFIG_N_FLAVORS];
extern const char *const config_tier_keys[CONFIG_N_TIERS];

/* config.c: strings, string vectors and the model's parts. */
char *config_dupnull(const char *);
void config_replace_str(char **dst, const char *);
void config_strv_free(char **, size_t);
void config_strv_push(char ***, size_t *, const char *);
void config_provider_init(struct provider_conf *, enum provider_kind);
void config_provider_free(struct provider_conf *);
void config_model_free(struct model_conf *);
void config_model_copy(struct model_conf *dst, const struct model_conf *src);
void config_route_free(struct route_conf *);
void config_ladder_free(struct budget_conf *);
void config_ladder_push(struct budget_conf *, const char *from, const char *to);
struct provider_conf *config_provider_find(struct config *, const char *name);
struct model_conf *config_model_find(struct config *, const char *alias);
struct route_conf *config_route_find(struct config *, const char *name);
/* Takes ownership of *pc (which is cleared). */
struct provider_conf *config_provider_append(struct config *, struct provider_conf *pc);
/* Takes ownership of *r (which is cleared); a route of the same name is replaced. */
void config_route_set(struct config *, struct route_conf *r);

/* config_check.c: what values may be. */
const char *config_suggest(const char *word, const char *const *cands, size_t n, int loose);
int config_looks_like_key(const char *);
int config_is_secret_name(const char *);
int config_is_env_name(const char *);
int config_is_keep_alive(const char *);
int config_is_plain_name(const char *);
int config_is_alias(const char *);

/* config_file.c: an error message naming the origin and the key path. */
struct config_parse {
	const char *origin;
	char **cause;
};
int
config_parse_error(struct config_parse *, const char *path, const char *fmt, ...) PRINTFLIKE(3, 4);
/* Strips trailing slashes; refuses anything but an http(s) URL with a host. */
int config_check_url(struct config_parse *, const char *path, char *url);

#endif
