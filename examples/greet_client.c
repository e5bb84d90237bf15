/*
 * greet_client.c: the greeting client of seeds 003 and 004 (003_ab2cee0ae555447d.txt,
 * 004_ae16f101abe553d4.txt), in C.
 *
 * Connects, prints what the server sends and closes. The seed prints one recv(1024);
 * this version reads until the server closes, the message's true end ("there is no
 * EOT": the greeting ends by shutdown).
 *
 * Usage: greet_client [ADDR]   (default 127.0.0.1:12345)
 */
#include <stdio.h>

#include "sockit.h"

int main(int argc, char **argv)
{
    const char *address = argc > 1 ? argv[1] : "127.0.0.1:12345";
    char err[SK_ERRLEN], data[1024];

    int s = sk_create_connection(address, 10.0, NULL, err);
    if (s < 0) {
        fprintf(stderr, "greet_client: %s\n", err);
        return 1;
    }
    ssize_t n;
    while ((n = sk_recv(s, data, sizeof data)) > 0)
        fwrite(data, 1, (size_t)n, stdout);
    printf("\n");
    sk_close(s);
    if (n < 0) {
        fprintf(stderr, "greet_client: recv: %s\n", sk_strerror((int)n));
        return 1;
    }
    return 0;
}
