#include "daemon/snapshot_export.h"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <unordered_map>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "daemon/record_decoder.h"
#include "daemon/sha256.h"

namespace ctd::training {
namespace {

constexpr std::string_view kCopySignature{"PGCOPY\n\377\r\n\0", 11};

[[noreturn]] void malformed(const std::string& what) {
  throw std::runtime_error("snapshot export: malformed COPY data: " + what);
}

template <typename T>
T from_big_endian(T value) {
  if constexpr (sizeof(T) == 2)
    return static_cast<T>(__builtin_bswap16(static_cast<std::uint16_t>(value)));
  if constexpr (sizeof(T) == 4)
    return static_cast<T>(__builtin_bswap32(static_cast<std::uint32_t>(value)));
  if constexpr (sizeof(T) == 8)
    return static_cast<T>(__builtin_bswap64(static_cast<std::uint64_t>(value)));
  return value;
}

// Reads big-endian values from a byte range; `ok()` turns false instead of reading past it.
class Cursor {
 public:
  explicit Cursor(std::string_view data) : data_(data) {}
  bool has(std::size_t n) const { return data_.size() - pos_ >= n; }
  std::size_t pos() const { return pos_; }
  template <typename T>
  T read() {
    T value;
    std::memcpy(&value, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return from_big_endian(value);
  }
  double read_double() { return std::bit_cast<double>(read<std::uint64_t>()); }
  std::string_view take(std::size_t n) {
    auto out = data_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  void skip(std::size_t n) { pos_ += n; }

 private:
  std::string_view data_;
  std::size_t pos_ = 0;
};

// Where each stored feature of one schema lands in the snapshot's layout (-1: dropped).
struct SchemaMap {
  std::vector<int> numeric, categorical;
};

std::unordered_map<int, SchemaMap> load_schema_maps(pg::PgConnection& c, int pipeline_id,
                                                    const ingest::FeatureLayout& layout) {
  auto index_of = [](const std::vector<const config::FeatureSpec*>& features,
                     const std::string& name) {
    for (std::size_t i = 0; i < features.size(); ++i)
      if (features[i]->name == name) return static_cast<int>(i);
    return -1;
  };
  std::unordered_map<int, SchemaMap> maps;
  const pg::PgResult r =
      c.exec("SELECT schema_id, definition FROM feature_schemas WHERE pipeline_id = $1",
             {std::to_string(pipeline_id)});
  for (int row = 0; row < r.rows(); ++row) {
    const auto definition = nlohmann::json::parse(r.text(row, 1));
    SchemaMap m;
    for (const auto& f : definition.at("numeric"))
      m.numeric.push_back(index_of(layout.numeric, f.at("name").get<std::string>()));
    for (const auto& f : definition.at("categorical"))
      m.categorical.push_back(index_of(layout.categorical, f.at("name").get<std::string>()));
    maps[static_cast<int>(r.integer(row, 0))] = std::move(m);
  }
  return maps;
}

// Distinct values of one categorical feature, numbered in order of first appearance.
struct ValueIds {
  std::unordered_map<std::string, std::int64_t> ids;
  std::vector<std::string> values;
  std::int64_t id_of(std::string_view value) {
    auto [it, inserted] =
        ids.try_emplace(std::string(value), static_cast<std::int64_t>(values.size()) + 1);
    if (inserted) values.emplace_back(value);
    return it->second;
  }
};

// Streams binary COPY rows into the dataset's columns.
class RowReader {
 public:
  RowReader(trainers::Dataset& out, const std::unordered_map<int, SchemaMap>& schemas,
            std::vector<ValueIds>& values)
      : out_(out), schemas_(schemas), values_(values) {}

  void feed(std::string_view chunk) {
    pending_.append(chunk);
    Cursor cursor(pending_);
    if (!header_read_) {
      if (!cursor.has(kCopySignature.size() + 8)) return;
      if (cursor.take(kCopySignature.size()) != kCopySignature) malformed("bad signature");
      cursor.skip(4);  // flags
      const auto extension = cursor.read<std::uint32_t>();
      if (!cursor.has(extension)) return;
      cursor.skip(extension);
      header_read_ = true;
    }
    std::size_t consumed = cursor.pos();
    while (!done_ && parse_tuple(cursor)) consumed = cursor.pos();
    pending_.erase(0, consumed);
  }

  bool done() const { return done_; }

 private:
  // Parses one tuple if it is complete; false (cursor position unspecified) if not.
  bool parse_tuple(Cursor& c) {
    if (!c.has(2)) return false;
    const auto fields = c.read<std::int16_t>();
    if (fields == -1) {
      done_ = true;
      return true;
    }
    if (fields != 7) malformed(fmt::format("{} fields per row, expected 7", fields));
    std::int64_t seq = 0, event_ms = 0;
    double label = 0, weight = 1;
    int schema_id = 0;
    std::string_view numeric, categorical;
    bool numeric_null = false, categorical_null = false;
    for (int f = 0; f < 7; ++f) {
      if (!c.has(4)) return false;
      const auto len = c.read<std::int32_t>();
      if (len >= 0 && !c.has(static_cast<std::size_t>(len))) return false;
      const std::string_view field = len >= 0 ? c.take(static_cast<std::size_t>(len)) : "";
      Cursor fc(field);
      switch (f) {
        case 0:
          seq = fc.read<std::int64_t>();
          break;
        case 1:
          event_ms = fc.read<std::int64_t>();
          break;
        case 2:
          label = fc.read_double();
          break;
        case 3:
          weight = fc.read_double();
          break;
        case 4:
          schema_id = fc.read<std::int32_t>();
          break;
        case 5:
          numeric = field;
          numeric_null = len < 0;
          break;
        case 6:
          categorical = field;
          categorical_null = len < 0;
          break;
      }
    }
    append(seq, event_ms, label, weight, schema_id, numeric_null ? "" : numeric,
           categorical_null ? "" : categorical);
    return true;
  }

  // Calls visit(index, element or nullopt) for each element of a one-dimensional array.
  template <typename Visit>
  static void for_each_element(std::string_view array, Visit visit) {
    if (array.empty()) return;
    Cursor c(array);
    if (!c.has(12)) malformed("short array header");
    const auto ndim = c.read<std::int32_t>();
    c.skip(8);  // has-nulls flag, element type
    if (ndim == 0) return;
    if (ndim != 1 || !c.has(8)) malformed("feature arrays must be one-dimensional");
    const auto n = c.read<std::int32_t>();
    c.skip(4);  // lower bound
    for (std::int32_t i = 0; i < n; ++i) {
      if (!c.has(4)) malformed("truncated array");
      const auto len = c.read<std::int32_t>();
      if (len < 0) {
        visit(i, std::optional<std::string_view>());
        continue;
      }
      if (!c.has(static_cast<std::size_t>(len))) malformed("truncated array element");
      visit(i, std::optional<std::string_view>(c.take(static_cast<std::size_t>(len))));
    }
  }

  void append(std::int64_t seq, std::int64_t event_ms, double label, double weight, int schema_id,
              std::string_view numeric, std::string_view categorical) {
    const auto schema = schemas_.find(schema_id);
    if (schema == schemas_.end())
      malformed(fmt::format("sample {} has unknown schema {}", seq, schema_id));
    const std::size_t nw = out_.numeric_width(), cw = values_.size();
    const std::size_t row = out_.labels.size();
    out_.numeric.resize((row + 1) * nw, std::numeric_limits<float>::quiet_NaN());
    out_.categorical.resize((row + 1) * cw, 0);
    for_each_element(numeric, [&](std::int32_t i, std::optional<std::string_view> v) {
      if (!v || static_cast<std::size_t>(i) >= schema->second.numeric.size()) return;
      const int target = schema->second.numeric[i];
      if (target < 0 || v->size() != 8) return;
      Cursor c(*v);
      out_.numeric[row * nw + target] = static_cast<float>(c.read_double());
    });
    for_each_element(categorical, [&](std::int32_t i, std::optional<std::string_view> v) {
      if (!v || static_cast<std::size_t>(i) >= schema->second.categorical.size()) return;
      const int target = schema->second.categorical[i];
      if (target < 0) return;
      out_.categorical[row * cw + target] = values_[target].id_of(*v);
    });
    out_.seqs.push_back(seq);
    out_.event_time_ms.push_back(event_ms);
    out_.labels.push_back(static_cast<float>(label));
    out_.weights.push_back(static_cast<float>(weight));
  }

  trainers::Dataset& out_;
  const std::unordered_map<int, SchemaMap>& schemas_;
  std::vector<ValueIds>& values_;
  std::string pending_;
  bool header_read_ = false, done_ = false;
};

// Final vocabulary: the base's values in their order, then the new ones sorted. Rewrites the
// first-appearance ids in `column` of `data` into vocabulary codes.
std::vector<std::string> encode_vocabulary(const ValueIds& ids,
                                           const std::vector<std::string>* base,
                                           trainers::Dataset& data, std::size_t column) {
  std::vector<std::string> vocabulary = base ? *base : std::vector<std::string>{};
  std::unordered_map<std::string, std::int64_t> code;
  for (std::size_t i = 0; i < vocabulary.size(); ++i) code.emplace(vocabulary[i], i + 1);
  std::vector<std::string> fresh;
  for (const auto& v : ids.values)
    if (!code.count(v)) fresh.push_back(v);
  std::sort(fresh.begin(), fresh.end());
  for (auto& v : fresh) {
    vocabulary.push_back(v);
    code.emplace(v, static_cast<std::int64_t>(vocabulary.size()));
  }
  std::vector<std::int64_t> remap(ids.values.size() + 1, 0);
  for (std::size_t i = 0; i < ids.values.size(); ++i) remap[i + 1] = code.at(ids.values[i]);
  const std::size_t cw = data.categorical_width();
  for (std::size_t r = 0; r < data.rows(); ++r) {
    auto& cell = data.categorical[r * cw + column];
    cell = remap[cell];
  }
  return vocabulary;
}

std::string rfc3339_now() {
  return fmt::format(
      "{:%Y-%m-%dT%H:%M:%SZ}",
      fmt::gmtime(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now())));
}

trainers::Task task_of(const config::LabelSpec& label) {
  switch (label.kind) {
    case config::LabelKind::kBinary:
      return trainers::Task::kBinary;
    case config::LabelKind::kMulticlass:
      return trainers::Task::kMulticlass;
    case config::LabelKind::kRegression:
      return trainers::Task::kRegression;
  }
  return trainers::Task::kBinary;
}

}  // namespace

std::optional<ResolvedSelection> resolve_selection(pg::PgConnection& c, int pipeline_id,
                                                   const DatasetSelection& s) {
  const std::string window = fmt::format(
      "{}{}",
      s.event_time_from_ms
          ? fmt::format(" AND event_time >= to_timestamp({} / 1000.0)", *s.event_time_from_ms)
          : "",
      s.event_time_to_ms
          ? fmt::format(" AND event_time < to_timestamp({} / 1000.0)", *s.event_time_to_ms)
          : "");
  const std::string range =
      fmt::format("pipeline_id = {}{}{}{}", pipeline_id,
                  s.seq_first ? fmt::format(" AND seq >= {}", *s.seq_first) : "",
                  s.seq_last ? fmt::format(" AND seq <= {}", *s.seq_last) : "", window);
  const std::string table = s.inferences ? "inferences" : "samples";
  std::string sql = "SELECT min(seq), max(seq) FROM " + table + " WHERE " + range;
  if (s.last_samples) {
    sql = fmt::format(
        "SELECT min(seq), max(seq) FROM (SELECT seq FROM {} WHERE {} ORDER BY seq DESC "
        "LIMIT {}) newest",
        table, range, *s.last_samples);
  }
  const pg::PgResult r = c.exec(sql);
  if (r.is_null(0, 0)) return std::nullopt;
  ResolvedSelection out;
  out.seq_first = r.integer(0, 0);
  out.seq_last = r.integer(0, 1);
  out.event_time_from_ms = s.event_time_from_ms;
  out.event_time_to_ms = s.event_time_to_ms;
  out.inferences = s.inferences;
  return out;
}

trainers::Dataset load_dataset(pg::PgConnection& c, const config::PipelineOptions& pipeline,
                               int pipeline_id, const ResolvedSelection& selection,
                               const ExportOptions& options) {
  const ingest::FeatureLayout layout(pipeline);
  trainers::Dataset data;
  auto& info = data.info;
  info.pipeline = pipeline.name;
  info.task = task_of(pipeline.label);
  info.num_classes = info.task == trainers::Task::kRegression ? 0
                     : info.task == trainers::Task::kBinary   ? 2
                                                              : pipeline.label.num_classes;
  info.seq_first = selection.seq_first;
  info.seq_last = selection.seq_last;
  info.event_time_from_ms = selection.event_time_from_ms;
  info.event_time_to_ms = selection.event_time_to_ms;
  info.snapshot_id =
      fmt::format("{}/{}-{}", pipeline.name, selection.seq_first, selection.seq_last);
  info.created_at = rfc3339_now();
  for (const auto* f : layout.numeric) info.numeric_features.push_back(f->name);
  for (const auto* f : layout.categorical) info.categorical_features.push_back({f->name, {}});

  const auto schemas = load_schema_maps(c, pipeline_id, layout);
  std::vector<ValueIds> values(layout.categorical.size());
  RowReader reader(data, schemas, values);
  std::string window;
  if (selection.event_time_from_ms)
    window +=
        fmt::format(" AND event_time >= to_timestamp({} / 1000.0)", *selection.event_time_from_ms);
  if (selection.event_time_to_ms)
    window +=
        fmt::format(" AND event_time < to_timestamp({} / 1000.0)", *selection.event_time_to_ms);
  c.copy_out(fmt::format("COPY (SELECT seq, (extract(epoch FROM event_time) * 1000)::bigint, {}, "
                         "schema_id, numeric, categorical FROM {} WHERE pipeline_id = {} AND seq "
                         "BETWEEN {} AND {}{} ORDER BY seq) TO STDOUT WITH (FORMAT binary)",
                         selection.inferences ? "0::float8, 1::float8" : "label, weight",
                         selection.inferences ? "inferences" : "samples", pipeline_id,
                         selection.seq_first, selection.seq_last, window),
             [&](std::string_view chunk) { reader.feed(chunk); });
  if (!reader.done()) malformed("the COPY stream ended without its trailer");

  for (std::size_t i = 0; i < values.size(); ++i) {
    auto base = options.base_vocabularies.find(layout.categorical[i]->name);
    info.categorical_features[i].vocabulary = encode_vocabulary(
        values[i], base == options.base_vocabularies.end() ? nullptr : &base->second, data, i);
  }
  data.info.rows = static_cast<std::int64_t>(data.rows());
  return data;
}

trainers::SnapshotInfo export_snapshot(pg::PgConnection& c, const config::PipelineOptions& pipeline,
                                       int pipeline_id, const ResolvedSelection& selection,
                                       const ExportOptions& options,
                                       const std::filesystem::path& path) {
  trainers::Dataset data = load_dataset(c, pipeline, pipeline_id, selection, options);
  Sha256 hasher;
  trainers::write_snapshot(path, data,
                           {[&](std::span<const std::byte> bytes) { hasher.update(bytes); },
                            [&] { return hasher.hex_digest(); }});
  return data.info;
}

}  // namespace ctd::training
