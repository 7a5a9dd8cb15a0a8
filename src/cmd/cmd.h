/*
 * cmd.h - the subcommands of the vitrine command line (main.c's table).
 *
 * Each subcommand is a function `int cmd_x(int argc, char **argv)` whose
 * argv[0] is the subcommand name; it returns the process exit status
 * (0 success, 1 failure, 2 usage error).
 */
#ifndef VITRINE_CMD_H
#define VITRINE_CMD_H

int cmd_serve(int argc, char **argv);       /* src/cmd/serve.c */
int cmd_embed(int argc, char **argv);       /* src/cmd/embed.c */
int cmd_bench(int argc, char **argv);       /* src/cmd/bench.c: dispatches ann / embed */
int cmd_bench_embed(int argc, char **argv); /* src/cmd/embed.c */
int cmd_bench_ann(int argc, char **argv);   /* src/cmd/bench_ann.c */

#endif
