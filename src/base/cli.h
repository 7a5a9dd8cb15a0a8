/*
 * cli.h - command-line helpers shared by the subcommands (src/cmd/).
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

#endif
