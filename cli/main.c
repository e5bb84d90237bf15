/* main.c: sockit's entry point: sane stdio and SIGPIPE, then cli_main() (cmds.c). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "cli.h"

/*
 * Started with stdin, stdout or stderr closed, the first socket would take that number and
 * our output would go into it. Put /dev/null there instead: a closed stdin reads as EOF,
 * a closed stdout or stderr swallows what is written.
 */
static void sanitize_stdio(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
            continue;
        int n = open("/dev/null", O_RDWR); /* the lowest free number: fd itself */
        if (n >= 0 && n != fd)
            close(n);
    }
}

int main(int argc, char **argv)
{
    sanitize_stdio();
    /* A closed stdout or socket must be an error we report, not a silent death. */
    signal(SIGPIPE, SIG_IGN);
    return cli_main(argc, argv);
}
