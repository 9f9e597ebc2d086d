#include "daemon/config_reload.h"

#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <map>
#include <variant>

#include "config/loader.h"

namespace ctd {
namespace {

std::string dump(const YAML::Node& node) {
  YAML::Emitter out;
  out << node;
  return out.c_str();
}

// The pipelines of a rendered configuration by name.
std::map<std::string, std::string> pipelines_of(const YAML::Node& root) {
  std::map<std::string, std::string> out;
  if (const YAML::Node list = root["pipelines"]; list && list.IsSequence())
    for (const YAML::Node& p : list) out[p["name"].as<std::string>()] = dump(p);
  return out;
}

// The http section: TLS certificate files reload, turning TLS on or off and the handshake
// timeout do not, nor does anything else there.
void diff_http(const YAML::Node& a, const YAML::Node& b, ConfigDiff& diff) {
  YAML::Node rest_a = YAML::Clone(a), rest_b = YAML::Clone(b);
  rest_a.remove("tls");
  rest_b.remove("tls");
  if (dump(rest_a) != dump(rest_b)) diff.needs_restart.push_back("http");
  const YAML::Node tls_a = a["tls"], tls_b = b["tls"];
  if (tls_a.IsDefined() != tls_b.IsDefined()) return diff.needs_restart.push_back("http.tls");
  if (!tls_a.IsDefined()) return;
  if (dump(tls_a["handshake_timeout_s"]) != dump(tls_b["handshake_timeout_s"]))
    diff.needs_restart.push_back("http.tls.handshake_timeout_s");
  for (const char* key : {"cert_file", "key_file", "client_ca_file"})
    if (dump(tls_a[key]) != dump(tls_b[key])) return diff.reloadable.push_back("http.tls");
}

std::string join(const std::vector<std::string>& keys) {
  std::string out;
  for (const std::string& k : keys) out += (out.empty() ? "" : ", ") + k;
  return out;
}

}  // namespace

ConfigDiff diff_config(const config::Options& running, const config::Options& reread) {
  const YAML::Node a = YAML::Load(config::render(running));
  const YAML::Node b = YAML::Load(config::render(reread));
  ConfigDiff diff;
  std::map<std::string, bool> sections;
  for (const auto& root : {a, b})
    for (const auto& entry : root) sections[entry.first.as<std::string>()] = true;
  for (const auto& [section, unused] : sections) {
    if (section == "pipelines") {
      const auto pa = pipelines_of(a), pb = pipelines_of(b);
      bool same_names = pa.size() == pb.size();
      for (const auto& [name, text] : pa) {
        const auto it = pb.find(name);
        if (it == pb.end())
          same_names = false;
        else if (it->second != text)
          diff.needs_restart.push_back("pipelines." + name);
      }
      if (!same_names) diff.needs_restart.push_back("pipelines");
    } else if (section == "log") {
      for (const char* key : {"level", "format", "output"})
        if (dump(a["log"][key]) != dump(b["log"][key]))
          (std::string(key) == "level" ? diff.reloadable : diff.needs_restart)
              .push_back(std::string("log.") + key);
    } else if (section == "http") {
      diff_http(a["http"], b["http"], diff);
    } else if (dump(a[section]) != dump(b[section])) {
      diff.needs_restart.push_back(section);
    }
  }
  return diff;
}

// Loads the certificate files again whenever TLS stays on: they may have changed under the
// same names.
void reload_certificate(const config::Options& reread, const TlsReloader& reload_tls,
                        config::Options& running, ReloadResult& result) {
  if (!reload_tls || !running.http.tls || !reread.http.tls) return;
  try {
    const std::string presented = reload_tls(*reread.http.tls);
    config::TlsOptions& tls = *running.http.tls;
    tls.cert_file = reread.http.tls->cert_file;
    tls.key_file = reread.http.tls->key_file;
    tls.client_ca_file = reread.http.tls->client_ca_file;
    result.tls_reloaded = true;
    spdlog::info("SIGHUP: TLS certificate reloaded from {}: {}", tls.cert_file, presented);
  } catch (const std::exception& e) {
    result.tls_error = e.what();
    spdlog::error("SIGHUP: TLS certificate not reloaded, the previous one still serves: {}",
                  e.what());
  }
}

ReloadResult reload_config(const std::string& path, config::Options& running,
                           const TlsReloader& reload_tls) {
  ReloadResult result;
  auto loaded = config::load(path, config::process_environment());
  if (auto* errors = std::get_if<std::vector<config::ConfigError>>(&loaded)) {
    for (const config::ConfigError& e : *errors) result.errors.push_back(e.to_string());
    spdlog::error("SIGHUP: {} not reloaded, {} configuration error(s): {}", path,
                  result.errors.size(), result.errors.front());
    return result;
  }
  const config::Options& reread = std::get<config::Options>(loaded);
  result.read = true;
  result.diff = diff_config(running, reread);
  reload_certificate(reread, reload_tls, running, result);
  if (running.log.level != reread.log.level) {
    spdlog::set_level(spdlog::level::from_str(reread.log.level));
    spdlog::info("SIGHUP: log.level {} -> {}", running.log.level, reread.log.level);
    running.log.level = reread.log.level;
  }
  if (!result.diff.needs_restart.empty())
    spdlog::warn("SIGHUP: changed but not reloaded (restart to apply): {}",
                 join(result.diff.needs_restart));
  spdlog::debug("SIGHUP: {} compared with the running configuration", path);
  if (result.diff.reloadable.empty() && result.diff.needs_restart.empty())
    spdlog::info("SIGHUP: {} unchanged", path);
  return result;
}

}  // namespace ctd
