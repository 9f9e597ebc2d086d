// Private to config/: what the loader (loader.cc) and the renderer (render.cc) share — the
// names of enumerated values, so that rendered YAML reads back to the same options, and
// case folding. Not part of the module's API; include config/loader.h instead.
//
// Thread-safety: constants and pure functions.
#pragma once

#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <string_view>

#include "config/options.h"

namespace ctd::config::internal {

// One accepted spelling of an enumerated option and the value it stands for.
template <typename T>
struct Choice {
  using Value = T;
  std::string_view name;
  T value;
};

inline constexpr std::array<Choice<FeatureType>, 2> kFeatureTypes{{
    {"numeric", FeatureType::kNumeric},
    {"categorical", FeatureType::kCategorical},
}};
inline constexpr std::array<Choice<LabelKind>, 3> kLabelKinds{{
    {"binary", LabelKind::kBinary},
    {"multiclass", LabelKind::kMulticlass},
    {"regression", LabelKind::kRegression},
}};
inline constexpr std::array<Choice<LogFormat>, 2> kLogFormats{{
    {"text", LogFormat::kText},
    {"json", LogFormat::kJson},
}};
inline constexpr std::array<Choice<std::string_view>, 5> kLogLevels{{
    {"trace", "trace"},
    {"debug", "debug"},
    {"info", "info"},
    {"warn", "warn"},
    {"error", "error"},
}};

inline std::string lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace ctd::config::internal
