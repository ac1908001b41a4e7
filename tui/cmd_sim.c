/* cmd_sim.c: placeholder, being written. */
#include <stdio.h>

#include "main.h"

int
cmd_sim_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "llmdeck sim: not built yet\n");
	return EXIT_USAGE;
}
