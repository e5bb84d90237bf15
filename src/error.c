/* error.c: sk_strerror() for the three ranges of sockit/error.h. */
#include <netdb.h>
#include <string.h>

#include "sockit.h"

const char *sk_version(void)
{
    return SK_VERSION;
}

const char *sk_strerror(int code)
{
    if (code == 0)
        return "Success";
    if (code > 0)
        return "Unknown error (positive code)";
    if (SK_IS_EAI(code))
        return gai_strerror(code - SK_EAI_BASE);
    switch (code) {
    case SK_EBADADDR:
        return "Invalid address";
    case SK_EBADPORT:
        return "Invalid port";
    case SK_EEOF:
        return "Connection closed by peer before the expected data";
    case SK_ETOOBIG:
        return "Buffer or frame exceeds its maximum size";
    case SK_ENOADDR:
        return "No usable address";
    case SK_EBADARG:
        return "Invalid argument";
    case SK_EPROTO:
        return "Protocol error";
    }
    if (code >= -4095) {
        /* strerrordesc_np() is glibc's thread-safe, locale-free strerror(). */
        const char *s = strerrordesc_np(-code);
        if (s)
            return s;
    }
    return "Unknown error";
}
