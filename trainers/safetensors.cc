#include "trainers/safetensors.h"

#include <fcntl.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <numeric>

#include <nlohmann/json.hpp>

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; big-endian hosts would need byte swaps");

namespace ctd::trainers {
namespace {

constexpr std::size_t kAlignment = 8;
constexpr std::uint64_t kMaxHeaderBytes = 100u << 20;  // the format's own limit is 100 MB

struct DTypeInfo {
  DType dtype;
  std::string_view name;
  std::size_t size;
};
constexpr DTypeInfo kDTypes[] = {{DType::kF32, "F32", 4},
                                 {DType::kF64, "F64", 8},
                                 {DType::kI64, "I64", 8},
                                 {DType::kI32, "I32", 4},
                                 {DType::kU8, "U8", 1}};

std::int64_t product(const std::vector<std::int64_t>& shape) {
  return std::accumulate(shape.begin(), shape.end(), std::int64_t{1}, std::multiplies<>());
}

[[noreturn]] void fail(const std::string& what) { throw SafetensorsError(what); }

void write_all(int fd, const void* data, std::size_t size, const std::filesystem::path& path) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("writing " + path.string() + ": " + std::strerror(errno));
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

}  // namespace

std::string_view dtype_name(DType dtype) {
  for (const auto& info : kDTypes)
    if (info.dtype == dtype) return info.name;
  return "?";
}

std::size_t dtype_size(DType dtype) {
  for (const auto& info : kDTypes)
    if (info.dtype == dtype) return info.size;
  return 0;
}

void SafetensorsWriter::add(std::string name, DType dtype, std::vector<std::int64_t> shape,
                            std::span<const std::byte> data) {
  const auto expected = static_cast<std::size_t>(product(shape)) * dtype_size(dtype);
  if (data.size() != expected)
    fail("tensor " + name + ": " + std::to_string(data.size()) + " bytes for a shape of " +
         std::to_string(expected) + " bytes");
  for (const auto& e : entries_)
    if (e.name == name) fail("tensor " + name + " added twice");
  const std::size_t begin = data_.size();
  data_.insert(data_.end(), data.begin(), data.end());
  entries_.push_back({std::move(name), dtype, std::move(shape), begin, data_.size()});
}

void SafetensorsWriter::set_metadata(std::string key, std::string value) {
  metadata_[std::move(key)] = std::move(value);
}

void SafetensorsWriter::write(const std::filesystem::path& path) const {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  for (const auto& e : entries_) {
    header[e.name] = {
        {"dtype", dtype_name(e.dtype)}, {"shape", e.shape}, {"data_offsets", {e.begin, e.end}}};
  }
  std::string text = header.dump();
  // Pad with spaces so the data starts 8-byte aligned, as the reference implementation does.
  text.append((kAlignment - (8 + text.size()) % kAlignment) % kAlignment, ' ');
  const std::uint64_t header_size = text.size();

  const std::filesystem::path temp = path.string() + ".tmp";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("creating " + temp.string() + ": " + std::strerror(errno));
  try {
    write_all(fd, &header_size, sizeof header_size, temp);
    write_all(fd, text.data(), text.size(), temp);
    write_all(fd, data_.data(), data_.size(), temp);
    if (::fsync(fd) != 0) fail("fsync " + temp.string() + ": " + std::strerror(errno));
  } catch (...) {
    ::close(fd);
    ::unlink(temp.c_str());
    throw;
  }
  ::close(fd);
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
  if (ec) fail("renaming " + temp.string() + ": " + ec.message());
}

std::int64_t SafetensorsFile::Tensor::elements() const { return product(shape); }

SafetensorsFile SafetensorsFile::read(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open " + path.string());
  SafetensorsFile file;
  in.seekg(0, std::ios::end);
  const auto size = static_cast<std::size_t>(in.tellg());
  in.seekg(0);
  file.buffer_.resize(size);
  if (!in.read(reinterpret_cast<char*>(file.buffer_.data()), static_cast<std::streamsize>(size)))
    fail("reading " + path.string());

  const std::string where = path.string() + ": ";
  if (size < 8) fail(where + "truncated (no header length)");
  std::uint64_t header_size = 0;
  std::memcpy(&header_size, file.buffer_.data(), 8);
  if (header_size > kMaxHeaderBytes || header_size > size - 8)
    fail(where + "header length " + std::to_string(header_size) + " exceeds the file");
  nlohmann::json header;
  try {
    header =
        nlohmann::json::parse(reinterpret_cast<const char*>(file.buffer_.data()) + 8,
                              reinterpret_cast<const char*>(file.buffer_.data()) + 8 + header_size);
  } catch (const nlohmann::json::exception& e) {
    fail(where + "header is not JSON: " + e.what());
  }
  if (!header.is_object()) fail(where + "header is not a JSON object");
  const std::span<const std::byte> data(file.buffer_.data() + 8 + header_size,
                                        size - 8 - header_size);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) fail(where + "__metadata__ is not an object");
      for (const auto& [k, v] : entry.items()) {
        if (!v.is_string()) fail(where + "__metadata__." + k + " is not a string");
        file.metadata_[k] = v.get<std::string>();
      }
      continue;
    }
    try {
      Tensor t;
      const std::string dtype = entry.at("dtype").get<std::string>();
      const DTypeInfo* info = nullptr;
      for (const auto& d : kDTypes)
        if (d.name == dtype) info = &d;
      if (info == nullptr) fail(where + name + ": unsupported dtype " + dtype);
      t.dtype = info->dtype;
      t.shape = entry.at("shape").get<std::vector<std::int64_t>>();
      for (auto dim : t.shape)
        if (dim < 0) fail(where + name + ": negative dimension");
      const auto offsets = entry.at("data_offsets").get<std::vector<std::uint64_t>>();
      if (offsets.size() != 2 || offsets[0] > offsets[1] || offsets[1] > data.size())
        fail(where + name + ": data_offsets outside the data section");
      if (offsets[1] - offsets[0] != static_cast<std::uint64_t>(t.elements()) * info->size)
        fail(where + name + ": byte range does not match its shape and dtype");
      t.bytes = data.subspan(offsets[0], offsets[1] - offsets[0]);
      ranges.emplace_back(offsets[0], offsets[1]);
      file.tensors_.emplace(name, std::move(t));
    } catch (const nlohmann::json::exception& e) {
      fail(where + name + ": malformed entry: " + e.what());
    }
  }
  std::sort(ranges.begin(), ranges.end());
  for (std::size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first < ranges[i - 1].second) fail(where + "tensors overlap");
  return file;
}

const SafetensorsFile::Tensor& SafetensorsFile::tensor(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) fail("no tensor named " + name);
  return it->second;
}

const SafetensorsFile::Tensor& SafetensorsFile::checked(const std::string& name, DType expected,
                                                        std::size_t size) const {
  const Tensor& t = tensor(name);
  if (t.dtype != expected)
    fail("tensor " + name + " is " + std::string(dtype_name(t.dtype)) + ", expected " +
         std::string(dtype_name(expected)));
  if (dtype_size(expected) != size) fail("tensor " + name + ": element size mismatch");
  return t;
}

}  // namespace ctd::trainers
