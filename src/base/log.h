/*
 * log.h - one line per event on stderr, with a level and a UTC timestamp.
 *
 * Log once, where an error is born, with its context (path, id, library
 * message). The level threshold comes from VITRINE_LOG (debug, info, warn,
 * error); the default is info. Logging is thread-safe: each line is formatted
 * into a local buffer and written with one write(2).
 */
#ifndef VITRINE_LOG_H
#define VITRINE_LOG_H

enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

void log_set_level(int level);
int log_get_level(void);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
