#include "jail/cgroup.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <thread>

namespace kiln::jail {

namespace {

// CFS bandwidth period. 100 ms is the kernel default; a shorter period
// would throttle more smoothly but costs scheduler overhead on every core.
constexpr uint64_t kCpuPeriodUs = 100000;
// The kernel rejects quotas below 1 ms.
constexpr uint64_t kMinCpuQuotaUs = 1000;
// Far beyond any machine; only here so cpus * period cannot overflow.
constexpr double kMaxCpus = 100000;
// How long kill_all_and_remove waits for processes to die and directories
// to go. SIGKILLed processes normally vanish within milliseconds; a process
// stuck in uninterruptible sleep (e.g. on a dead NFS mount) may not, and
// we would rather report it than hang the caller.
constexpr std::chrono::milliseconds kRemoveTimeout(3000);
constexpr std::chrono::milliseconds kMaxRetrySleep(50);
// Deeper nesting than this is not something we created; don't chase it.
constexpr int kMaxNestingDepth = 8;

std::string join(const std::string& dir, const std::string& name) { return dir + "/" + name; }

bool valid_component(std::string_view s) {
  if (s.empty() || s.size() > 128 || s == "." || s == "..") return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  });
}

std::vector<std::string> split_components(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    out.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

bool valid_relative_path(const std::string& path) {
  if (path.empty()) return false;
  for (const std::string& c : split_components(path)) {
    if (!valid_component(c)) return false;
  }
  return true;
}

std::vector<std::string> split_ws(std::string_view text) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    size_t start = i;
    while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i > start) out.emplace_back(text.substr(start, i - start));
  }
  return out;
}

std::optional<uint64_t> parse_u64(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || ptr != s.data() + s.size() || s.empty()) return std::nullopt;
  return value;
}

// The value of `key` in a flat-keyed file ("key value" per line, as in
// cpu.stat, memory.events, memory.oom_control). nullopt if absent.
std::optional<uint64_t> keyed_value(std::string_view text, std::string_view key) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ' ') {
      return parse_u64(line.substr(key.size() + 1));
    }
    pos = end + 1;
  }
  return std::nullopt;
}

Result<uint64_t> read_u64(FsOps& fs, const std::string& path) {
  Result<std::string> text = fs.read_file(path);
  if (!text) return text.status();
  std::optional<uint64_t> value = parse_u64(*text);
  if (!value) return Status::invalid("parse(" + path + "): not a number: '" + *text + "'");
  return *value;
}

Result<uint64_t> read_keyed(FsOps& fs, const std::string& path, std::string_view key,
                            bool required) {
  Result<std::string> text = fs.read_file(path);
  if (!text) return text.status();
  std::optional<uint64_t> value = keyed_value(*text, key);
  if (!value) {
    // Old kernels lack some keys (oom_kill in memory.oom_control before
    // 4.13); reading zero is the honest answer there.
    if (!required) return uint64_t{0};
    return Status::invalid("parse(" + path + "): no '" + std::string(key) + "'");
  }
  return *value;
}

// mkdir -p of `relative` below `base` (base itself must exist).
Status ensure_dirs(FsOps& fs, const std::string& base, const std::string& relative) {
  std::string dir = base;
  for (const std::string& component : split_components(relative)) {
    dir = join(dir, component);
    Status st = fs.make_dir(dir);
    if (!st && st.error_number() != EEXIST) return st;
  }
  return Status::ok();
}

// Enables `controller` in cgroup.subtree_control of the unified root and of
// every level of the parent chain, so the sandbox cgroups (children of the
// parent) get it. Levels that already have it are only read, so this works
// on delegated trees where we may not write above our own cgroup.
Status enable_v2_controller(FsOps& fs, const std::string& unified_root,
                            const std::string& parent_name, const std::string& controller) {
  std::vector<std::string> levels = {unified_root};
  for (const std::string& component : split_components(parent_name)) {
    levels.push_back(join(levels.back(), component));
  }
  for (const std::string& level : levels) {
    std::string file = join(level, "cgroup.subtree_control");
    Result<std::string> current = fs.read_file(file);
    if (!current) return current.status();
    std::vector<std::string> enabled = split_ws(*current);
    if (std::find(enabled.begin(), enabled.end(), controller) != enabled.end()) continue;
    // One controller per write: one that cannot be enabled (e.g. cpu while
    // a realtime task sits outside the root) must not block the others.
    Status st = fs.write_file(file, "+" + controller);
    if (!st) return st;
  }
  return Status::ok();
}

// A v1 hierarchy mount: a cgroup dir (cgroup.procs) that is not cgroup2
// (cgroup.controllers), holding the controller's marker file if it has one
// at the root.
bool is_v1_hierarchy(FsOps& fs, const std::string& dir, const char* marker) {
  if (!fs.exists(join(dir, "cgroup.procs")) || fs.exists(join(dir, "cgroup.controllers"))) {
    return false;
  }
  return marker == nullptr || fs.exists(join(dir, marker));
}

std::vector<pid_t> parse_pids(std::string_view text) {
  std::vector<pid_t> out;
  for (const std::string& token : split_ws(text)) {
    std::optional<uint64_t> v = parse_u64(token);
    if (v && *v > 0 && *v <= static_cast<uint64_t>(std::numeric_limits<pid_t>::max())) {
      out.push_back(static_cast<pid_t>(*v));
    }
  }
  return out;
}

// `dir` and its descendant cgroups, children before parents (rmdir order).
void collect_post_order(FsOps& fs, const std::string& dir, int depth,
                        std::vector<std::string>& out) {
  if (depth < kMaxNestingDepth) {
    Result<std::vector<std::string>> children = fs.list_subdirs(dir);
    if (children) {
      for (const std::string& child : *children) {
        collect_post_order(fs, join(dir, child), depth + 1, out);
      }
    }
  }
  out.push_back(dir);
}

// Thaws every frozen cgroup among `dirs` (either freezer interface).
void thaw_all(FsOps& fs, const std::vector<std::string>& dirs) {
  for (const std::string& dir : dirs) {
    if (std::string v1 = join(dir, "freezer.state"); fs.exists(v1)) {
      (void)fs.write_file(v1, "THAWED");
    } else if (std::string v2 = join(dir, "cgroup.freeze"); fs.exists(v2)) {
      (void)fs.write_file(v2, "0");
    }
  }
}

// Kills every process in `top_dirs` (and nested cgroups) and removes the
// directories. Shared by Cgroup::kill_all_and_remove and stale cleanup.
Status drain_and_remove(FsOps& fs, const std::vector<std::string>& top_dirs) {
  std::vector<std::string> dirs;
  for (const std::string& dir : top_dirs) collect_post_order(fs, dir, 0, dirs);

  const pid_t self = ::getpid();
  const auto deadline = std::chrono::steady_clock::now() + kRemoveTimeout;
  std::chrono::milliseconds pause(1);
  std::string problem;
  bool kill_written = false;
  for (;;) {
    // v2: cgroup.kill kills the whole subtree atomically, including
    // processes forked while we look. Written once; the loop below then
    // only waits (and catches v1 hierarchies, which have no such file).
    if (!kill_written) {
      for (const std::string& dir : dirs) {
        std::string kill_file = join(dir, "cgroup.kill");
        if (fs.exists(kill_file)) (void)fs.write_file(kill_file, "1");
      }
      kill_written = true;
    }

    std::set<pid_t> pids;
    for (const std::string& dir : dirs) {
      Result<std::string> procs = fs.read_file(join(dir, "cgroup.procs"));
      if (!procs) continue;  // already gone (ENOENT) or unreadable: rmdir will tell
      for (pid_t pid : parse_pids(*procs)) pids.insert(pid);
    }
    problem.clear();
    // v1 fallback: signal each listed pid. The pid was read from
    // cgroup.procs an instant ago; a wrong kill would need the pid to be
    // freed and reused in between. Never ourselves or init.
    for (pid_t pid : pids) {
      if (pid <= 1 || pid == self) {
        problem += "; refusing to kill pid " + std::to_string(pid);
        continue;
      }
      if (::kill(pid, SIGKILL) != 0) {
        int err = errno;
        if (err != ESRCH) {
          problem += "; " + Status::from_errno("kill(" + std::to_string(pid) + ")", err).message();
        }
      }
    }

    // A frozen (paused) process keeps its SIGKILL pending until thawed:
    // thaw after signalling, so it dies on waking without running user code.
    // Every round, since a crashed daemon may have left frozen cgroups.
    thaw_all(fs, dirs);

    if (pids.empty()) {
      // Dead (even zombie) processes no longer pin a cgroup; rmdir can
      // still briefly fail with EBUSY while the kernel finishes the exit.
      std::vector<std::string> left;
      for (const std::string& dir : dirs) {
        Status st = fs.remove_dir(dir);
        if (!st && st.error_number() != ENOENT) {
          left.push_back(dir);
          problem = st.message();
        }
      }
      dirs = std::move(left);
      if (dirs.empty()) return Status::ok();
    } else {
      std::string list;
      for (pid_t pid : pids) list += (list.empty() ? "" : ",") + std::to_string(pid);
      problem = "processes still in the cgroup: " + list + problem;
    }

    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::conflict("removing cgroup " + top_dirs.front() + " gave up after " +
                              std::to_string(kRemoveTimeout.count()) + " ms: " + problem);
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, kMaxRetrySleep);
  }
}

Status validate_limits(const CgroupLimits& limits) {
  if (!std::isfinite(limits.cpus) || limits.cpus < 0 || limits.cpus > kMaxCpus) {
    return Status::invalid("cgroup limits: cpus must be in [0, " +
                           std::to_string(static_cast<int>(kMaxCpus)) + "], got " +
                           std::to_string(limits.cpus));
  }
  if (limits.memory_bytes > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return Status::invalid("cgroup limits: memory_bytes too large");
  }
  return Status::ok();
}

// CFS quota in microseconds per kCpuPeriodUs, or 0 for "no limit".
uint64_t cpu_quota_us(double cpus) {
  if (cpus <= 0) return 0;
  auto quota = static_cast<uint64_t>(std::llround(cpus * static_cast<double>(kCpuPeriodUs)));
  return std::max(quota, kMinCpuQuotaUs);
}

}  // namespace

const char* cgroup_version_name(CgroupVersion version) {
  switch (version) {
    case CgroupVersion::kV1:
      return "v1";
    case CgroupVersion::kV2:
      return "v2";
    case CgroupVersion::kNone:
      break;
  }
  return "none";
}

// ---------------------------------------------------------------------------
// CgroupLayout

Result<CgroupLayout> CgroupLayout::detect(const std::string& root_in,
                                          const std::string& parent_name,
                                          std::shared_ptr<FsOps> fs_ptr) {
  if (!valid_relative_path(parent_name)) {
    return Status::invalid("cgroup parent name '" + parent_name +
                           "' is not a relative path of [A-Za-z0-9._-] components");
  }
  if (!fs_ptr) fs_ptr = real_fs_ops();
  FsOps& fs = *fs_ptr;
  std::string root = root_in;
  while (root.size() > 1 && root.back() == '/') root.pop_back();

  CgroupLayout layout;
  layout.fs_ = fs_ptr;

  // The unified hierarchy: the root itself on pure-v2 hosts, root/unified
  // on hybrid ones.
  const bool root_is_v2 = fs.exists(join(root, "cgroup.controllers"));
  std::string unified_root;
  if (root_is_v2) {
    unified_root = root;
  } else if (fs.exists(join(root, "unified/cgroup.controllers"))) {
    unified_root = join(root, "unified");
  }
  std::vector<std::string> v2_available;
  if (!unified_root.empty()) {
    Result<std::string> listed = fs.read_file(join(unified_root, "cgroup.controllers"));
    Status st = listed ? ensure_dirs(fs, unified_root, parent_name) : listed.status();
    if (st) {
      layout.unified_dir_ = join(unified_root, parent_name);
      v2_available = split_ws(*listed);
    } else {
      layout.notes_.push_back("unified cgroup hierarchy " + unified_root +
                              " unusable: " + st.message());
    }
  }

  struct Spec {
    const char* name;
    std::vector<const char*> v1_mounts;  // co-mounted names as systemd spells them
    const char* v1_marker;               // a file the v1 hierarchy root has
    Placement* out;
  };
  const Spec specs[] = {
      {"memory", {"memory"}, "memory.limit_in_bytes", &layout.memory_},
      // The pids root has no pids.* files; the mount name has to do.
      {"pids", {"pids"}, nullptr, &layout.pids_},
      {"cpu", {"cpu", "cpu,cpuacct", "cpuacct,cpu"}, "cpu.cfs_quota_us", &layout.cpu_},
  };
  for (const Spec& spec : specs) {
    std::string why;
    if (!layout.unified_dir_.empty() &&
        std::find(v2_available.begin(), v2_available.end(), spec.name) != v2_available.end()) {
      Status st = enable_v2_controller(fs, unified_root, parent_name, spec.name);
      if (st) {
        *spec.out = {CgroupVersion::kV2, layout.unified_dir_};
        continue;
      }
      why = "v2 lists it but enabling failed: " + st.message();
      layout.notes_.push_back(std::string(spec.name) + ": " + why + "; trying v1");
    }
    if (!root_is_v2) {
      for (const char* mount : spec.v1_mounts) {
        std::string hierarchy = join(root, mount);
        if (!is_v1_hierarchy(fs, hierarchy, spec.v1_marker)) continue;
        Status st = ensure_dirs(fs, hierarchy, parent_name);
        if (st) {
          *spec.out = {CgroupVersion::kV1, join(hierarchy, parent_name)};
        } else {
          why = "v1 parent unusable: " + st.message();
        }
        break;
      }
    }
    if (spec.out->version == CgroupVersion::kNone) {
      layout.notes_.push_back(std::string(spec.name) + ": unavailable" +
                              (why.empty() ? " (no v2 controller, no v1 mount)" : ": " + why));
    }
  }

  // The freezer (pause): v1's own hierarchy where mounted (this project's
  // hybrid hosts), else v2's cgroup.freeze, present in every non-root v2
  // cgroup without enabling anything.
  // (The v1 freezer root has no freezer.state, only its children: the
  // mount name has to do, as for pids.)
  if (!root_is_v2 && is_v1_hierarchy(fs, join(root, "freezer"), nullptr)) {
    Status st = ensure_dirs(fs, join(root, "freezer"), parent_name);
    if (st) {
      layout.freezer_ = {CgroupVersion::kV1, join(join(root, "freezer"), parent_name)};
    } else {
      layout.notes_.push_back("freezer: v1 parent unusable: " + st.message());
    }
  }
  if (layout.freezer_.version == CgroupVersion::kNone && !layout.unified_dir_.empty() &&
      fs.exists(join(layout.unified_dir_, "cgroup.freeze"))) {
    layout.freezer_ = {CgroupVersion::kV2, layout.unified_dir_};
  }

  // CPU time on v1 comes from cpuacct, which is either co-mounted with cpu
  // or a hierarchy of its own (as on this kind of hybrid host). With cpu on
  // v2, cpu.stat has it.
  if (layout.cpu_.version == CgroupVersion::kV1 &&
      fs.exists(join(layout.cpu_.parent_dir, "cpuacct.usage"))) {
    layout.cpuacct_dir_ = layout.cpu_.parent_dir;
  } else if (layout.cpu_.version != CgroupVersion::kV2 && !root_is_v2) {
    for (const char* mount : {"cpuacct", "cpu,cpuacct", "cpuacct,cpu"}) {
      std::string hierarchy = join(root, mount);
      if (!is_v1_hierarchy(fs, hierarchy, "cpuacct.usage")) continue;
      Status st = ensure_dirs(fs, hierarchy, parent_name);
      if (st) {
        layout.cpuacct_dir_ = join(hierarchy, parent_name);
      } else {
        layout.notes_.push_back("cpuacct: v1 parent unusable: " + st.message());
      }
      break;
    }
  }
  return layout;
}

const CgroupLayout::Placement& CgroupLayout::placement(CgroupController controller) const {
  switch (controller) {
    case CgroupController::kMemory:
      return memory_;
    case CgroupController::kPids:
      return pids_;
    case CgroupController::kCpu:
      break;
  }
  return cpu_;
}

CgroupVersion CgroupLayout::version(CgroupController controller) const {
  return placement(controller).version;
}

const std::string& CgroupLayout::parent_dir(CgroupController controller) const {
  return placement(controller).parent_dir;
}

std::vector<std::string> CgroupLayout::parent_dirs() const {
  std::vector<std::string> out;
  for (const std::string* dir : {&memory_.parent_dir, &pids_.parent_dir, &cpu_.parent_dir,
                                 &cpuacct_dir_, &unified_dir_, &freezer_.parent_dir}) {
    if (!dir->empty() && std::find(out.begin(), out.end(), *dir) == out.end()) {
      out.push_back(*dir);
    }
  }
  return out;
}

std::string CgroupLayout::describe() const {
  std::string cpu_usage = "none";
  if (cpu_.version == CgroupVersion::kV2) {
    cpu_usage = "v2-cpu.stat";
  } else if (!cpuacct_dir_.empty()) {
    cpu_usage = "v1-cpuacct";
  } else if (!unified_dir_.empty()) {
    cpu_usage = "v2-cpu.stat";
  }
  return std::string("memory=") + cgroup_version_name(memory_.version) +
         " pids=" + cgroup_version_name(pids_.version) +
         " cpu=" + cgroup_version_name(cpu_.version) + " cpu_usage=" + cpu_usage +
         " unified=" + (unified_dir_.empty() ? "no" : "yes");
}

// ---------------------------------------------------------------------------
// Cgroup

Result<std::unique_ptr<Cgroup>> Cgroup::create(const CgroupLayout& layout, const std::string& name,
                                               const CgroupLimits& limits) {
  if (!valid_component(name)) {
    return Status::invalid("cgroup name '" + name + "' is not one [A-Za-z0-9._-] component");
  }
  // Before any mkdir, so bad limits leave nothing to clean up.
  if (Status st = validate_limits(limits); !st) return st;

  std::unique_ptr<Cgroup> cg(new Cgroup());
  cg->fs_ = layout.fs_ptr();
  cg->name_ = name;
  auto child = [&](const std::string& parent) { return parent.empty() ? "" : join(parent, name); };
  cg->memory_version_ = layout.version(CgroupController::kMemory);
  cg->pids_version_ = layout.version(CgroupController::kPids);
  cg->cpu_version_ = layout.version(CgroupController::kCpu);
  cg->memory_dir_ = child(layout.parent_dir(CgroupController::kMemory));
  cg->pids_dir_ = child(layout.parent_dir(CgroupController::kPids));
  cg->cpu_dir_ = child(layout.parent_dir(CgroupController::kCpu));
  cg->cpuacct_dir_ = child(layout.cpuacct_parent_dir());
  cg->unified_dir_ = child(layout.unified_parent_dir());
  cg->freezer_version_ = layout.freezer_version();
  cg->freezer_dir_ = child(layout.freezer_parent_dir());

  std::vector<std::string> wanted;
  for (const std::string* dir : {&cg->memory_dir_, &cg->pids_dir_, &cg->cpu_dir_, &cg->cpuacct_dir_,
                                 &cg->unified_dir_, &cg->freezer_dir_}) {
    if (!dir->empty() && std::find(wanted.begin(), wanted.end(), *dir) == wanted.end()) {
      wanted.push_back(*dir);
    }
  }

  // On failure, undo only what we created: a directory that already
  // existed (EEXIST) belongs to someone else.
  auto fail = [&](Status st) -> Status {
    if (!cg->dirs_.empty()) {
      Status undo = cg->kill_all_and_remove();
      if (!undo) st = st.with_message(st.message() + " (cleanup: " + undo.message() + ")");
    }
    cg->removed_ = true;  // don't retry (and wait again) in the destructor
    return st;
  };
  for (const std::string& dir : wanted) {
    Status st = cg->fs_->make_dir(dir);
    if (!st) return fail(st);
    cg->dirs_.push_back(dir);
  }
  if (Status st = cg->set_limits(limits); !st) return fail(st);
  return cg;
}

Cgroup::~Cgroup() {
  if (removed_) return;
  Status st = kill_all_and_remove();
  if (!st) spdlog::warn("cgroup {}: cleanup failed: {}", name_, st.message());
}

Status Cgroup::add_process(pid_t pid) {
  if (pid <= 0) return Status::invalid("cgroup add_process: bad pid " + std::to_string(pid));
  const std::string data = std::to_string(pid);
  for (const std::string& dir : dirs_) {
    if (Status st = fs_->write_file(join(dir, "cgroup.procs"), data); !st) return st;
  }
  return Status::ok();
}

std::vector<std::string> Cgroup::procs_files() const {
  std::vector<std::string> out;
  out.reserve(dirs_.size());
  for (const std::string& dir : dirs_) out.push_back(join(dir, "cgroup.procs"));
  return out;
}

Status Cgroup::set_memory_v1(const CgroupLimits& limits) {
  const std::string value = limits.memory_bytes ? std::to_string(limits.memory_bytes) : "-1";
  const std::string limit_file = join(memory_dir_, "memory.limit_in_bytes");
  const std::string memsw_file = join(memory_dir_, "memory.memsw.limit_in_bytes");
  // memsw (memory + swap) must be set too, or the sandbox escapes its limit
  // by swapping. It exists only with swap accounting on.
  const bool has_memsw = fs_->exists(memsw_file);
  // The kernel keeps limit <= memsw at every step: lowering must write the
  // limit first, raising must write memsw first. We don't track the old
  // value (the kernel is the source of truth), so try limit-first and flip
  // the order on EINVAL.
  Status st = fs_->write_file(limit_file, value);
  if (!st && has_memsw && st.error_number() == EINVAL) {
    if (Status sw = fs_->write_file(memsw_file, value); !sw) return sw;
    st = fs_->write_file(limit_file, value);
  }
  if (!st) return st;
  if (has_memsw) {
    if (Status sw = fs_->write_file(memsw_file, value); !sw) return sw;
  }
  // Keep sandbox pages out of swap even where memsw is missing. Failure is
  // harmless (some kernels refuse it for non-leaf or root-managed groups).
  const std::string swappiness = join(memory_dir_, "memory.swappiness");
  if (fs_->exists(swappiness)) (void)fs_->write_file(swappiness, "0");
  // memory.oom_control stays default: the OOM killer kills the biggest
  // process and the sandbox (its init) survives to report it.
  return Status::ok();
}

Status Cgroup::set_memory_v2(const CgroupLimits& limits) {
  const bool limited = limits.memory_bytes != 0;
  if (Status st = fs_->write_file(join(memory_dir_, "memory.max"),
                                  limited ? std::to_string(limits.memory_bytes) : "max");
      !st) {
    return st;
  }
  // No swap for a limited sandbox, or memory.max could be escaped by
  // swapping. The file exists only with swap accounting.
  // memory.oom.group stays 0: the kernel should kill the biggest process,
  // not the whole sandbox.
  const std::string swap_max = join(memory_dir_, "memory.swap.max");
  if (fs_->exists(swap_max)) {
    if (Status st = fs_->write_file(swap_max, limited ? "0" : "max"); !st) return st;
  }
  return Status::ok();
}

Status Cgroup::set_limits(const CgroupLimits& limits) {
  if (Status st = validate_limits(limits); !st) return st;

  if (memory_version_ == CgroupVersion::kV1) {
    if (Status st = set_memory_v1(limits); !st) return st;
  } else if (memory_version_ == CgroupVersion::kV2) {
    if (Status st = set_memory_v2(limits); !st) return st;
  }

  if (pids_version_ != CgroupVersion::kNone) {
    // Same file and syntax on v1 and v2.
    if (Status st = fs_->write_file(join(pids_dir_, "pids.max"),
                                    limits.pids ? std::to_string(limits.pids) : "max");
        !st) {
      return st;
    }
  }

  const uint64_t quota = cpu_quota_us(limits.cpus);
  if (cpu_version_ == CgroupVersion::kV1) {
    if (Status st =
            fs_->write_file(join(cpu_dir_, "cpu.cfs_period_us"), std::to_string(kCpuPeriodUs));
        !st) {
      return st;
    }
    if (Status st = fs_->write_file(join(cpu_dir_, "cpu.cfs_quota_us"),
                                    quota ? std::to_string(quota) : "-1");
        !st) {
      return st;
    }
  } else if (cpu_version_ == CgroupVersion::kV2) {
    const std::string value =
        (quota ? std::to_string(quota) : "max") + " " + std::to_string(kCpuPeriodUs);
    if (Status st = fs_->write_file(join(cpu_dir_, "cpu.max"), value); !st) return st;
  }
  return Status::ok();
}

Status Cgroup::set_cpu_priority(CpuPriority priority) {
  if (cpu_version_ == CgroupVersion::kNone) return Status::ok();
  const bool background = priority == CpuPriority::kBackground;
  // cpu.idle (Linux 5.15, v1 and v2) schedules the whole group like
  // SCHED_IDLE: a task of any other group that wakes up preempts it at once.
  const std::string idle = join(cpu_dir_, "cpu.idle");
  if (fs_->exists(idle)) return fs_->write_file(idle, background ? "1" : "0");
  // Older kernels: 1/16 of the default share (1024 on v1, weight 100 on v2).
  if (cpu_version_ == CgroupVersion::kV1) {
    return fs_->write_file(join(cpu_dir_, "cpu.shares"), background ? "64" : "1024");
  }
  return fs_->write_file(join(cpu_dir_, "cpu.weight"), background ? "6" : "100");
}

Result<CgroupUsage> Cgroup::usage() const {
  CgroupUsage usage;
  FsOps& fs = *fs_;

  // cpu.stat's usage_usec is kept for every v2 cgroup, cpu controller or
  // not, so the unified tracking cgroup is a fallback when cpuacct is absent.
  std::string cpu_stat_dir;
  if (cpu_version_ == CgroupVersion::kV2) {
    cpu_stat_dir = cpu_dir_;
  } else if (cpuacct_dir_.empty()) {
    cpu_stat_dir = unified_dir_;
  }
  if (!cpu_stat_dir.empty()) {
    Result<uint64_t> usec = read_keyed(fs, join(cpu_stat_dir, "cpu.stat"), "usage_usec", true);
    if (!usec) return usec.status();
    usage.cpu_usage_ns = *usec * 1000;
  } else if (!cpuacct_dir_.empty()) {
    Result<uint64_t> ns = read_u64(fs, join(cpuacct_dir_, "cpuacct.usage"));
    if (!ns) return ns.status();
    usage.cpu_usage_ns = *ns;
  }

  if (memory_version_ == CgroupVersion::kV1) {
    Result<uint64_t> peak = read_u64(fs, join(memory_dir_, "memory.max_usage_in_bytes"));
    if (!peak) return peak.status();
    Result<uint64_t> current = read_u64(fs, join(memory_dir_, "memory.usage_in_bytes"));
    if (!current) return current.status();
    Result<uint64_t> ooms =
        read_keyed(fs, join(memory_dir_, "memory.oom_control"), "oom_kill", false);
    if (!ooms) return ooms.status();
    usage.memory_peak_bytes = *peak;
    usage.memory_current_bytes = *current;
    usage.oom_kills = *ooms;
  } else if (memory_version_ == CgroupVersion::kV2) {
    const std::string peak_file = join(memory_dir_, "memory.peak");  // kernel >= 5.19
    if (fs.exists(peak_file)) {
      Result<uint64_t> peak = read_u64(fs, peak_file);
      if (!peak) return peak.status();
      usage.memory_peak_bytes = *peak;
    }
    Result<uint64_t> current = read_u64(fs, join(memory_dir_, "memory.current"));
    if (!current) return current.status();
    Result<uint64_t> ooms = read_keyed(fs, join(memory_dir_, "memory.events"), "oom_kill", false);
    if (!ooms) return ooms.status();
    usage.memory_current_bytes = *current;
    usage.oom_kills = *ooms;
  }
  return usage;
}

std::vector<pid_t> Cgroup::pids() const {
  std::set<pid_t> all;
  for (const std::string& dir : dirs_) {
    Result<std::string> procs = fs_->read_file(join(dir, "cgroup.procs"));
    if (!procs) continue;
    for (pid_t pid : parse_pids(*procs)) all.insert(pid);
  }
  return {all.begin(), all.end()};
}

Status Cgroup::set_frozen(bool frozen) {
  if (freezer_version_ == CgroupVersion::kV1) {
    return fs_->write_file(join(freezer_dir_, "freezer.state"), frozen ? "FROZEN" : "THAWED");
  }
  if (freezer_version_ == CgroupVersion::kV2) {
    return fs_->write_file(join(freezer_dir_, "cgroup.freeze"), frozen ? "1" : "0");
  }
  return Status::unavailable("cgroup " + name_ + ": no freezer on this host");
}

Result<bool> Cgroup::frozen() const {
  if (freezer_version_ == CgroupVersion::kV1) {
    Result<std::string> state = fs_->read_file(join(freezer_dir_, "freezer.state"));
    if (!state) return state.status();
    return split_ws(*state) == std::vector<std::string>{"FROZEN"};
  }
  if (freezer_version_ == CgroupVersion::kV2) {
    Result<uint64_t> v = read_keyed(*fs_, join(freezer_dir_, "cgroup.events"), "frozen", true);
    if (!v) return v.status();
    return *v == 1;
  }
  return Status::unavailable("cgroup " + name_ + ": no freezer on this host");
}

Status Cgroup::kill_all_and_remove() {
  if (removed_ || dirs_.empty()) {
    removed_ = true;
    return Status::ok();
  }
  Status st = drain_and_remove(*fs_, dirs_);
  if (st) removed_ = true;
  return st;
}

// ---------------------------------------------------------------------------

Status remove_parent_cgroups(const CgroupLayout& layout) {
  FsOps& fs = layout.fs();
  Status first;
  for (const std::string& parent : layout.parent_dirs()) {
    Status st = fs.remove_dir(parent);
    if (!st && st.error_number() != ENOENT && first) first = st;
  }
  return first;
}

Result<int> remove_stale_cgroups(const CgroupLayout& layout) {
  FsOps& fs = layout.fs();
  // Group by child name so a sandbox's directories in all hierarchies go
  // together and count once.
  std::map<std::string, std::vector<std::string>> by_name;
  for (const std::string& parent : layout.parent_dirs()) {
    Result<std::vector<std::string>> children = fs.list_subdirs(parent);
    if (!children) {
      if (children.status().error_number() == ENOENT) continue;
      return children.status();
    }
    for (const std::string& child : *children) by_name[child].push_back(join(parent, child));
  }
  int removed = 0;
  for (const auto& [name, dirs] : by_name) {
    Status st = drain_and_remove(fs, dirs);
    if (st) {
      ++removed;
    } else {
      spdlog::warn("stale cgroup {}: {}", name, st.message());
    }
  }
  return removed;
}

}  // namespace kiln::jail
