#include "triggers/manual_trigger.h"

#include <algorithm>
#include <cctype>

#include "triggers/time_format.h"

namespace ctd::triggers {
namespace {

bool is_blank(const std::string& text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; });
}

}  // namespace

Result<std::unique_ptr<ManualTrigger>> ManualTrigger::create(const ManualOptions& options) {
  if (options.name.empty()) return Error{"manual trigger: name is empty"};
  return std::unique_ptr<ManualTrigger>(new ManualTrigger(options.name));
}

std::optional<Error> ManualTrigger::request(std::string reason, std::string requested_by,
                                            TimePoint at) {
  if (is_blank(reason)) {
    return Error{"manual trigger \"" + name_ + "\": a reason is required"};
  }
  if (is_blank(requested_by)) requested_by = "unknown";
  pending_.push_back(Request{std::move(reason), std::move(requested_by), at});
  ++requests_total_;
  return std::nullopt;
}

std::optional<Fire> ManualTrigger::evaluate(TimePoint now) {
  if (pending_.empty()) return std::nullopt;
  Fire fire;
  fire.trigger = name_;
  fire.kind = "manual";
  fire.at = now;
  nlohmann::json requests = nlohmann::json::array();
  for (const Request& request : pending_) {
    if (!fire.reason.empty()) fire.reason += "; ";
    fire.reason += "requested by " + request.requested_by + ": " + request.reason;
    requests.push_back({{"reason", request.reason},
                        {"requested_by", request.requested_by},
                        {"at", format_utc(request.at)}});
  }
  fire.evidence = {{"statistic", "manual_requests"},
                   {"value", pending_.size()},
                   {"requests", std::move(requests)}};
  pending_.clear();
  return fire;
}

nlohmann::json ManualTrigger::describe() const {
  return {{"pending_requests", pending_.size()}, {"requests_total", requests_total_}};
}

}  // namespace ctd::triggers
