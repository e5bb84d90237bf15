/*
 * greet_server.c: the greeting server of seeds 003 and 004 (003_ab2cee0ae555447d.txt,
 * 004_ae16f101abe553d4.txt), in C.
 *
 * Accepts clients forever; for each prints "Got connection from ('127.0.0.1', 52617)"
 * (Python's tuple), sends "Thank you for connecting" and closes. Listens on
 * 127.0.0.1:12345 or the address given as the first argument. Stop it with Ctrl-C.
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
