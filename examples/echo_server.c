/*
 * echo_server.c: the echo server of seed 001 (001_22d9111d556572c9.txt), in C.
 *
 * Serves ONE client: accept, then recv up to 4096 bytes and sendall them back until recv
 * returns 0 (the client closed), then close both sockets. Listens on 127.0.0.1:5000, or
 * on the address given as the first argument ("127.0.0.1:0" picks a free port); prints
 * "Listening on ADDR" on stderr.
 */
#include <stdio.h>

#include "sockit.h"

#define QUEUE_SIZE 5
#define BUFFER_SIZE 4096

int main(int argc, char **argv)
{
    const char *address = argc > 1 ? argv[1] : "127.0.0.1:5000";
    char err[SK_ERRLEN], as[SK_ADDRSTRLEN], data[BUFFER_SIZE];
    sk_addr_t local, peer;

    int sock; /* socket(), bind(), listen() in one call */
    if (sk_create_server(address, QUEUE_SIZE, &sock, 1, err) < 0) {
        fprintf(stderr, "echo_server: %s\n", err);
        return 1;
    }
    sk_getsockname(sock, &local);
    fprintf(stderr, "Listening on %s\n", sk_addr_str(&local, as));

    int client = sk_accept(sock, &peer);
    if (client < 0) {
        fprintf(stderr, "echo_server: accept: %s\n", sk_strerror(client));
        return 1;
    }
    for (;;) {
        ssize_t n = sk_recv(client, data, sizeof data);
        if (n <= 0) /* 0: the client closed; < 0: it reset the connection */
            break;
        if (sk_sendall(client, data, (size_t)n, NULL) < 0)
            break;
    }
    sk_close(client);
    sk_close(sock);
    return 0;
}
