// The safetensors file format (https://huggingface.co/docs/safetensors): an 8-byte
// little-endian header length, a JSON header naming each tensor's dtype, shape and byte range,
// then the raw little-endian tensor data. Self-describing and readable from Python with numpy
// alone, which is why dataset snapshots use it.
//
// SafetensorsWriter collects tensors in memory and writes the file in one go (temp file,
// fsync, rename). SafetensorsFile reads a whole file and validates the header against the
// data before handing out views. Neither is thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace ctd::trainers {

enum class DType { kF32, kF64, kI64, kI32, kU8 };
std::string_view dtype_name(DType dtype);  // "F32", ...
std::size_t dtype_size(DType dtype);

class SafetensorsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class SafetensorsWriter {
 public:
  // REQUIRES: data.size() == product(shape) * dtype_size(dtype); unique name.
  void add(std::string name, DType dtype, std::vector<std::int64_t> shape,
           std::span<const std::byte> data);
  template <typename T>
  void add(std::string name, DType dtype, std::vector<std::int64_t> shape,
           std::span<const T> values) {
    add(std::move(name), dtype, std::move(shape), std::as_bytes(values));
  }
  void set_metadata(std::string key, std::string value);

  // The concatenated tensor data, in the order added: what a content hash covers.
  std::span<const std::byte> data() const { return data_; }

  // Writes `path` atomically. Throws SafetensorsError on I/O failure.
  void write(const std::filesystem::path& path) const;

 private:
  struct Entry {
    std::string name;
    DType dtype;
    std::vector<std::int64_t> shape;
    std::size_t begin, end;
  };
  std::vector<Entry> entries_;
  std::vector<std::byte> data_;
  std::map<std::string, std::string> metadata_;
};

class SafetensorsFile {
 public:
  struct Tensor {
    DType dtype;
    std::vector<std::int64_t> shape;
    std::span<const std::byte> bytes;
    std::int64_t elements() const;
  };

  // Throws SafetensorsError naming the problem (truncated file, bad header, overlapping or
  // out-of-range offsets, shape/size mismatch, unknown dtype).
  static SafetensorsFile read(const std::filesystem::path& path);

  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  const Tensor& tensor(const std::string& name) const;  // throws if absent
  // A copy of the tensor's values. REQUIRES: sizeof(T) matches the dtype size.
  template <typename T>
  std::vector<T> values(const std::string& name, DType expected) const {
    const Tensor& t = checked(name, expected, sizeof(T));
    std::vector<T> out(static_cast<std::size_t>(t.elements()));
    std::memcpy(out.data(), t.bytes.data(), t.bytes.size());
    return out;
  }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  const Tensor& checked(const std::string& name, DType expected, std::size_t size) const;
  std::vector<std::byte> buffer_;
  std::map<std::string, Tensor> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace ctd::trainers
