/*
 * echo_client.c: the echo client of seed 001 (001_22d9111d556572c9.txt), in C.
 *
 * Connects, sendall()s the message, reads the echo and prints it. The seed calls recv()
 * once, which may return only part of the echo (seed 002: "there is no EOT"); this
 * version knows how many bytes it sent and reads exactly that many with recv_exact.
 *
 * Usage: echo_client [ADDR] [MESSAGE]   (default 127.0.0.1:5000, "Hello, world")
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockit.h"

int main(int argc, char **argv)
{
    const char *address = argc > 1 ? argv[1] : "127.0.0.1:5000";
    const char *message = argc > 2 ? argv[2] : "Hello, world";
    size_t len = strlen(message);
    char err[SK_ERRLEN];

    int sock = sk_create_connection(address, 10.0, NULL, err);
    if (sock < 0) {
        fprintf(stderr, "echo_client: %s\n", err);
        return 1;
    }
    if (sk_sendall(sock, message, len, NULL) < 0) {
        fprintf(stderr, "echo_client: send: failed\n");
        return 1;
    }
    char *data = malloc(len + 1);
    ssize_t r = data ? sk_recv_exact(sock, data, len, NULL) : -1;
    if (r < 0) {
        fprintf(stderr, "echo_client: recv: %s\n", sk_strerror((int)r));
        return 1;
    }
    data[len] = '\0';
    printf("%s\n", data);
    free(data);
    sk_close(sock);
    return 0;
}
