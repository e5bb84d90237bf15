/*
 * resolve.c: seed 004's gethostbyname (004_ae16f101abe553d4.txt), in C: print the first
 * IPv4 address of a host name.
 *
 * Usage: resolve NAME     e.g. resolve localhost  ->  127.0.0.1
 */
#include <stdio.h>

#include "sockit.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: resolve NAME\n");
        return 2;
    }
    char ip[64], err[SK_ERRLEN];
    if (sk_gethostbyname(argv[1], ip, sizeof ip, err) < 0) {
        /* the seed: "there was an error resolving the host" */
        fprintf(stderr, "resolve: there was an error resolving the host: %s\n", err);
        return 1;
    }
    printf("%s\n", ip);
    return 0;
}
