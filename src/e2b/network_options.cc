#include "e2b/network_options.h"

#include <string>
#include <vector>

namespace kiln::e2b {
namespace {

using nlohmann::json;

// Every address: Kiln still refuses the non-public classes whatever the
// policy says (egress/policy.h).
const std::vector<std::string> kAllAddresses = {"0.0.0.0/0", "::/0"};

bool is_catch_all(const std::string& entry) { return entry == "0.0.0.0/0" || entry == "::/0"; }

Result<std::vector<std::string>> entries(const json& network, const char* key) {
  std::vector<std::string> out;
  auto it = network.find(key);
  if (it == network.end() || it->is_null()) return out;
  if (!it->is_array()) return Status::invalid(std::string("'") + key + "' must be an array");
  if (it->size() > kMaxNetworkEntries)
    return Status::invalid(std::string("'") + key + "' has more than " +
                           std::to_string(kMaxNetworkEntries) + " entries");
  for (const auto& e : *it) {
    if (!e.is_string() || e.get_ref<const std::string&>().empty())
      return Status::invalid(std::string("'") + key + "' entries must be non-empty strings");
    out.push_back(e.get<std::string>());
  }
  return out;
}

}  // namespace

Result<std::optional<json>> kiln_network(const json& body, bool flat) {
  std::optional<bool> internet;
  if (auto f = body.find("allow_internet_access"); f != body.end() && !f->is_null()) {
    if (!f->is_boolean()) return Status::invalid("'allow_internet_access' must be a boolean");
    internet = f->get<bool>();
  }
  const json* network = &body;
  if (!flat) {
    auto n = body.find("network");
    if (n == body.end() || n->is_null()) {
      network = nullptr;
    } else if (!n->is_object()) {
      return Status::invalid("'network' must be an object");
    } else {
      network = &*n;
    }
  }
  std::vector<std::string> allow, deny;
  if (network != nullptr) {
    auto a = entries(*network, "allowOut");
    if (!a) return a.status();
    auto d = entries(*network, "denyOut");
    if (!d) return d.status();
    allow = std::move(*a);
    deny = std::move(*d);
  }
  if (!internet && allow.empty() && deny.empty()) return std::optional<json>{};

  bool open = internet.value_or(true);
  std::vector<std::string> denied;
  for (auto& e : deny) {
    if (is_catch_all(e))
      open = false;
    else
      denied.push_back(std::move(e));
  }
  if (open) {
    if (denied.empty()) return std::optional<json>{json("internet")};
    return std::optional<json>{json{{"allow", kAllAddresses}, {"deny", denied}}};
  }
  // Closed: only allowOut is reachable, and it wins over any denyOut entry,
  // so the remaining deny entries have nothing left to deny.
  if (allow.empty()) return std::optional<json>{json("none")};
  return std::optional<json>{json{{"allow", allow}}};
}

bool internet_open(const json& policy) {
  if (policy.is_string()) return policy == "internet";
  if (!policy.is_object()) return false;
  for (const auto& a : policy.value("allow", json::array()))
    if (a.is_string() && is_catch_all(a.get<std::string>())) return true;
  return false;
}

json e2b_network(const json& policy) {
  json allow = json::array(), deny = json::array();
  if (policy.is_object()) {
    for (const auto& a : policy.value("allow", json::array()))
      if (a.is_string() && !is_catch_all(a.get<std::string>())) allow.push_back(a);
    for (const auto& d : policy.value("deny", json::array())) deny.push_back(d);
  }
  // Closed with an allow-list is E2B's denyOut: [all traffic] + allowOut.
  if (!internet_open(policy)) deny = json::array({"0.0.0.0/0"});
  return {{"allowOut", allow}, {"denyOut", deny}};
}

}  // namespace kiln::e2b
