/* probe.c: being written (issue 3). */
#include "cli.h"

int cmd_probe(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_error("probe: not implemented yet");
    return 1;
}
