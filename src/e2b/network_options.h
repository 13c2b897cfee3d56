// E2B's egress options (`allow_internet_access`, `network.allowOut`,
// `network.denyOut`) as a Kiln egress policy value (egress/policy.h).
//
// E2B's rules: the internet is open unless `allow_internet_access` is false
// (which means the same as denyOut ["0.0.0.0/0"]); an allowOut entry wins
// over a denyOut entry; denyOut holds CIDRs and addresses only. Kiln's: a
// policy is "none", "internet" or allow/deny rules where deny wins. The
// mapping:
//   no egress field at all                 -> nullopt (Kiln's default, "none":
//                                             Kiln does not open the network
//                                             unless asked, unlike E2B)
//   open, no denyOut                       -> "internet" (allowOut adds nothing)
//   open, denyOut D                        -> {"allow": all addresses, "deny": D}
//                                             (an allowOut entry inside D stays
//                                             denied: stricter than E2B)
//   closed (false, or D has 0.0.0.0/0)     -> {"allow": allowOut}, or "none"
//                                             when allowOut is empty
// Options Kiln cannot honour (rules/transforms, egressProxy, public
// traffic, https ports) are refused by the caller (api/e2b_control.cc).
//
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>

#include "common/status.h"

namespace kiln::e2b {

inline constexpr std::size_t kMaxNetworkEntries = 256;

// `body`: a create body (`allow_internet_access`, `network`: {...}) or a
// network update body (the same keys at the top level, `flat`). EINVAL with
// the reason for malformed input.
Result<std::optional<nlohmann::json>> kiln_network(const nlohmann::json& body, bool flat);

// The E2B view of a Kiln policy value: {"allowOut": [...], "denyOut": [...]}
// and whether the internet is open.
nlohmann::json e2b_network(const nlohmann::json& kiln_policy);
bool internet_open(const nlohmann::json& kiln_policy);

}  // namespace kiln::e2b
