// ctd's command-line entry points, one function per subcommand. Each returns the process exit
// code and prints errors for people on stderr.
#pragma once

#include "daemon/cli_support.h"

namespace ctd::cli {

int run(const Args& args);               // ctd run -c FILE [--migrate]
int migrate(const Args& args);           // ctd migrate -c FILE [--dir MIGRATIONS_DIR]
int check_config(const Args& args);      // ctd check-config FILE
int dev_broker(const Args& args);        // ctd dev-broker [--port P] [--partitions N] --topic T ...
int train(const Args& args);             // ctd train -c FILE --pipeline NAME ... (train_command.cc)
int registry_command(const Args& args);  // ctd registry COMMAND ... (registry_command.cc)
int ctl_command(const Args& args);       // ctd ctl COMMAND ... (ctl_command.cc): the REST API
int main(int argc, char** argv);

}  // namespace ctd::cli
