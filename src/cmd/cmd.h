/*
 * cmd.h - the subcommands of the vitrine command line (main.c's table).
 *
 * Each subcommand is a function `int cmd_x(int argc, char **argv)` whose
 * argv[0] is the subcommand name; it returns the process exit status
 * (0 success, 1 failure, 2 usage error).
 */
#ifndef VITRINE_CMD_H
#define VITRINE_CMD_H

#include <stddef.h>

#include "server/server.h"

int cmd_serve(int argc, char **argv);       /* src/cmd/serve.c */
int cmd_embed(int argc, char **argv);       /* src/cmd/embed.c */
int cmd_bench(int argc, char **argv);       /* src/cmd/bench.c: dispatches ann / embed */
int cmd_bench_embed(int argc, char **argv); /* src/cmd/embed.c */
int cmd_bench_ann(int argc, char **argv);   /* src/cmd/bench_ann.c */
int cmd_index(int argc, char **argv);       /* src/cmd/index.c */
int cmd_search(int argc, char **argv);      /* src/cmd/search.c */
int cmd_classify(int argc, char **argv);    /* src/cmd/search.c */
int cmd_export(int argc, char **argv);      /* src/cmd/export.c */

/* serve_module_list: the API modules `serve` runs (the in-process server
 * of the client commands runs the same), NULL-terminated; *n their count. */
const ServerModule *const *serve_module_list(size_t *n);
/* mkdir_p creates dir and its missing parents (blocking; start-up only). */
int mkdir_p(const char *dir);

#endif
