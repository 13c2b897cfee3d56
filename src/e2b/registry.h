// What the E2B face remembers about a sandbox beyond Kiln's own record:
// the workspace that owns it (envd calls carry a sandbox id and a token,
// no API key), the template id the client asked for, and the process
// configs it started (Process.List answers with them). Records of ended
// sandboxes are dropped when looked up or when new ones are added.
//
// Thread-safety: single-threaded, on the daemon's io_context.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace kiln::e2b {

inline constexpr std::size_t kMaxProcessRecords = 256;

struct SandboxRecord {
  std::string workspace;
  std::string template_id = "base";
  std::map<std::int64_t, nlohmann::json> processes;  // pid -> ProcessConfig (protobuf JSON)
};

class Registry {
 public:
  // `alive(id)` says whether Kiln still has the sandbox.
  void add(const std::string& id, SandboxRecord record,
           const std::function<bool(const std::string&)>& alive) {
    for (auto it = records_.begin(); it != records_.end();) {
      it = alive(it->first) ? std::next(it) : records_.erase(it);
    }
    records_[id] = std::move(record);
  }
  SandboxRecord* find(const std::string& id) {
    auto it = records_.find(id);
    return it == records_.end() ? nullptr : &it->second;
  }
  void remove(const std::string& id) { records_.erase(id); }
  // Every remembered sandbox id (some may have ended: check with Kiln).
  std::vector<std::string> ids() const {
    std::vector<std::string> out;
    out.reserve(records_.size());
    for (const auto& [id, rec] : records_) out.push_back(id);
    return out;
  }
  // Remembers a started process, forgetting the oldest past the cap.
  static void remember_process(SandboxRecord& r, std::int64_t pid, nlohmann::json config) {
    r.processes[pid] = std::move(config);
    while (r.processes.size() > kMaxProcessRecords) r.processes.erase(r.processes.begin());
  }

 private:
  std::map<std::string, SandboxRecord> records_;
};

}  // namespace kiln::e2b
