#include "registry/triton.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <functional>
#include <stdexcept>
#include <system_error>
#include <vector>

#include "registry/durable_io.h"

namespace ctd::registry {
namespace {

namespace fs = std::filesystem;

constexpr char kModelFile[] = "model.pt";  // the PyTorch backend's default model filename
constexpr char kConfigFile[] = "config.pbtxt";
constexpr mode_t kPublishedFileMode = 0644;  // Triton may run as another user
constexpr std::size_t kMaxNameLength = 63;

void check_model(const TritonModel& model) {
  const bool name_valid =
      !model.name.empty() && model.name.size() <= kMaxNameLength &&
      std::all_of(model.name.begin(), model.name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
      });
  if (!name_valid) {
    throw std::invalid_argument("invalid Triton model name '" + model.name +
                                "': must match [a-z0-9_-]{1,63}");
  }
  if (model.version < 1) {
    throw std::invalid_argument(
        fmt::format("Triton model {}: version {} must be >= 1", model.name, model.version));
  }
  if (model.input_width < 1) {
    throw std::invalid_argument(
        fmt::format("Triton model {}: input width {} must be >= 1", model.name, model.input_width));
  }
  if (model.max_batch_size < 1) {
    throw std::invalid_argument(fmt::format("Triton model {}: max_batch_size {} must be >= 1",
                                            model.name, model.max_batch_size));
  }
  if (model.task != "binary" && model.task != "multiclass" && model.task != "regression") {
    throw std::invalid_argument(
        fmt::format("Triton model {}: unknown task '{}' (binary, multiclass or regression)",
                    model.name, model.task));
  }
  if (model.task == "multiclass" && model.num_classes < 2) {
    throw std::invalid_argument(
        fmt::format("Triton model {}: a multiclass model needs num_classes >= 2, not {}",
                    model.name, model.num_classes));
  }
}

// The output tensor per row. A binary or regression model returns [batch]: Triton's config
// cannot say "no dimensions besides the batch", so it declares [1] and reshapes the
// backend's per-row [] into it.
std::string output_shape(const TritonModel& model) {
  if (model.task == "multiclass") return fmt::format("    dims: [ {} ]\n", model.num_classes);
  return "    dims: [ 1 ]\n"
         "    reshape: { shape: [ ] }\n";
}

// The version directories (all-digit names) under a model's directory.
std::vector<std::int64_t> version_directories(const fs::path& model_dir) {
  std::vector<std::int64_t> versions;
  for (const fs::directory_entry& entry : fs::directory_iterator(model_dir)) {
    if (!entry.is_directory()) continue;
    const std::string name = entry.path().filename().string();
    std::int64_t version = 0;
    const auto [end, error] = std::from_chars(name.data(), name.data() + name.size(), version);
    if (error == std::errc() && end == name.data() + name.size() && version >= 1) {
      versions.push_back(version);
    }
  }
  return versions;
}

// Keeps `served` and the `keep_versions - 1` highest other versions.
void prune_versions(const fs::path& model_dir, std::int64_t served, int keep_versions) {
  std::vector<std::int64_t> others = version_directories(model_dir);
  std::erase(others, served);
  std::sort(others.begin(), others.end(), std::greater<>());
  const auto kept_others = static_cast<std::size_t>(keep_versions - 1);
  if (others.size() <= kept_others) return;
  for (auto it = others.begin() + static_cast<std::ptrdiff_t>(kept_others); it != others.end();
       ++it) {
    fs::remove_all(model_dir / std::to_string(*it));
  }
  io::fsync_directory(model_dir);
}

}  // namespace

// platform "pytorch_libtorch" rather than backend "pytorch": Triton accepts either for the
// PyTorch backend, but the platform names the TorchScript (libtorch) format specifically,
// which is what ctd-train writes; the backend name alone also covers PyTorch 2 Python models.
// Tensor names follow the backend's <name>__<index> convention, since TorchScript files do
// not carry input and output names.
std::string triton_config(const TritonModel& model) {
  check_model(model);
  return fmt::format(
      "# Written by ctd on every publish; edits are overwritten.\n"
      "name: \"{name}\"\n"
      "platform: \"pytorch_libtorch\"\n"
      "max_batch_size: {max_batch_size}\n"
      "input [\n"
      "  {{\n"
      "    name: \"INPUT__0\"\n"
      "    data_type: TYPE_FP32\n"
      "    dims: [ {input_width} ]\n"
      "  }}\n"
      "]\n"
      "output [\n"
      "  {{\n"
      "    name: \"OUTPUT__0\"\n"
      "    data_type: TYPE_FP32\n"
      "{output_shape}"
      "  }}\n"
      "]\n"
      "version_policy: {{ specific: {{ versions: [ {version} ] }} }}\n",
      fmt::arg("name", model.name), fmt::arg("max_batch_size", model.max_batch_size),
      fmt::arg("input_width", model.input_width), fmt::arg("output_shape", output_shape(model)),
      fmt::arg("version", model.version));
}

void publish_to_triton(const fs::path& repository, const TritonModel& model,
                       const fs::path& artifact, int keep_versions) {
  const std::string config = triton_config(model);
  if (keep_versions < 1) {
    throw std::invalid_argument(
        fmt::format("Triton model {}: keep_versions {} must be >= 1", model.name, keep_versions));
  }
  const fs::path model_dir = repository / model.name;
  const fs::path version_dir = model_dir / std::to_string(model.version);
  try {
    const io::FileDescriptor source = io::open_for_reading(artifact);  // before any change
    if (fs::create_directories(version_dir)) {
      io::fsync_directory(model_dir);
      io::fsync_directory(repository);
    }
    // The model first, then the config that serves it: Triton never sees a pinned version
    // without its file.
    io::replace_file_with_copy(version_dir / kModelFile, source, artifact, kPublishedFileMode);
    io::replace_file_with_content(model_dir / kConfigFile, config, kPublishedFileMode);
    prune_versions(model_dir, model.version, keep_versions);
  } catch (const std::system_error& e) {
    throw std::runtime_error(fmt::format("publishing {} version {} to Triton at {} failed: {}",
                                         model.name, model.version, repository.string(), e.what()));
  }
}

}  // namespace ctd::registry
