#include "daemon/cli.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include <charconv>
#include <iostream>
#include <optional>
#include <thread>

#include "config/loader.h"
#include "daemon/bootstrap_proxy.h"
#include "daemon/cli_support.h"
#include "daemon/daemon.h"
#include "daemon/drift_command.h"
#include "daemon/embedded_broker.h"
#include "daemon/gen_command.h"
#include "daemon/pg.h"
#include "daemon/schema.h"
#include "daemon/signals.h"

namespace ctd::cli {
namespace {

constexpr const char* kUsage = R"(usage: ctd COMMAND [OPTIONS]

commands:
  run -c FILE [--migrate]        run the daemon (--migrate applies pending migrations first)
  migrate -c FILE [--dir DIR]    apply pending database migrations (built-in, or from DIR)
  check-config FILE              validate FILE and print the resolved configuration
  drift --reference R.csv --current C.csv [...]
                                 offline drift report of C against R (ctd drift --help)
  dev-broker [--port P] [--partitions N] --topic T [--topic T ...]
                                 run an embedded Kafka broker in the foreground
  gen --generator G --samples N [--drift K@P[/W] ...] (--out FILE | --brokers B) [...]
                                 concept-drift stream (SEA, hyperplane, Agrawal, STAGGER,
                                 RBF) as labels, inferences and metrics (ctd gen --help)
  train -c FILE --pipeline NAME [--reason TEXT] [--last-samples N] [--seq-first A]
        [--seq-last B] [--epochs N] [--device D] [--no-promote] [--migrate]
                                 train one model now (snapshot, ctd-train, run recorded),
                                 then gate it for promotion (unless --no-promote)
  registry COMMAND -c FILE ...   the model registry: list, show, history, promote, rollback,
                                 trained-on, gate, check-watches, gc (ctd registry --help)
  ctl COMMAND [--url URL] [--json] ...
                                 the daemon's REST API from a terminal: status, runs (with
                                 --follow), models, versions, promote, rollback, trigger,
                                 pause, resume (ctd ctl --help)
  version                        print the version
)";

// "%v" escaped as a JSON string body, for JSON-lines logs.
class JsonMessageFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string escaped = nlohmann::json(std::string(msg.payload.data(), msg.payload.size()))
                                    .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(escaped.data() + 1, escaped.data() + escaped.size() - 1);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

}  // namespace

void configure_logging(const config::LogOptions& log) {
  // The sinks write and flush each line whole under the logger's mutex, so lines of different
  // threads never interleave.
  auto logger = log.output == config::LogOutput::kStdout ? spdlog::stdout_logger_mt("ctd")
                                                         : spdlog::stderr_logger_mt("ctd");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(log.level));
  if (log.format == config::LogFormat::kJson) {
    // Only the message needs escaping: the time, level names, logger name ("ctd") and the
    // numeric thread id are JSON-safe as they are.
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<JsonMessageFlag>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","logger":"%n","thread":%t,)"
        R"("message":"%*"})");
    spdlog::set_formatter(std::move(formatter));
  } else {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
  }
}

void configure_command_logging(const config::LogOptions& log) {
  config::LogOptions on_stderr = log;
  on_stderr.output = config::LogOutput::kStderr;
  configure_logging(on_stderr);
}

std::optional<std::string> config_path(const Args& args) {
  for (std::size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "-c" || args[i] == "--config") return args[i + 1];
  }
  std::cerr << "missing -c FILE (the configuration file)\n";
  return std::nullopt;
}

bool has_flag(const Args& args, const std::string& flag) {
  return std::find(args.begin(), args.end(), flag) != args.end();
}

std::optional<config::Options> load_config(const std::string& path) {
  auto result = config::load(path, config::process_environment());
  if (auto* errors = std::get_if<std::vector<config::ConfigError>>(&result)) {
    for (const config::ConfigError& e : *errors) std::cerr << e.to_string() << "\n";
    std::cerr << errors->size() << " configuration error(s)\n";
    return std::nullopt;
  }
  return std::get<config::Options>(std::move(result));
}

std::optional<std::int64_t> parse_int64(const std::string& text, std::int64_t min,
                                        std::int64_t max) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    return std::nullopt;
  }
  return value;
}

std::optional<int> parse_int(const std::string& text, int min, int max) {
  const auto value = parse_int64(text, min, max);
  if (!value) return std::nullopt;
  return static_cast<int>(*value);
}

std::optional<std::string> flag_value(const Args& args, const std::string& flag) {
  for (std::size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i] == flag) return args[i + 1];
  return std::nullopt;
}

int run(const Args& args) {
  const auto path = config_path(args);
  if (!path) return 2;
  const auto options = load_config(*path);
  if (!options) return 2;
  configure_logging(options->log);
  return run_daemon(*options,
                    RunFlags{.migrate = has_flag(args, "--migrate"), .config_path = *path});
}

int migrate(const Args& args) {
  const auto path = config_path(args);
  if (!path) return 2;
  const auto options = load_config(*path);
  if (!options) return 2;
  try {
    std::vector<schema::Migration> migrations = schema::builtin_migrations();
    for (std::size_t i = 0; i + 1 < args.size(); ++i) {
      if (args[i] == "--dir") migrations = schema::load_directory(args[i + 1]);
    }
    pg::PgConnection connection(pg::with_connect_timeout(options->postgres.dsn, 10));
    const schema::MigrateResult result = schema::migrate(connection, migrations);
    for (const std::string& name : result.applied) std::cout << "applied " << name << "\n";
    std::cout << (result.applied.empty() ? "schema already current" : "schema current") << " ("
              << migrations.size() << " migration(s))\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "migrate failed: " << e.what() << "\n";
    return 1;
  }
}

int check_config(const Args& args) {
  if (args.size() != 1) {
    std::cerr << "usage: ctd check-config FILE\n";
    return 2;
  }
  const auto options = load_config(args[0]);
  if (!options) return 1;
  std::cout << config::render(*options);
  return 0;
}

int dev_broker(const Args& args) {
  int port = 0, partitions = 4;
  std::vector<std::string> topics;
  for (std::size_t i = 0; i + 1 < args.size(); i += 2) {
    const std::string& flag = args[i];
    std::optional<int> number;
    if (flag == "--topic") {
      topics.push_back(args[i + 1]);
      continue;
    }
    if (flag == "--port") number = parse_int(args[i + 1], 0, 65535);
    if (flag == "--partitions") number = parse_int(args[i + 1], 1, 10000);
    if (!number) {
      std::cerr << "dev-broker: bad argument " << flag << " " << args[i + 1] << "\n" << kUsage;
      return 2;
    }
    (flag == "--port" ? port : partitions) = *number;
  }
  if (args.size() % 2 != 0) {
    std::cerr << "dev-broker: every option takes a value\n" << kUsage;
    return 2;
  }
  try {
    // Before librdkafka's and the io thread start, so that they inherit the blocked signals.
    const sigset_t signals = block_shutdown_signals();
    kafka::EmbeddedBroker broker;
    for (const std::string& topic : topics) broker.create_topic(topic, partitions);
    boost::asio::io_context io;
    std::unique_ptr<kafka::BootstrapProxy> proxy;
    std::string bootstrap = broker.bootstrap_servers();
    if (port != 0) {
      proxy = std::make_unique<kafka::BootstrapProxy>(io, static_cast<std::uint16_t>(port),
                                                      bootstrap.substr(0, bootstrap.find(',')));
      bootstrap = "127.0.0.1:" + std::to_string(proxy->port());
    }
    std::thread io_thread([&io] {
      auto guard = boost::asio::make_work_guard(io);
      io.run();
    });
    std::cout << "bootstrap.servers=" << bootstrap << std::endl;
    std::cerr << "embedded Kafka broker: " << topics.size() << " topic(s) of " << partitions
              << " partition(s); in memory, about 5 MB kept per partition; Ctrl-C stops it\n";
    wait_for_shutdown_signal(signals);
    io.stop();
    io_thread.join();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "dev-broker: " << e.what() << "\n";
    return 1;
  }
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string command = argv[1];
  const Args args(argv + 2, argv + argc);
  if (command == "run") return run(args);
  if (command == "migrate") return migrate(args);
  if (command == "check-config") return check_config(args);
  if (command == "dev-broker") return dev_broker(args);
  if (command == "train") return train(args);
  if (command == "drift") return drift(args);
  if (command == "gen") return gen(args);
  if (command == "registry") return registry_command(args);
  if (command == "ctl") return ctl_command(args);
  if (command == "version" || command == "--version") {
    std::cout << "ctd " << CTD_VERSION << "\n";
    return 0;
  }
  if (command == "help" || command == "--help" || command == "-h") {
    std::cout << kUsage;
    return 0;
  }
  std::cerr << "unknown command '" << command << "'\n" << kUsage;
  return 2;
}

}  // namespace ctd::cli
