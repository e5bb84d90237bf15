/* get.c: being written (issue 3). */
#include "cli.h"

int cmd_get(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_error("get: not implemented yet");
    return 1;
}
