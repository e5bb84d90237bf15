/* listen.c: being written (issue 3). */
#include "cli.h"

int cmd_listen(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_error("listen: not implemented yet");
    return 1;
}
