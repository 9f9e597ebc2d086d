// ctd registry: the model registry from a terminal, straight against PostgreSQL (the REST API
// of the daemon offers the same operations remotely).
//
//   ctd registry list -c FILE [--model M]
//   ctd registry show -c FILE --model M --version V        a version with its lineage
//   ctd registry history -c FILE --model M                 alias history and audit log
//   ctd registry promote -c FILE --model M --version V --reason TEXT [--override-gate]
//   ctd registry rollback -c FILE --model M [--to-version V] --reason TEXT
//   ctd registry trained-on -c FILE --model M --seq-first A --seq-last B
//   ctd registry gate -c FILE --model M --version V         run the promotion gate now
//   ctd registry check-watches -c FILE [--model M]          judge due canaries and guardrails
//   ctd registry gc -c FILE [--min-age-s N]                 remove unreferenced artifacts
//
// Output is JSON on stdout. Exit codes: 0 done, 1 error (database, I/O), 2 usage or
// configuration error, 3 refused by the registry (unknown model or version, wrong state,
// missing or corrupted artifact) with nothing changed.
#include <iostream>

#include "daemon/cli.h"
#include "daemon/launcher.h"
#include "daemon/registry_wiring.h"
#include "daemon/schema.h"

namespace ctd::cli {
namespace {

constexpr int kExitError = 1, kExitUsage = 2, kExitRefused = 3;

constexpr const char* kRegistryUsage = R"(usage: ctd registry COMMAND -c FILE [OPTIONS]
  list [--model M]                          models, aliases and versions
  show --model M --version V                a version with its lineage
  history --model M                         alias history and audit log
  promote --model M --version V --reason R [--override-gate] [--actor NAME]
                                            make V production (a version that has not passed
                                            the gate needs --override-gate)
  rollback --model M [--to-version V] --reason R [--actor NAME]
                                            production back to the previous (or a named) version
  trained-on --model M --seq-first A --seq-last B
                                            versions trained on samples in [A, B]
  gate --model M --version V                run the promotion gate on a candidate now
  check-watches [--model M]                 judge canaries and guardrails that are due
  gc [--min-age-s N]                        remove artifacts no version references
)";

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::string required(const Args& args, const std::string& flag) {
  auto v = flag_value(args, flag);
  if (!v || v->empty()) throw UsageError(flag + " is required");
  return *v;
}

std::int64_t int_flag(const Args& args, const std::string& flag, std::int64_t min,
                      std::int64_t max) {
  const std::string text = required(args, flag);
  const auto n = parse_int64(text, min, max);
  if (!n)
    throw UsageError(flag + " must be an integer in [" + std::to_string(min) + ", " +
                     std::to_string(max) + "], got '" + text + "'");
  return *n;
}

const config::PipelineOptions& pipeline_named(const config::Options& options,
                                              const std::string& name) {
  for (const auto& p : options.pipelines)
    if (p.name == name) return p;
  throw UsageError("no pipeline named '" + name + "' in the configuration");
}

using wiring::version_summary;

nlohmann::json list(registry::Registry& r, const std::optional<std::string>& only) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& model : r.models()) {
    if (only && model != *only) continue;
    nlohmann::json versions = nlohmann::json::array();
    for (const auto& v : r.versions(model)) versions.push_back(version_summary(v));
    const auto production = r.production(model);
    const auto staging = r.staging(model);
    out.push_back({{"model", model},
                   {"production", production ? nlohmann::json(production->version) : nullptr},
                   {"staging", staging ? nlohmann::json(staging->version) : nullptr},
                   {"versions", versions}});
  }
  return out;
}

nlohmann::json history(registry::Registry& r, const std::string& model) {
  nlohmann::json aliases = nlohmann::json::array(), audit = nlohmann::json::array();
  auto opt = [](const std::optional<int>& v) { return v ? nlohmann::json(*v) : nullptr; };
  for (const auto& h : r.alias_history(model))
    aliases.push_back({{"id", h.history_id},
                       {"alias", h.alias},
                       {"from_version", opt(h.from_version)},
                       {"to_version", opt(h.to_version)},
                       {"actor", h.actor},
                       {"reason", h.reason},
                       {"at", h.changed_at}});
  for (const auto& a : r.audit(model))
    audit.push_back({{"id", a.audit_id},
                     {"version", opt(a.version)},
                     {"action", a.action},
                     {"from_status", a.from_status ? nlohmann::json(*a.from_status) : nullptr},
                     {"to_status", a.to_status ? nlohmann::json(*a.to_status) : nullptr},
                     {"actor", a.actor},
                     {"detail", a.detail},
                     {"at", a.at}});
  return {{"model", model}, {"alias_history", aliases}, {"audit", audit}};
}

nlohmann::json promote(registry::Registry& r, const Args& args) {
  const std::string model = required(args, "--model");
  const int version = int_flag(args, "--version", 1, std::numeric_limits<int>::max());
  const std::string reason = required(args, "--reason");
  const auto v = r.get(model, version);
  if (!v)
    throw registry::RegistryError(registry::RegistryError::Code::kNotFound,
                                  "unknown version " + std::to_string(version) + " of " + model);
  const bool passed = v->gate.is_object() && v->gate.value("passed", false);
  const bool override_gate = has_flag(args, "--override-gate");
  if (v->status != registry::VersionStatus::kArchived && !passed && !override_gate)
    throw registry::RegistryError(
        registry::RegistryError::Code::kInvalidState,
        model + " version " + std::to_string(version) +
            " has not passed the promotion gate; pass --override-gate to promote it anyway");
  registry::Change change{flag_value(args, "--actor").value_or("cli"), reason, {}};
  if (override_gate) change.detail["gate_overridden"] = true;
  const auto previous = r.promote(model, version, change);
  return {{"model", model},
          {"production", version},
          {"previous_version", previous ? nlohmann::json(*previous) : nullptr}};
}

nlohmann::json rollback(registry::Registry& r, const Args& args) {
  const std::string model = required(args, "--model");
  std::optional<int> to;
  if (flag_value(args, "--to-version"))
    to = int_flag(args, "--to-version", 1, std::numeric_limits<int>::max());
  const std::string reason = required(args, "--reason");
  const int now = r.rollback(model, to, {flag_value(args, "--actor").value_or("cli"), reason, {}});
  return {{"model", model}, {"production", now}};
}

int dispatch(const std::string& command, const Args& args) {
  const auto path = config_path(args);
  if (!path) return kExitUsage;
  const auto options = load_config(*path);
  if (!options) return kExitUsage;
  configure_command_logging(options->log);
  {
    pg::PgConnection connection(pg::with_connect_timeout(options->postgres.dsn, 10));
    const auto status = schema::inspect(connection, schema::builtin_migrations());
    if (!status.current()) {
      std::cerr << status.describe() << " (run ctd migrate)\n";
      return kExitUsage;
    }
  }
  wiring::RegistryParts parts(*options);
  auto& r = parts.registry;
  nlohmann::json out;
  if (command == "list") {
    out = list(r, flag_value(args, "--model"));
  } else if (command == "show") {
    out = r.lineage(required(args, "--model"),
                    int_flag(args, "--version", 1, std::numeric_limits<int>::max()));
  } else if (command == "history") {
    out = history(r, required(args, "--model"));
  } else if (command == "promote") {
    out = promote(r, args);
  } else if (command == "rollback") {
    out = rollback(r, args);
  } else if (command == "trained-on") {
    const std::string model = required(args, "--model");
    out = nlohmann::json::array();
    for (const auto& v : r.trained_on(
             model, int_flag(args, "--seq-first", 0, std::numeric_limits<std::int64_t>::max()),
             int_flag(args, "--seq-last", 0, std::numeric_limits<std::int64_t>::max())))
      out.push_back(version_summary(v));
  } else if (command == "gate" || command == "check-watches") {
    training::LocalProcessLauncher launcher;
    promotion::PromotionService service(wiring::promotion_settings(*options), options->postgres.dsn,
                                        launcher, r);
    if (command == "gate") {
      const auto& pipeline = pipeline_named(*options, required(args, "--model"));
      const auto o =
          service.gate(pipeline, int_flag(args, "--version", 1, std::numeric_limits<int>::max()));
      out = {{"version", o.version},
             {"verdict", promotion::verdict_name(o.verdict)},
             {"reason", o.reason},
             {"gate", o.gate}};
    } else {
      out = nlohmann::json::array();
      const auto only = flag_value(args, "--model");
      for (const auto& p : options->pipelines) {
        if (only && p.name != *only) continue;
        for (const auto& w : service.check_watches(p))
          out.push_back({{"model", p.name},
                         {"watch_id", w.watch_id},
                         {"kind", registry::watch_kind_name(w.kind)},
                         {"version", w.version},
                         {"state", w.state},
                         {"reason", w.reason}});
      }
    }
  } else if (command == "gc") {
    int min_age = 3600;
    if (flag_value(args, "--min-age-s")) min_age = int_flag(args, "--min-age-s", 0, 1 << 30);
    out = {{"removed", r.collect_garbage(std::chrono::seconds(min_age))}};
  } else {
    throw UsageError("unknown registry command '" + command + "'");
  }
  std::cout << out.dump(2) << std::endl;
  return 0;
}

}  // namespace

int registry_command(const Args& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cerr << kRegistryUsage;
    return args.empty() ? kExitUsage : 0;
  }
  const Args rest(args.begin() + 1, args.end());
  try {
    return dispatch(args[0], rest);
  } catch (const UsageError& e) {
    std::cerr << "ctd registry " << args[0] << ": " << e.what() << "\n" << kRegistryUsage;
    return kExitUsage;
  } catch (const registry::RegistryError& e) {
    std::cerr << "ctd registry " << args[0] << ": " << e.what() << "\n";
    return kExitRefused;
  } catch (const std::exception& e) {
    std::cerr << "ctd registry " << args[0] << " failed: " << e.what() << "\n";
    return kExitError;
  }
}

}  // namespace ctd::cli
