/*
 * err.h - the project's error codes.
 *
 * Every fallible function returns int: 0 on success or one of the negative
 * ERR_* codes below. Results travel through out-parameters. Each module that
 * wraps a third-party library translates that library's codes into these once,
 * at the boundary, so callers never see an errno, an MDB_* or a UV_* value.
 */
#ifndef VITRINE_ERR_H
#define VITRINE_ERR_H

#include <stddef.h>

enum {
    ERR_OK = 0,
    ERR_NOMEM = -1,    /* an allocation failed */
    ERR_INVAL = -2,    /* the caller's input is invalid (bad argument, bad JSON shape) */
    ERR_FORMAT = -3,   /* a file or encoded blob is malformed (safetensors, image) */
    ERR_NOTFOUND = -4, /* the named thing does not exist */
    ERR_FULL = -5,     /* a bounded queue or a map is full */
    ERR_BUSY = -6,     /* try again later (shutting down, locked) */
    ERR_TOOLARGE = -7, /* input exceeds a documented limit */
    ERR_IO = -8,       /* an operating-system I/O call failed */
    ERR_STORE = -9,    /* the storage engine failed */
    ERR_EXISTS = -10,  /* the thing to be created already exists */
    ERR_UNSUPPORTED = -11, /* a valid request this build cannot serve (no weights) */
};

/* err_str returns a static, human-readable name for an ERR_* code. */
const char *err_str(int err);

/*
 * err_set formats a message into the caller's buffer err[0..errlen) and
 * returns code, so a failure is one line: return err_set(err, errlen,
 * ERR_INVAL, "...", ...). err may be NULL when the caller wants no text.
 */
int err_set(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
