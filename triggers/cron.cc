#include "triggers/cron.h"

#include <array>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <vector>

namespace ctd::triggers {
namespace {

using std::chrono::days;
using std::chrono::minutes;
using std::chrono::sys_days;

constexpr std::size_t kFieldCount = 5;
constexpr unsigned kMinutesPerDay = 24 * 60;
// Every accepted expression fires at least once in a 28-year calendar cycle (the weekday of
// each date repeats after 28 years within a century); 29 years bounds the search.
constexpr int kMaxSearchDays = 366 * 29;

constexpr std::array<std::string_view, 12> kMonthNames = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<std::string_view, 7> kWeekdayNames = {"SUN", "MON", "TUE", "WED",
                                                           "THU", "FRI", "SAT"};
// Longest month lengths, Feb counted with its leap day.
constexpr std::array<unsigned, 13> kMaxDaysInMonth = {0,  31, 29, 31, 30, 31, 30,
                                                      31, 31, 30, 31, 30, 31};

// What one field accepts. `names[i]` stands for the value `min + i`.
struct FieldSpec {
  std::string_view label;
  unsigned min;
  unsigned max;
  const std::string_view* names;
  std::size_t name_count;
};

constexpr FieldSpec kFields[kFieldCount] = {
    {"minute", 0, 59, nullptr, 0},
    {"hour", 0, 23, nullptr, 0},
    {"day-of-month", 1, 31, nullptr, 0},
    {"month", 1, 12, kMonthNames.data(), kMonthNames.size()},
    // 7 is accepted as Sunday and folded onto 0 after parsing.
    {"day-of-week", 0, 7, kWeekdayNames.data(), kWeekdayNames.size()},
};

// A field's parse outcome: a value mask (bit v set when v matches) or a problem description.
struct FieldParse {
  std::uint64_t mask = 0;
  std::string problem;  // empty on success
};

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    std::size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

std::vector<std::string_view> split_whitespace(std::string_view text) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    std::size_t start = i;
    while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i > start) words.push_back(text.substr(start, i - start));
  }
  return words;
}

// `"token"`, built by appending (g++ 12 misreports -Wrestrict on `"\"" + std::string(...)`).
std::string quote(std::string_view token) {
  std::string quoted;
  quoted.reserve(token.size() + 2);
  quoted += '"';
  quoted += token;
  quoted += '"';
  return quoted;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) != b[i]) return false;
  }
  return true;
}

// Parses an unsigned decimal number made of digits only.
std::optional<unsigned> parse_number(std::string_view token) {
  if (token.empty()) return std::nullopt;
  for (char c : token) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  unsigned value = 0;
  auto [end, error] = std::from_chars(token.data(), token.data() + token.size(), value);
  if (error != std::errc() || end != token.data() + token.size()) return std::nullopt;
  return value;
}

// A single value: a number in the field's range or one of its names.
std::optional<unsigned> parse_value(std::string_view token, const FieldSpec& spec,
                                    std::string& problem) {
  for (std::size_t i = 0; i < spec.name_count; ++i) {
    if (equals_ignoring_case(token, spec.names[i])) return spec.min + static_cast<unsigned>(i);
  }
  std::optional<unsigned> number = parse_number(token);
  if (!number) {
    problem = quote(token) + " is not a number" + (spec.name_count > 0 ? " or a name" : "");
    return std::nullopt;
  }
  if (*number < spec.min || *number > spec.max) {
    problem = "value " + std::to_string(*number) + " is out of range " + std::to_string(spec.min) +
              "-" + std::to_string(spec.max);
    return std::nullopt;
  }
  return number;
}

// One list item: `*`, `a`, `a-b`, each optionally followed by `/step`.
std::string parse_item(std::string_view item, const FieldSpec& spec, std::uint64_t& mask) {
  if (item.empty()) return "empty list item";
  std::vector<std::string_view> slash = split(item, '/');
  if (slash.size() > 2) return quote(item) + " has more than one '/'";
  const bool has_step = slash.size() == 2;
  const std::string_view range = slash[0];
  unsigned low = spec.min;
  unsigned high = spec.max;
  std::string problem;
  if (range != "*") {
    std::vector<std::string_view> dash = split(range, '-');
    if (dash.size() > 2) return quote(range) + " is not a range";
    std::optional<unsigned> first = parse_value(dash[0], spec, problem);
    if (!first) return problem;
    low = *first;
    high = has_step ? spec.max : low;
    if (dash.size() == 2) {
      std::optional<unsigned> last = parse_value(dash[1], spec, problem);
      if (!last) return problem;
      high = *last;
      if (high < low) return "range \"" + std::string(range) + "\" is reversed";
    }
  }
  unsigned step = 1;
  if (has_step) {
    std::optional<unsigned> parsed = parse_number(slash[1]);
    const unsigned span = spec.max - spec.min + 1;
    if (!parsed || *parsed == 0 || *parsed > span) {
      return "step \"" + std::string(slash[1]) + "\" must be a number from 1 to " +
             std::to_string(span);
    }
    step = *parsed;
  }
  for (unsigned v = low; v <= high; v += step) mask |= std::uint64_t{1} << v;
  return {};
}

FieldParse parse_field(std::string_view field, const FieldSpec& spec) {
  FieldParse result;
  for (std::string_view item : split(field, ',')) {
    result.problem = parse_item(item, spec, result.mask);
    if (!result.problem.empty()) return result;
  }
  return result;
}

template <std::size_t N>
std::bitset<N> to_bits(std::uint64_t mask) {
  return std::bitset<N>(static_cast<unsigned long long>(mask));
}

// `text` is lower-case.
std::optional<std::string_view> expand_shorthand(std::string_view text) {
  struct Shorthand {
    std::string_view name;
    std::string_view expression;
  };
  static constexpr Shorthand kShorthands[] = {
      {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
      {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
      {"@hourly", "0 * * * *"},
  };
  for (const Shorthand& s : kShorthands) {
    if (text == s.name) return s.expression;
  }
  return std::nullopt;
}

}  // namespace

Result<CronExpression> CronExpression::parse(std::string_view text) {
  const std::string quoted = "cron \"" + std::string(text) + "\": ";
  std::vector<std::string_view> words = split_whitespace(text);
  std::string_view expression = text;
  if (words.size() == 1 && words[0].starts_with('@')) {
    std::string lowered(words[0]);
    for (char& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::optional<std::string_view> expanded = expand_shorthand(lowered);
    if (!expanded) return Error{quoted + "unknown shorthand \"" + std::string(words[0]) + "\""};
    expression = *expanded;
    words = split_whitespace(expression);
  }
  if (words.size() != kFieldCount) {
    return Error{quoted + "expected 5 fields (minute hour day-of-month month day-of-week), got " +
                 std::to_string(words.size())};
  }
  std::uint64_t masks[kFieldCount];
  for (std::size_t i = 0; i < kFieldCount; ++i) {
    FieldParse field = parse_field(words[i], kFields[i]);
    if (!field.problem.empty()) {
      return Error{quoted + std::string(kFields[i].label) + " field \"" + std::string(words[i]) +
                   "\": " + field.problem};
    }
    masks[i] = field.mask;
  }
  CronExpression cron;
  cron.text_ = std::string(text);
  cron.minutes_ = to_bits<60>(masks[0]);
  cron.hours_ = to_bits<24>(masks[1]);
  cron.days_of_month_ = to_bits<32>(masks[2]);
  cron.months_ = to_bits<13>(masks[3]);
  constexpr std::uint64_t kSundayAsSeven = std::uint64_t{1} << 7;
  std::uint64_t weekdays = masks[4];
  if (weekdays & kSundayAsSeven) weekdays = (weekdays & ~kSundayAsSeven) | 1;
  cron.weekdays_ = to_bits<7>(weekdays);
  cron.day_of_month_restricted_ = !words[2].starts_with('*');
  cron.weekday_restricted_ = !words[4].starts_with('*');
  if (!cron.can_ever_fire()) {
    return Error{quoted + "never fires: no month in \"" + std::string(words[3]) +
                 "\" has a day in \"" + std::string(words[2]) + "\""};
  }
  return cron;
}

bool CronExpression::can_ever_fire() const {
  // With the OR rule any restricted weekday matches some day of every month.
  if (day_of_month_restricted_ && weekday_restricted_) return true;
  for (unsigned month = 1; month <= 12; ++month) {
    if (!months_[month]) continue;
    for (unsigned day = 1; day <= kMaxDaysInMonth[month]; ++day) {
      if (days_of_month_[day]) return true;
    }
  }
  return false;
}

bool CronExpression::day_matches(unsigned day_of_month, unsigned month, unsigned weekday) const {
  if (!months_[month]) return false;
  const bool by_day_of_month = days_of_month_[day_of_month];
  const bool by_weekday = weekdays_[weekday];
  if (day_of_month_restricted_ && weekday_restricted_) return by_day_of_month || by_weekday;
  return by_day_of_month && by_weekday;
}

bool CronExpression::matches(TimePoint t) const {
  const sys_days day = std::chrono::floor<days>(t);
  const std::chrono::year_month_day date{day};
  const unsigned minute_of_day =
      static_cast<unsigned>(std::chrono::floor<minutes>(t - day).count());
  return day_matches(unsigned{date.day()}, unsigned{date.month()},
                     std::chrono::weekday{day}.c_encoding()) &&
         hours_[minute_of_day / 60] && minutes_[minute_of_day % 60];
}

std::optional<TimePoint> CronExpression::next_after(TimePoint after) const {
  const auto start = std::chrono::floor<minutes>(after) + minutes(1);
  sys_days day = std::chrono::floor<days>(start);
  unsigned first_minute = static_cast<unsigned>((start - day).count());
  for (int searched = 0; searched < kMaxSearchDays; ++searched, day += days(1), first_minute = 0) {
    const std::chrono::year_month_day date{day};
    if (!day_matches(unsigned{date.day()}, unsigned{date.month()},
                     std::chrono::weekday{day}.c_encoding())) {
      continue;
    }
    for (unsigned minute_of_day = first_minute; minute_of_day < kMinutesPerDay;) {
      if (!hours_[minute_of_day / 60]) {
        minute_of_day = (minute_of_day / 60 + 1) * 60;
        continue;
      }
      if (minutes_[minute_of_day % 60]) return TimePoint{day} + minutes(minute_of_day);
      ++minute_of_day;
    }
  }
  return std::nullopt;
}

}  // namespace ctd::triggers
