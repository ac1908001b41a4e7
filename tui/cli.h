/* cli.h: what the subcommands share when reading their command lines. */
#ifndef LLMDECK_CLI_H
#define LLMDECK_CLI_H

/* All of s as a number in lo..hi into *out; 0, or -1 if it is not one (the
 * caller says so, in its own words). */
int cli_parse_double(const char *s, double lo, double hi, double *out);
int cli_parse_long(const char *s, long lo, long hi, long *out);

#endif
