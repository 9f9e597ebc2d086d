// ctd ctl: the daemon's REST API (/v1, daemon/api.h) for people at a terminal. Human tables by
// default, the API's JSON with --json; the token from CTD_API_TOKEN or --token-file; an https
// daemon verified against --cacert (CTD_API_CACERT) or the system's CAs.
//
// Exit codes: 0 done, 1 the daemon could not be reached or failed (5xx), 2 usage error,
// 3 refused by the API (4xx: unknown id, bad token, invalid state, conflict), with its message.
#include <fstream>
#include <iostream>
#include <memory>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "daemon/cli.h"
#include "daemon/http_client.h"

namespace ctd::cli {
namespace {

constexpr int kExitError = 1, kExitUsage = 2, kExitRefused = 3;

constexpr const char* kCtlUsage =
    R"(usage: ctd ctl [--url URL] [--token-file F] [--cacert F] [--json] COMMAND
  status                                    pipelines: production version, paused, leader
  pipeline NAME                             one pipeline with its trigger engine's state
  runs [--pipeline P] [--status S] [--limit N]
  run ID [--follow]                         a run; --follow shows its progress until it ends
  cancel ID                                 cancel a running training
  models [--limit N]                        models and their production versions, by name
  versions MODEL [--limit N]
  history MODEL                             the production alias's moves
  events [--pipeline P] [--limit N]         trigger events
  promote MODEL VERSION --reason R [--override-gate]
  rollback MODEL --reason R [--to-version V]
  trigger PIPELINE --reason R [--trigger NAME]   retrain now (a manual trigger)
  pause PIPELINE --reason R                 hold the pipeline's triggers (ingestion goes on)
  resume PIPELINE
The daemon: --url, else $CTD_API_URL, else http://127.0.0.1:8080. The token: $CTD_API_TOKEN,
else the first line of --token-file. An https:// daemon's certificate is verified against
--cacert FILE (else $CTD_API_CACERT, else the system's CAs) and the URL's host; for mutual TLS,
--cert FILE --key FILE (else $CTD_API_CERT, $CTD_API_KEY).
)";

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What the API answered when it refused (4xx) or failed (5xx).
struct ApiError {
  int status;
  std::string message;
};

struct Client {
  http::HttpUrl base;
  std::string token;
  std::shared_ptr<boost::asio::ssl::context> tls;  // https: made once (--follow polls); else null

  nlohmann::json call(const std::string& method, const std::string& path,
                      const nlohmann::json& body = nullptr) const {
    http::HttpUrl url = base;
    url.target = (url.target == "/" ? "" : url.target) + path;
    std::map<std::string, std::string> headers{{"Accept", "application/json"}};
    if (!token.empty()) headers["Authorization"] = "Bearer " + token;
    if (!body.is_null()) headers["Content-Type"] = "application/json";
    const auto response = http::request(method, url, headers, body.is_null() ? "" : body.dump(),
                                        std::chrono::seconds(30), tls);
    nlohmann::json json = nlohmann::json::parse(response.body, nullptr, false);
    if (response.status >= 400) {
      const std::string message =
          json.is_object() && json.contains("error")
              ? json["error"].value("message", "") + " (" + json["error"].value("code", "") + ")"
              : response.body.substr(0, 200);
      throw ApiError{response.status, message};
    }
    return json.is_discarded() ? nlohmann::json() : json;
  }
};

std::string text(const nlohmann::json& value) {
  if (value.is_null()) return "-";
  if (value.is_string()) return value.get<std::string>();
  return value.dump();
}

// Columns sized to their widest cell.
void print_table(const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(header.size());
  for (std::size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  const auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (std::size_t i = 0; i < cells.size(); ++i)
      out += fmt::format("{:<{}}", cells[i], i + 1 < cells.size() ? width[i] + 2 : 0);
    std::cout << out << "\n";
  };
  line(header);
  for (const auto& row : rows) line(row);
}

std::string positional(const Args& args, std::size_t index, const std::string& what) {
  std::size_t seen = 0;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i].starts_with("--")) {
      if (args[i] != "--json" && args[i] != "--follow" && args[i] != "--override-gate") ++i;
      continue;
    }
    if (seen++ == index) return args[i];
  }
  throw UsageError(what + " is required");
}

std::string reason_of(const Args& args) {
  const auto reason = flag_value(args, "--reason");
  if (!reason || reason->empty()) throw UsageError("--reason is required");
  return *reason;
}

std::string query(const Args& args, const std::vector<std::string>& flags) {
  std::string q;
  for (const std::string& flag : flags)
    if (const auto v = flag_value(args, "--" + flag))
      q += (q.empty() ? "?" : "&") + flag + "=" + *v;
  return q;
}

void print_runs(const nlohmann::json& page) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : page["items"]) {
    const auto& progress = r["progress"];
    std::string at = "-";
    if (progress.is_object() && progress.contains("epoch"))
      at = fmt::format("epoch {} loss {}", text(progress["epoch"]), text(progress["loss"]));
    rows.push_back({text(r["id"]), text(r["pipeline"]), text(r["status"]), at,
                    text(r["requested_by"]), text(r["reason"]).substr(0, 60)});
  }
  print_table({"RUN", "PIPELINE", "STATUS", "PROGRESS", "BY", "REASON"}, rows);
  if (!page["next_cursor"].is_null())
    std::cout << "(more: --cursor " << text(page["next_cursor"]) << ")\n";
}

// Polls the run every second and prints each new progress line until it has finished.
nlohmann::json follow(const Client& client, const std::string& id) {
  std::string last;
  while (true) {
    const nlohmann::json run = client.call("GET", "/v1/runs/" + id);
    const std::string progress = run["progress"].dump();
    if (progress != last && !run["progress"].is_null()) {
      std::cout << run["progress"].dump() << "\n" << std::flush;
      last = progress;
    }
    const std::string status = text(run["status"]);
    if (status != "queued" && status != "running") return run;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

// One command; prints its result (the JSON when `json`).
void dispatch(const Client& client, const std::string& command, const Args& args, bool json) {
  const auto show = [&](const nlohmann::json& value) { std::cout << value.dump(2) << "\n"; };
  if (command == "status") {
    const auto page = client.call("GET", "/v1/pipelines");
    if (json) return show(page);
    std::vector<std::vector<std::string>> rows;
    for (const auto& p : page["items"]) {
      std::string triggers;
      for (const auto& t : p["triggers"])
        triggers += (triggers.empty() ? "" : ", ") + text(t["name"]);
      rows.push_back({text(p["name"]), text(p["production_version"]),
                      p["paused"].get<bool>() ? "paused" : "active",
                      p["led_here"].get<bool>() ? "yes" : "no", triggers});
    }
    return print_table({"PIPELINE", "PRODUCTION", "TRIGGERS", "LED HERE", "RULES"}, rows);
  }
  if (command == "pipeline")
    return show(client.call("GET", "/v1/pipelines/" + positional(args, 1, "NAME")));
  if (command == "runs") {
    const auto page =
        client.call("GET", "/v1/runs" + query(args, {"pipeline", "status", "limit", "cursor"}));
    return json ? show(page) : print_runs(page);
  }
  if (command == "run") {
    const std::string id = positional(args, 1, "ID");
    const auto run =
        has_flag(args, "--follow") ? follow(client, id) : client.call("GET", "/v1/runs/" + id);
    if (json || !has_flag(args, "--follow")) return show(run);
    std::cout << "run " << id << " " << text(run["status"])
              << (run["failure_reason"].is_null() ? "" : ": " + text(run["failure_reason"]))
              << "\n";
    return;
  }
  if (command == "cancel")
    return show(client.call("POST", "/v1/runs/" + positional(args, 1, "ID") + "/cancel",
                            nlohmann::json::object()));
  if (command == "models") {
    const auto page = client.call("GET", "/v1/models" + query(args, {"limit", "cursor"}));
    return show(page);
  }
  if (command == "versions") {
    const std::string model = positional(args, 1, "MODEL");
    const auto page =
        client.call("GET", "/v1/models/" + model + "/versions" + query(args, {"limit", "cursor"}));
    if (json) return show(page);
    std::vector<std::vector<std::string>> rows;
    for (const auto& v : page["items"])
      rows.push_back({text(v["version"]), text(v["status"]), text(v["run_id"]),
                      text(v["samples"]["seq_first"]) + ".." + text(v["samples"]["seq_last"]),
                      text(v["gate_passed"]), text(v["status_reason"]).substr(0, 70)});
    return print_table({"VERSION", "STATUS", "RUN", "TRAINED ON", "GATE", "REASON"}, rows);
  }
  if (command == "history")
    return show(
        client.call("GET", "/v1/models/" + positional(args, 1, "MODEL") + "/aliases/history"));
  if (command == "events")
    return show(client.call(
        "GET", "/v1/trigger-events" + query(args, {"pipeline", "status", "limit", "cursor"})));
  if (command == "promote") {
    const std::string model = positional(args, 1, "MODEL"),
                      version = positional(args, 2, "VERSION");
    nlohmann::json body = {{"reason", reason_of(args)},
                           {"override_gate", has_flag(args, "--override-gate")}};
    return show(
        client.call("POST", "/v1/models/" + model + "/versions/" + version + "/promote", body));
  }
  if (command == "rollback") {
    nlohmann::json body = {{"reason", reason_of(args)}};
    if (const auto to = flag_value(args, "--to-version")) {
      const auto v = parse_int(*to, 1, 1'000'000'000);
      if (!v) throw UsageError("--to-version must be a version number, got '" + *to + "'");
      body["to_version"] = *v;
    }
    return show(
        client.call("POST", "/v1/models/" + positional(args, 1, "MODEL") + "/rollback", body));
  }
  if (command == "trigger" || command == "pause") {
    nlohmann::json body = {{"reason", reason_of(args)}};
    if (const auto t = flag_value(args, "--trigger"); t && command == "trigger")
      body["trigger"] = *t;
    return show(client.call(
        "POST", "/v1/pipelines/" + positional(args, 1, "PIPELINE") + "/" + command, body));
  }
  if (command == "resume")
    return show(client.call("POST", "/v1/pipelines/" + positional(args, 1, "PIPELINE") + "/resume",
                            nlohmann::json::object()));
  throw UsageError("unknown command '" + command + "'");
}

std::string read_token(const Args& args) {
  if (const char* env = std::getenv("CTD_API_TOKEN"); env && *env) return env;
  const auto file = flag_value(args, "--token-file");
  if (!file) return "";
  std::ifstream in(*file);
  if (!in) throw UsageError("cannot read the token file " + *file);
  std::string line;
  std::getline(in, line);
  const auto first = line.find_first_not_of(" \t\r");
  const auto last = line.find_last_not_of(" \t\r");
  return first == std::string::npos ? "" : line.substr(first, last - first + 1);
}

// How an https daemon is verified (and, for mutual TLS, who we are): each flag, else its
// variable. The flags with an http:// URL are a mistake, not something to ignore.
tls::ClientTls read_tls(const Args& args, const http::HttpUrl& url) {
  const auto setting = [&](const char* flag, const char* variable) {
    if (const auto value = flag_value(args, flag)) {
      if (!url.tls) throw UsageError(std::string(flag) + " needs an https:// URL");
      if (value->empty()) throw UsageError(std::string(flag) + " needs a file");
      return *value;
    }
    const char* env = std::getenv(variable);
    return std::string(env && *env ? env : "");
  };
  tls::ClientTls tls{setting("--cacert", "CTD_API_CACERT"), setting("--cert", "CTD_API_CERT"),
                     setting("--key", "CTD_API_KEY")};
  if (tls.cert_file.empty() != tls.key_file.empty())
    throw UsageError("--cert and --key go together");
  return tls;
}

}  // namespace

int ctl_command(const Args& args) {
  if (args.empty() || has_flag(args, "--help")) {
    std::cout << kCtlUsage;
    return args.empty() ? kExitUsage : 0;
  }
  try {
    const char* env_url = std::getenv("CTD_API_URL");
    const std::string url_text =
        flag_value(args, "--url").value_or(env_url && *env_url ? env_url : "http://127.0.0.1:8080");
    const http::ParsedUrl url = http::parse_http_url(url_text);
    if (!url.url) throw UsageError(url.error);
    const tls::ClientTls tls = read_tls(args, *url.url);  // usage errors first
    const Client client{*url.url, read_token(args),
                        url.url->tls ? tls::client_context(tls) : nullptr};
    dispatch(client, positional(args, 0, "COMMAND"), args, has_flag(args, "--json"));
    return 0;
  } catch (const UsageError& e) {
    std::cerr << "ctd ctl: " << e.what() << "\n" << kCtlUsage;
    return kExitUsage;
  } catch (const ApiError& e) {
    std::cerr << "ctd ctl: the API answered " << e.status << ": " << e.message << "\n";
    return e.status >= 500 ? kExitError : kExitRefused;
  } catch (const std::exception& e) {
    std::cerr << "ctd ctl: " << e.what() << "\n";
    return kExitError;
  }
}

}  // namespace ctd::cli
