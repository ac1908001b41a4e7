/*
 * replay.c: runs a harness without libFuzzer, for `make test` (and so under
 * `make asan` and `make tsan`). Linked as replay_NAME with fuzz_NAME.c, it
 * feeds every file of tests/fuzz/corpus/NAME and tests/fuzz/regress/NAME
 * ($LLMDECK_FUZZ_DIR overrides tests/fuzz) to LLVMFuzzerTestOneInput, or the
 * files named on the command line. The corpus must not be empty; a regress
 * file named *.reject must be refused by the parser and *.accept taken.
 * With $FUZZ_VERBOSE set, each file's verdict is printed.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "util/util.h"

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static uint8_t *
read_all(const char *path, size_t *len)
{
	struct buf b;
	char chunk[8192];
	size_t n;
	FILE *f;

	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	buf_init(&b);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_append(&b, chunk, n);
	if (ferror(f)) {
		fprintf(stderr, "replay: %s: read error\n", path);
		exit(1);
	}
	fclose(f);
	*len = b.len;
	if (b.data == NULL)
		buf_puts(&b, "");
	return (uint8_t *)buf_detach(&b);
}

/* One input through the harness; a verdict the file's name asks for is checked. */
static void
replay_file(const char *path)
{
	size_t len;
	uint8_t *data = read_all(path, &len);
	/* An exact-size copy, so ASan sees a read past the input's end. */
	uint8_t *exact = xmalloc(len > 0 ? len : 1);

	memcpy(exact, data, len);
	free(data);
	fuzz_refused = -1;
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	if (getenv("FUZZ_VERBOSE") != NULL)
		printf("%s: %s\n", path, fuzz_refused == 1 ? "refused" : "taken");
	if (fuzz_refused != 0 && fuzz_refused != 1) {
		fprintf(stderr, "replay: %s: the harness gave no verdict\n", path);
		exit(1);
	}
	if (ends_with(path, ".reject") && fuzz_refused != 1) {
		fprintf(stderr, "replay: %s: taken, but it must be refused\n", path);
		exit(1);
	}
	if (ends_with(path, ".accept") && fuzz_refused != 0) {
		fprintf(stderr, "replay: %s: refused, but it must be taken\n", path);
		exit(1);
	}
}

static int
skip_dot(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* Every file of dir, in name order; -1 if dir does not exist. */
static int
replay_dir(const char *dir)
{
	struct dirent **names;
	int n;

	if ((n = scandir(dir, &names, skip_dot, alphasort)) < 0) {
		if (errno == ENOENT)
			return -1;
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		exit(1);
	}
	for (int i = 0; i < n; i++) {
		char *path = xasprintf("%s/%s", dir, names[i]->d_name);

		replay_file(path);
		free(path);
		free(names[i]);
	}
	free(names);
	return n;
}

int
main(int argc, char **argv)
{
	const char *base = strrchr(argv[0], '/'), *name, *top = getenv("LLMDECK_FUZZ_DIR");
	char *corpus, *regress;
	int nc, nr;

	base = base != NULL ? base + 1 : argv[0];
	name = strncmp(base, "replay_", 7) == 0 ? base + 7 : base;
	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			replay_file(argv[i]);
		printf("replay %s: %d files\n", name, argc - 1);
		return 0;
	}
	if (top == NULL || *top == '\0')
		top = "tests/fuzz";
	corpus = xasprintf("%s/corpus/%s", top, name);
	regress = xasprintf("%s/regress/%s", top, name);
	if ((nc = replay_dir(corpus)) <= 0) {
		fprintf(stderr, "replay: %s: no seed inputs\n", corpus);
		return 1;
	}
	nr = replay_dir(regress);
	printf("replay %s: %d corpus inputs, %d regression inputs\n", name, nc, nr < 0 ? 0 : nr);
	free(corpus);
	free(regress);
	return 0;
}
