// ctd: the continuous-training daemon. Subcommands live in cli.cc.
#include "daemon/cli.h"

int main(int argc, char** argv) { return ctd::cli::main(argc, argv); }
