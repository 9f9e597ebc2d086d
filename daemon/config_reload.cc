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
    } else if (dump(a[section]) != dump(b[section])) {
      diff.needs_restart.push_back(section);
    }
  }
  return diff;
}

ReloadResult reload_config(const std::string& path, config::Options& running) {
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
  if (!result.diff.reloadable.empty()) {
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
