/* cmd_status.c: placeholder, being written. */
#include <stdio.h>

#include "main.h"

int
cmd_status_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "llmdeck status: not built yet\n");
	return EXIT_USAGE;
}
