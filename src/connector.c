/* connector.c: being written (issue 3). */
#include "sockit/sock.h"
