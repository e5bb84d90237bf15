/* resolve.c: `sockit resolve` (every address getaddrinfo returns) and `sockit hostname`. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "cli.h"
#include "sockit.h"

static const char *family_name(int family)
{
    switch (family) {
    case AF_INET:
        return "inet";
    case AF_INET6:
        return "inet6";
    case AF_UNIX:
        return "unix";
    }
    return "other";
}

static const char *type_name(int type)
{
    switch (type) {
    case SOCK_STREAM:
        return "stream";
    case SOCK_DGRAM:
        return "dgram";
    case SOCK_RAW:
        return "raw";
    case SOCK_SEQPACKET:
        return "seqpacket";
    }
    return "other";
}

static void resolve_help(void)
{
    printf("Usage: sockit resolve [-4|-6] NAME [SERVICE]\n\n"
           "Print every address getaddrinfo(3) returns for NAME, one per line: the family\n"
           "(inet, inet6), the socket type (stream, dgram, raw) and the address, with the\n"
           "port when SERVICE (a number or a name such as http) is given. A service name\n"
           "gives only the socket types /etc/services lists it for (on Debian 12, http is\n"
           "tcp only); a number, or no SERVICE, gives every type.\n\n"
           "Options:\n"
           "  -4           IPv4 addresses only\n"
           "  -6           IPv6 addresses only (not with -4: leave both out for both)\n"
           "  -h, --help   show this help\n\n"
           "Examples:\n"
           "  $ sockit resolve -4 localhost http\n"
           "  inet    stream  127.0.0.1:80\n"
           "  $ sockit resolve -4 localhost 80\n"
           "  inet    stream  127.0.0.1:80\n"
           "  inet    dgram   127.0.0.1:80\n"
           "  inet    raw     127.0.0.1:80\n");
}

int cmd_resolve(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int only = AF_UNSPEC, want4 = 0, want6 = 0;
    cli_getopt_reset();
    int c;
    while ((c = getopt_long(argc, argv, ":46h", longopts, NULL)) != -1) {
        switch (c) {
        case '4':
            only = AF_INET;
            want4 = 1;
            break;
        case '6':
            only = AF_INET6;
            want6 = 1;
            break;
        case 'h':
            resolve_help();
            return 0;
        default:
            return cli_bad_option("resolve", c, argv);
        }
    }
    if (want4 && want6)
        return cli_usage("resolve", "-4 and -6 exclude each other (without either, both "
                                    "families are shown)");
    int nargs = argc - optind;
    if (nargs < 1)
        return cli_usage("resolve", "missing NAME");
    if (nargs > 2)
        return cli_usage("resolve", "unexpected argument '%s'", argv[optind + 2]);
    const char *service = nargs == 2 ? argv[optind + 1] : NULL;

    /* Validate first for a precise message; then ask getaddrinfo with the service as
     * given, so a name like "http" keeps its meaning (stream only). */
    sk_endpoint_t ep;
    char err[SK_ERRLEN];
    int r = sk_endpoint_from_hostport(&ep, argv[optind], service ? service : "0", err);
    if (r < 0) {
        cli_error("%s", err);
        return EXIT_USAGE;
    }
    if (cli_parse_only) return 0;
    sk_addrlist_t list;
    r = sk_getaddrinfo(&list, ep.host, service, only, 0, 0, err);
    if (r < 0) {
        cli_error("%s", err);
        return 1;
    }
    size_t shown = 0;
    for (size_t i = 0; i < list.n; i++) {
        const sk_resolved_t *ra = &list.v[i];
        int fam = sk_addr_family(&ra->addr);
        char as[SK_ADDRSTRLEN];
        if (service)
            sk_addr_format(&ra->addr, as, sizeof as);
        else
            sk_addr_host(&ra->addr, as, sizeof as);
        printf("%-7s %-7s %s\n", family_name(fam), type_name(ra->socktype), as);
        shown++;
    }
    sk_addrlist_free(&list);
    return shown ? 0 : 1;
}

int cmd_hostname(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        printf("Usage: sockit hostname\n\n"
               "Print this host's name (gethostname(2), as Python's socket.gethostname())\n"
               "on the first line and its fully qualified name on the second: the\n"
               "resolver's canonical name for it, as `hostname -f` prints, or a reverse\n"
               "name with a dot in it, or the host name itself. (Python's getfqdn() looks\n"
               "only at the reverse name, and answers 'localhost' for a host name that\n"
               "/etc/hosts maps to 127.0.0.1.)\n");
        return 0;
    }
    if (argc > 1) {
        if (argv[1][0] == '-')
            return cli_usage("hostname", "unknown option '%s'", argv[1]);
        return cli_usage("hostname", "unexpected argument '%s'", argv[1]);
    }
    if (cli_parse_only) return 0;
    char name[256], fqdn[256];
    int r = sk_gethostname(name, sizeof name);
    if (r < 0) {
        cli_error("gethostname: %s", sk_strerror(r));
        return 1;
    }
    sk_getfqdn(name, fqdn, sizeof fqdn);
    printf("%s\n%s\n", name, fqdn);
    return 0;
}
