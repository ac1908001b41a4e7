/* cmd_ask.c: placeholder, being written. */
#include <stdio.h>

#include "main.h"

int
cmd_ask_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "llmdeck ask: not built yet\n");
	return EXIT_USAGE;
}
