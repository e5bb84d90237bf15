/*
 * upper_server.c: a service of your own, run by libsockit's server (docs/architecture.md).
 *
 * Every line a client sends comes back in capitals (ASCII letters only; other bytes are
 * left alone). The service is one on_data handler; SK_SERVICE_LINES makes the session
 * split the input into whole lines, so the handler never sees half a line. The server
 * runs it under the model named on the command line, with no change to the handler.
 *
 * Usage: upper_server [ADDR] [loop|thread|fork|iterative]   (127.0.0.1:5000, loop)
 * Prints "Listening on ADDR" on stderr ("127.0.0.1:0" picks a free port); SIGTERM or
 * Ctrl-C stops it.
 */
#include <signal.h>
#include <stdio.h>

#include "sockit.h"

static sk_server_t *server;

/* One whole line, without its "\n": send it back upper-cased, then the "\n". */
static int upper_line(sk_session_t *s, const void *data, size_t len)
{
    const unsigned char *p = data;
    char out[4096];
    while (len > 0) {
        size_t n = len < sizeof out ? len : sizeof out;
        for (size_t i = 0; i < n; i++)
            out[i] = (char)(p[i] >= 'a' && p[i] <= 'z' ? p[i] - 'a' + 'A' : p[i]);
        int r = sk_session_write(s, out, n);
        if (r < 0) return r; /* the connection is broken: the model drops it */
        p += n;
        len -= n;
    }
    return sk_session_write(s, "\n", 1);
}

static const sk_service_t upper_service = {
    .name = "upper",
    .summary = "every line back in capitals",
    .on_data = upper_line,
    .flags = SK_SERVICE_LINES, /* lines in (at most 64 KiB each), bytes out as written */
};

static void log_stderr(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "%s\n", line); /* "Connection received on ...", "Closed ..." */
}

static void on_stop(int sig)
{
    (void)sig;
    sk_server_stop(server); /* async-signal-safe */
}

int main(int argc, char **argv)
{
    const char *address = argc > 1 ? argv[1] : "127.0.0.1:5000";
    sk_server_opts_t o = {
        .service = &upper_service,
        .model = SK_MODEL_LOOP,
        .drain_timeout = -1, /* on a stop, open clients get the default 10 s to finish */
        .log = log_stderr,
    };
    if (argc > 3 || (argc > 2 && sk_model_parse(argv[2], &o.model) < 0)) {
        fprintf(stderr, "usage: upper_server [ADDR] [loop|thread|fork|iterative]\n");
        return 2;
    }
    char err[SK_ERRLEN], as[SK_ADDRSTRLEN];
    int r = sk_server_new(&server, &o);
    if (r < 0) {
        fprintf(stderr, "upper_server: %s\n", sk_strerror(r));
        return 1;
    }
    signal(SIGTERM, on_stop);
    signal(SIGINT, on_stop);
    if (sk_server_listen(server, address, err) < 0) {
        fprintf(stderr, "upper_server: %s\n", err);
        sk_server_free(server);
        return 1;
    }
    for (size_t i = 0; i < sk_server_listener_count(server); i++) {
        sk_addr_t a;
        if (sk_server_listener_addr(server, i, &a) == 0)
            fprintf(stderr, "Listening on %s\n", sk_addr_str(&a, as));
    }
    r = sk_server_run(server); /* blocks until on_stop() */
    sk_server_free(server);
    return r < 0 ? 1 : 0;
}
