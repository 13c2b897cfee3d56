#include "common/bounded_json.h"

#include <cerrno>
#include <string>
#include <utility>
#include <vector>

namespace kiln {
namespace {

// A SAX consumer that only tracks depth; returning false stops the parse.
class DepthCheck : public nlohmann::json_sax<nlohmann::json> {
 public:
  explicit DepthCheck(std::size_t max_depth) : max_depth_(max_depth) {}

  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return open(); }
  bool key(string_t&) override { return true; }
  bool end_object() override { return close(); }
  bool start_array(std::size_t) override { return open(); }
  bool end_array() override { return close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    error_ = e.what();
    return false;
  }

  bool too_deep() const { return too_deep_; }
  const std::string& error() const { return error_; }

 private:
  bool open() {
    if (++depth_ > max_depth_) {
      too_deep_ = true;
      return false;
    }
    return true;
  }
  bool close() {
    --depth_;
    return true;
  }

  std::size_t max_depth_;
  std::size_t depth_ = 0;
  bool too_deep_ = false;
  std::string error_;
};

}  // namespace

Result<nlohmann::json> parse_bounded_json(std::string_view text, const JsonLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return Status::invalid("JSON is " + std::to_string(text.size()) + " bytes, larger than " +
                           std::to_string(limits.max_bytes) + " bytes");
  }
  DepthCheck check(limits.max_depth);
  if (!nlohmann::json::sax_parse(text.begin(), text.end(), &check)) {
    if (check.too_deep()) {
      return Status::invalid("JSON is nested deeper than " + std::to_string(limits.max_depth) +
                             " levels");
    }
    return Status::invalid("invalid JSON: " + check.error());
  }
  auto value = nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return Status::invalid("invalid JSON");
  return value;
}

nlohmann::json untrusted_json(std::string_view text) {
  auto value = parse_bounded_json(text, kProtocolJsonLimits);
  if (!value) return nlohmann::json(nlohmann::json::value_t::discarded);
  return std::move(*value);
}

std::size_t json_depth(const nlohmann::json& value, std::size_t stop_after) {
  // Depth-first over (value, depth) pairs on an explicit stack.
  std::vector<std::pair<const nlohmann::json*, std::size_t>> stack{{&value, 0}};
  std::size_t deepest = 0;
  while (!stack.empty()) {
    auto [v, d] = stack.back();
    stack.pop_back();
    if (!v->is_structured()) continue;
    const std::size_t here = d + 1;
    if (here > deepest) deepest = here;
    if (deepest > stop_after) return deepest;
    for (const auto& child : *v) stack.emplace_back(&child, here);
  }
  return deepest;
}

}  // namespace kiln
