#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>

const char *err_str(int err)
{
    switch (err) {
    case ERR_OK: return "ok";
    case ERR_NOMEM: return "out of memory";
    case ERR_INVAL: return "invalid argument";
    case ERR_FORMAT: return "malformed data";
    case ERR_NOTFOUND: return "not found";
    case ERR_FULL: return "full";
    case ERR_BUSY: return "busy";
    case ERR_TOOLARGE: return "too large";
    case ERR_IO: return "i/o error";
    case ERR_STORE: return "storage error";
    case ERR_EXISTS: return "already exists";
    case ERR_UNSUPPORTED: return "unsupported";
    default: return "unknown error";
    }
}

int err_set(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}
