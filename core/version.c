#include "gnn.h"

#ifndef HOPREC_VERSION
#define HOPREC_VERSION "0.0.0"
#endif

const char *gnn_version(void)
{
    return HOPREC_VERSION;
}
