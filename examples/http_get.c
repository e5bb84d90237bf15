/*
 * http_get.c: the browser of seed 002 (002_4c0fa8de908d9a2f.txt), in C: connect to a web
 * server, send a GET for one page, read the reply until the server closes (the reply's
 * only end marker under "Connection: close"), and print it, headers and all.
 *
 * Usage: http_get HOST [PORT] [PATH]   (default port 80, path /)
 */
#include <stdio.h>
#include <string.h>

#include "sockit.h"

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: http_get HOST [PORT] [PATH]\n");
        return 2;
    }
    const char *host = argv[1];
    const char *port = argc > 2 ? argv[2] : "80";
    const char *path = argc > 3 ? argv[3] : "/";
    char err[SK_ERRLEN], request[1024], data[4096];
    sk_endpoint_t ep;

    if (sk_endpoint_from_hostport(&ep, host, port, err) < 0) {
        fprintf(stderr, "http_get: %s\n", err);
        return 2;
    }
    int s = sk_connect_endpoint(&ep, SOCK_STREAM, 10.0, NULL, err);
    if (s < 0) {
        fprintf(stderr, "http_get: %s\n", err);
        return 1;
    }
    int n = snprintf(request, sizeof request,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
                     "User-Agent: sockit-http_get\r\n\r\n",
                     path, host);
    if (n < 0 || (size_t)n >= sizeof request || sk_sendall(s, request, (size_t)n, NULL) < 0) {
        fprintf(stderr, "http_get: could not send the request\n");
        return 1;
    }
    ssize_t got;
    while ((got = sk_recv(s, data, sizeof data)) > 0)
        fwrite(data, 1, (size_t)got, stdout);
    sk_close(s);
    if (got < 0) {
        fprintf(stderr, "http_get: recv: %s\n", sk_strerror((int)got));
        return 1;
    }
    return 0;
}
