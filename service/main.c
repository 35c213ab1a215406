#include "commands.h"

int main(int argc, char **argv)
{
    return svc_main(argc, argv);
}
