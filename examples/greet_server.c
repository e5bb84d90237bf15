/*
 * greet_server.c: the greeting server of seeds 003 and 004 (003_ab2cee0ae555447d.txt,
 * 004_ae16f101abe553d4.txt), in C.
 *
 * Accepts clients forever; for each prints "Got connection from ('127.0.0.1', 52617)"
 * (Python's tuple), sends "Thank you for connecting" and closes. Listens on
 * 127.0.0.1:12345 or the address given as the first argument. Stop it with Ctrl-C.
 *
 * Where it departs from the seeds:
 *   - it binds 127.0.0.1, this host only, where seed 004 binds '' (every interface, so
 *     other computers can connect) and seed 003 binds socket.gethostname() (the address
 *     the host name resolves to). A greeting server open to the network should be asked
 *     for: pass ":12345" (every interface) or the host's own address as the argument;
 *   - the address is an argument ("127.0.0.1:0" picks a free port), for tests;
 *   - seed 004's "Socket successfully created", "socket binded to 12345" and "socket is
 *     listening" lines are one "Listening on ADDR" line on stderr, with the real port;
 *   - the message goes out with sendall() rather than send(), so a short write cannot
 *     cut it, and a failed accept() is retried rather than ending the program.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "sockit.h"

/* Print an address as Python prints the tuple accept() returns. */
static void print_python_addr(const sk_addr_t *a)
{
    char host[SK_ADDRSTRLEN];
    sk_addr_host(a, host, sizeof host);
    if (sk_addr_family(a) == AF_INET6)
        printf("('%s', %d, 0, 0)", host, sk_addr_port(a));
    else if (sk_addr_family(a) == AF_INET)
        printf("('%s', %d)", host, sk_addr_port(a));
    else
        printf("'%s'", host);
}

int main(int argc, char **argv)
{
    const char *address = argc > 1 ? argv[1] : "127.0.0.1:12345";
    const char *message = "Thank you for connecting";
    char err[SK_ERRLEN], as[SK_ADDRSTRLEN];
    sk_addr_t local, peer;

    int s;
    if (sk_create_server(address, 5, &s, 1, err) < 0) {
        fprintf(stderr, "greet_server: %s\n", err);
        return 1;
    }
    sk_getsockname(s, &local);
    fprintf(stderr, "Listening on %s\n", sk_addr_str(&local, as));

    for (;;) {
        int c = sk_accept(s, &peer); /* establish connection with client */
        if (c < 0)
            continue;
        printf("Got connection from ");
        print_python_addr(&peer);
        printf("\n");
        fflush(stdout);
        sk_sendall(c, message, strlen(message), NULL);
        sk_close(c);
    }
}
