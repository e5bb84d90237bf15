/* udp.c: being written (issue 3). */
#include "cli.h"
