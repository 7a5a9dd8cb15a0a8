/*
 * cli.h - command-line helpers shared by the subcommands in main.c.
 *
 * Each subcommand is a function `int cmd_x(int argc, char **argv)` whose
 * argv[0] is the subcommand name; it returns the process exit status
 * (0 success, 1 failure, 2 usage error).
 */
#ifndef VITRINE_CLI_H
#define VITRINE_CLI_H

#define VITRINE_VERSION "0.1.0"

/*
 * cli_take_value recognises argv[*i] as `name VALUE` or `name=VALUE`. It
 * returns 1 and sets *value (advancing *i past a separate value), 0 when
 * argv[*i] is another option, and -1 (after printing a message) when the
 * value is missing.
 */
int cli_take_value(int argc, char **argv, int *i, const char *name, const char **value);

/* The subcommands. Each is defined in the file named beside it. */
int cmd_serve(int argc, char **argv);       /* src/server.c */
int cmd_embed(int argc, char **argv);       /* src/cmd_embed.c */
int cmd_bench(int argc, char **argv);       /* src/cmd_bench.c: dispatches ann / embed */
int cmd_bench_embed(int argc, char **argv); /* src/cmd_embed.c */
int cmd_bench_ann(int argc, char **argv);   /* src/cmd_bench_ann.c */

#endif
