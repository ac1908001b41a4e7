/* console_stub.c: placeholder until the console lands (issue 4). */
#include <stdio.h>

#include "main.h"

int
cmd_console_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "llmdeck: the console is not built yet; try 'llmdeck ask --help'\n");
	return EXIT_USAGE;
}
