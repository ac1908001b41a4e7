/* util.h: allocation that aborts on failure, growable buffers, clocks. */
#ifndef LLMDECK_UTIL_H
#define LLMDECK_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define UNUSED __attribute__((unused))
#define PRINTFLIKE(a, b) __attribute__((format(printf, a, b)))
#define nitems(a) (sizeof(a) / sizeof((a)[0]))

/* Allocation failure is not recoverable: these print and abort. */
void *xmalloc(size_t);
void *xcalloc(size_t, size_t);
void *xrealloc(void *, size_t);
void *xreallocarray(void *, size_t, size_t);
char *xstrdup(const char *);
char *xstrndup(const char *, size_t);
char *xasprintf(const char *, ...) PRINTFLIKE(1, 2);
char *xvasprintf(const char *, va_list);
void fatal(const char *, ...) PRINTFLIKE(1, 2) __attribute__((noreturn));

/* Copy src into dst of size n, always terminated; returns strlen(src). */
size_t strlcpy_(char *dst, const char *src, size_t n);

/*
 * All of s as a finite number in lo..hi (no leading blanks, nothing after) into
 * *out: 0, or -1 if it is not one. The caller says what was wrong, in its words.
 */
int parse_double(const char *s, double lo, double hi, double *out);
int parse_long(const char *s, long lo, long hi, long *out);

/*
 * "HOST:PORT" or "[V6]:PORT" split into host (hostlen bytes with the NUL) and
 * *port (0..65535); the host is not resolved. 0, or what was wrong with it:
 */
#define HOSTPORT_SYNTAX (-1) /* no colon, or no "]:" after "[" */
#define HOSTPORT_HOST (-2)   /* empty, or longer than hostlen */
#define HOSTPORT_PORT (-3)   /* not a number in 0..65535 */
int hostport_parse(const char *s, char *host, size_t hostlen, int *port);

/*
 * A whole file into memory, NUL-terminated (*len without it), at most max
 * bytes. NULL with *cause ("PATH: cannot open: ...", "PATH: file is larger
 * than N bytes", "PATH: cannot read: ...") on failure. Caller frees.
 */
char *read_file(const char *path, size_t max, size_t *len, char **cause);

/*
 * Remove what looks like a key from a message, in place: "sk-..." and "sk_..."
 * (sk-***), "Bearer T" (Bearer ***), Google's "AIza..." (AIza***), and any word
 * a provider masked ("sk-o****5678", "AKIA****WXYZ": ***). Upstream error texts
 * pass here before a client or an event sees them. Returns how many.
 */
size_t str_scrub_keys(char *s);

/* Make a message one printable line: control bytes become spaces. Returns s. */
char *str_oneline(char *s);

/* A growable byte buffer; data is always NUL-terminated. */
struct buf {
	char *data;
	size_t len;
	size_t cap;
};
void buf_init(struct buf *);
void buf_free(struct buf *);
void buf_reset(struct buf *);
void buf_append(struct buf *, const void *, size_t);
void buf_puts(struct buf *, const char *);
void buf_printf(struct buf *, const char *, ...) PRINTFLIKE(2, 3);
/* Hand the contents over to the caller (who frees) and reset the buffer. */
char *buf_detach(struct buf *);

/* Monotonic time in microseconds and milliseconds; wall time in ms since the epoch. */
uint64_t clock_mono_us(void);
uint64_t clock_mono_ms(void);
int64_t clock_wall_ms(void);

/* A splitmix64/xoshiro256** generator: seeded, deterministic, not shared. */
struct rng {
	uint64_t s[4];
};
void rng_seed(struct rng *, uint64_t seed);
uint64_t rng_next(struct rng *);
/* Uniform double in [0, 1). */
double rng_double(struct rng *);

/* RLIMIT_NOFILE's soft limit, or -1. Raising it is the command's business, not the
 * library's (tui/llmdeck.c's llmdeck_raise_fd_limit, the tests' testkit_raise_fd_limit). */
long fd_limit(void);

#endif
