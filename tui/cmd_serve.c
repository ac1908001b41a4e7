/* cmd_serve.c: placeholder, being written. */
#include <stdio.h>

#include "main.h"

int
cmd_serve_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "llmdeck serve: not built yet\n");
	return EXIT_USAGE;
}
