/*
 * cmds.c: the subcommand table and the dispatch from `sockit ARGS...` to a subcommand,
 * --help and --version (cli.h). main.c is only the process setup around cli_main(), so
 * that the fuzzer (fuzz/fuzz_options.c) can link everything else.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "sockit.h"

int cli_parse_only;

const struct cli_cmd cli_cmds[] = {
    {"serve", cmd_serve, "run a server for a classic service (echo, chargen, ...)",
     "SERVICE [-l ADDR]... [--model MODEL] [--threads N] [-v]\n"
     "       [--message TEXT] [--frame F] [--max-frame N] [--max-output N]\n"
     "       [--max-conns N] [--max-buffered SIZE] [--allow CIDR]... [--deny CIDR]...\n"
     "       [--idle-timeout SEC] [--frame-timeout SEC] [--drain-timeout SEC]\n"
     "       [--keepalive[=IDLE,INTVL,CNT]] [--hex-dump FILE] [--backlog N]\n"
     "       [--udp] [--join GROUP[@IFACE]]... [--ttl N] [--reply-rate RATE[,BURST]]"},
    {"connect", cmd_connect, "connect and copy stdin/stdout to the socket, like nc",
     "[-w SEC] [-q SEC] [-i SEC] [--no-half-close] [-C] [-s ADDR] [-p PORT]\n"
     "       [--keepalive[=IDLE,INTVL,CNT]] [--hex-dump FILE] [--frame F [--max-frame N]]\n"
     "       [-u [--linger SEC] [-b] [--ttl N]] [-v] ADDR | HOST PORT"},
    {"listen", cmd_listen, "accept a client and copy stdin/stdout to it, like nc -l",
     "[-k] [-w SEC] [-q SEC] [-i SEC] [--no-half-close] [-C] [-u]\n"
     "       [--keepalive[=IDLE,INTVL,CNT]] [--hex-dump FILE] [-v] ADDR"},
    {"get", cmd_get, "fetch an http:// URL and write the body to stdout", "[-i] [-v] [-w SEC] URL"},
    {"probe", cmd_probe, "report which TCP ports of a host accept connections, like nc -z",
     "[-w SEC] [-c N] [-s ADDR] [-p PORT] [--open] [-v] HOST PORTS..."},
    {"bench", cmd_bench, "load-test any echo-style server: requests/s, MiB/s, latency",
     "[-c N] [-s BYTES] [-p DEPTH] [-d SEC | -n N] [-r RATE] [--mode M]\n"
     "       [--source ADDR]... [--source-port PORT] [--interval SEC] [--json] ADDR"},
    {"resolve", cmd_resolve, "print every address a name resolves to", "[-4|-6] NAME [SERVICE]"},
    {"hostname", cmd_hostname, "print this host's name and its fully qualified name", ""},
    {NULL, NULL, NULL, NULL},
};

const struct cli_cmd *cli_find(const char *name)
{
    for (const struct cli_cmd *c = cli_cmds; c->name; c++)
        if (strcmp(c->name, name) == 0) return c;
    return NULL;
}

static void help(void)
{
    printf("Usage: sockit COMMAND [OPTIONS] [ARGS]\n\n"
           "sockit %s: a socket toolkit. Classic servers over TCP, UDP and Unix sockets\n"
           "under four concurrency models, a netcat-style client and listener, an HTTP\n"
           "getter, a port prober, and name lookups.\n\nCommands:\n",
           SK_VERSION);
    for (const struct cli_cmd *c = cli_cmds; c->name; c++)
        printf("  %-10s %s\n", c->name, c->summary);
    printf("\nAddresses (ADDR):\n"
           "  PORT            localhost:PORT (every address localhost has)\n"
           "  HOST:PORT       a host name or IPv4 address; PORT may be a service name\n"
           "  [IPV6]:PORT     an IPv6 address, e.g. [::1]:5000\n"
           "  :PORT           every interface (when listening)\n"
           "  unix:/PATH      a Unix domain socket; unix:@NAME for an abstract one\n"
           "\nExit status: 0 success, 1 runtime error, 2 usage error.\n"
           "Run 'sockit COMMAND --help' (or 'sockit help COMMAND') for a command's options.\n");
}

int cli_main(int argc, char **argv)
{
    if (argc < 2) return cli_usage(NULL, "missing command");
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        if (argc > 2 && strcmp(cmd, "help") == 0) { /* sockit help NAME */
            const struct cli_cmd *c = cli_find(argv[2]);
            if (!c) return cli_usage(NULL, "unknown command '%s'", argv[2]);
            if (argc > 3) return cli_usage(NULL, "unexpected argument '%s'", argv[3]);
            char *sub[] = {argv[2], "--help", NULL};
            return c->run(2, sub);
        }
        help();
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("sockit %s\n", sk_version());
        return 0;
    }
    const struct cli_cmd *c = cli_find(cmd);
    if (!c) {
        if (cmd[0] == '-') return cli_usage(NULL, "unknown option '%s'", cmd);
        return cli_usage(NULL, "unknown command '%s'", cmd);
    }
    return c->run(argc - 1, argv + 1);
}
