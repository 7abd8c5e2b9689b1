/* cmd_pareto.c — placeholder */
#include "cli.h"
int cmd_pareto(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return EXIT_USER;
}
