/* frame.c: placeholder, being written (issue 3). */
#include "sockit/frame.h"
