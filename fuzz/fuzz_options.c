/*
 * fuzz_options.c: a libFuzzer target for the sockit command line: the dispatch in
 * cli_main() and every subcommand's option and argument parsing (sizes, durations, port
 * lists, framings, CIDR rules, addresses, get's URL), run with cli_parse_only set, so
 * each command returns once its arguments are checked (cli/cli.h).
 *
 * Input layout: the arguments after "sockit", separated by NUL bytes (at most ARGS_MAX;
 * a trailing NUL ends the last one, it does not add an empty one). A first argument of
 * exactly one byte from 0x01 to 0x1f names the subcommand cli_cmds[(byte - 1) % count]
 * (0x01 serve, 0x02 connect, ... in the table's order); any other first argument is
 * passed as it is ("--help", "help", "--version", an unknown word, "").
 *
 * Invariants, any failure abort()s: the status is 0 or EXIT_USAGE; no descriptor is left
 * open, no SIGINT/SIGTERM/SIGUSR1 handler installed and the signal mask is unchanged
 * (nothing past parsing ran); no leak, crash or undefined behaviour (the sanitizers);
 * nothing calls exit(). What the commands print goes to /dev/null (stdout and stderr are
 * swapped for it during the call only, so the fuzzer's and the driver's own output stay).
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "cli.h"

#include "fuzz.h"

#define ARGS_MAX 64
#define INPUT_MAX 8192

/* The lowest free descriptor number: it grows when a descriptor is left open. */
static int lowest_free_fd(void)
{
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    close(fd);
    return fd;
}

/* What the process looks like from outside: handlers of the signals commands catch, and
 * the mask. */
struct proc_state {
    int fd;
    void (*handler[3])(int);
    sigset_t mask;
};

static void snapshot(struct proc_state *s)
{
    static const int sigs[3] = {SIGINT, SIGTERM, SIGUSR1};
    memset(s, 0, sizeof *s);
    s->fd = lowest_free_fd();
    for (int i = 0; i < 3; i++) {
        struct sigaction sa;
        CHECK(sigaction(sigs[i], NULL, &sa) == 0);
        s->handler[i] = sa.sa_handler;
    }
    CHECK(sigprocmask(SIG_BLOCK, NULL, &s->mask) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *devnull;
    if (size > INPUT_MAX) return 0;
    if (!devnull) {
        devnull = fopen("/dev/null", "w");
        CHECK(devnull != NULL);
    }
    size_t ncmds = 0;
    while (cli_cmds[ncmds].name)
        ncmds++;

    /* Private copies: the strings as a shell would hand them over, writable. */
    char *buf = malloc(size + 1);
    CHECK(buf != NULL);
    memcpy(buf, data, size);
    buf[size] = '\0';
    char prog[] = "sockit", name[32];
    char *argv[ARGS_MAX + 2];
    int argc = 0;
    argv[argc++] = prog;
    for (size_t i = 0; i < size && argc <= ARGS_MAX;) {
        char *arg = buf + i;
        size_t n = strlen(arg);
        if (argc == 1 && n == 1 && (unsigned char)arg[0] < 0x20) {
            snprintf(name, sizeof name, "%s", cli_cmds[((unsigned char)arg[0] - 1) % ncmds].name);
            arg = name;
        }
        argv[argc++] = arg;
        i += n + 1;
    }
    argv[argc] = NULL;

    struct proc_state before, after;
    snapshot(&before);
    FILE *out = stdout, *err = stderr;
    stdout = stderr = devnull;
    cli_parse_only = 1;
    int rc = cli_main(argc, argv);
    stdout = out;
    stderr = err;
    snapshot(&after);
    CHECK(rc == 0 || rc == EXIT_USAGE);
    CHECK(before.fd == after.fd);
    CHECK(memcmp(before.handler, after.handler, sizeof before.handler) == 0);
    CHECK(memcmp(&before.mask, &after.mask, sizeof before.mask) == 0);
    free(buf);
    return 0;
}
