/*
 * bench_gateway.c: `make bench` runs tests/bench_gateway.sh, which drives wrk
 * against a direct sim, llmdeck serve and the Portkey gateway on the same sim,
 * then holds ~10,000 slow requests in flight. It prints numbers only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

int
main(void)
{
	int rc = system("sh tests/bench_gateway.sh");

	return WIFEXITED(rc) ? WEXITSTATUS(rc) : 1;
}
