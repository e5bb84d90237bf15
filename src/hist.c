/* hist.c: being written (issue 5). */
#include "sockit/hist.h"
