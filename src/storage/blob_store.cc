#include "storage/blob_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>

namespace kiln::storage {
namespace {

struct DirCloser {
  void operator()(DIR* d) const { closedir(d); }
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;

// Makes a rename or unlink inside `dir` durable: without this a power loss
// could forget the directory entry even though the data blocks are synced.
Status fsync_dir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return Status::from_errno("open(" + dir + ")");
  if (::fsync(fd.get()) != 0) return Status::from_errno("fsync(" + dir + ")");
  return Status::ok();
}

std::string parent_of(const std::string& path) { return path.substr(0, path.rfind('/')); }

// A file in the temp directory that is unlinked on destruction unless it was
// renamed into place: an error on any path leaves no debris behind.
class TempFile {
 public:
  static Result<TempFile> create(const std::string& dir, std::string_view tag) {
    std::string tmpl = dir + "/" + std::string(tag) + ".XXXXXX";
    int fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
    if (fd < 0) return Status::from_errno("mkostemp(" + tmpl + ")");
    return TempFile(UniqueFd(fd), std::move(tmpl));
  }
  TempFile(TempFile&& other) noexcept
      : fd_(std::move(other.fd_)), path_(std::move(other.path_)), live_(other.live_) {
    other.live_ = false;
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  TempFile& operator=(TempFile&&) = delete;
  ~TempFile() {
    fd_.reset();
    if (live_) ::unlink(path_.c_str());
  }

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }
  // close(2) reports delayed write errors on some filesystems (NFS), so the
  // descriptor is closed and checked before the file is published.
  Status close() {
    if (::close(fd_.release()) != 0) return Status::from_errno("close(" + path_ + ")");
    return Status::ok();
  }
  void renamed() { live_ = false; }

 private:
  TempFile(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  UniqueFd fd_;
  std::string path_;
  bool live_ = true;
};

Status write_all(int fd, std::string_view bytes, const std::string& what) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::from_errno("write(" + what + ")");
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return Status::ok();
}

Status bad_name(std::string_view sha256) {
  return Status::invalid("blob name '" + std::string(sha256.substr(0, 80)) + "' is not a sha256");
}

}  // namespace

bool is_sha256_hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Result<std::string> read_all(int fd, std::int64_t size_hint) {
  std::string out;
  if (size_hint > 0) out.reserve(static_cast<std::size_t>(size_hint));
  char buf[1 << 16];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::from_errno("read(blob)");
    if (n == 0) return out;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

BlobStore::BlobStore(std::string dir) : dir_(std::move(dir)) {}

std::string BlobStore::path_for(std::string_view sha256) const {
  std::string out = dir_;
  out += '/';
  out += sha256.substr(0, 2);
  out += '/';
  out += sha256.substr(2, 2);
  out += '/';
  out += sha256;
  return out;
}

Status BlobStore::ensure_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) == 0) {
    // The new directory's own entry must be durable before anything
    // published inside it is relied on.
    return fsync_dir(parent_of(path));
  }
  if (errno != EEXIST) return Status::from_errno("mkdir(" + path + ")");
  return Status::ok();
}

Status BlobStore::init() {
  if (dir_.empty()) return Status::invalid("BlobStore: no blob directory configured");
  if (Status s = ensure_dir(dir_); !s) return s;
  return ensure_dir(temp_dir());
}

Result<bool> BlobStore::contains(std::string_view sha256) {
  if (!is_sha256_hex(sha256)) return bad_name(sha256);
  struct stat st;
  std::string path = path_for(sha256);
  if (::stat(path.c_str(), &st) == 0) return true;
  if (errno == ENOENT) return false;
  return Status::from_errno("stat(" + path + ")");
}

Result<std::int64_t> BlobStore::size(std::string_view sha256) {
  if (!is_sha256_hex(sha256)) return bad_name(sha256);
  struct stat st;
  std::string path = path_for(sha256);
  if (::stat(path.c_str(), &st) != 0) return Status::from_errno("stat(" + path + ")");
  return static_cast<std::int64_t>(st.st_size);
}

Status BlobStore::put(std::string_view sha256, std::string_view bytes) {
  auto present = contains(sha256);
  if (!present) return present.status();
  if (*present) return Status::ok();  // complete by construction: see header

  if (Status s = init(); !s) return s;
  std::string final_path = path_for(sha256);
  std::string leaf_dir = parent_of(final_path);
  if (Status s = ensure_dir(parent_of(leaf_dir)); !s) return s;
  if (Status s = ensure_dir(leaf_dir); !s) return s;

  auto tmp = TempFile::create(temp_dir(), sha256.substr(0, 16));
  if (!tmp) return tmp.status();
  if (Status s = write_all(tmp->fd(), bytes, tmp->path()); !s) return s;
  // Data first, then the name: after the rename the blob must be whole.
  if (::fsync(tmp->fd()) != 0) return Status::from_errno("fsync(" + tmp->path() + ")");
  if (Status s = tmp->close(); !s) return s;
  if (::rename(tmp->path().c_str(), final_path.c_str()) != 0) {
    return Status::from_errno("rename(" + tmp->path() + " -> " + final_path + ")");
  }
  tmp->renamed();
  // The rename is durable only once the directory holding it is synced;
  // only then may a metadata row point at this blob.
  return fsync_dir(leaf_dir);
}

Result<UniqueFd> BlobStore::open(std::string_view sha256) {
  if (!is_sha256_hex(sha256)) return bad_name(sha256);
  std::string path = path_for(sha256);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::from_errno("open(" + path + ")");
  return fd;
}

Status BlobStore::remove(std::string_view sha256) {
  if (!is_sha256_hex(sha256)) return bad_name(sha256);
  std::string path = path_for(sha256);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return Status::ok();
    return Status::from_errno("unlink(" + path + ")");
  }
  return fsync_dir(parent_of(path));
}

Result<std::vector<std::string>> BlobStore::list() {
  std::vector<std::string> out;
  auto is_fan = [](const char* n) {
    return std::strlen(n) == 2 && std::isxdigit(static_cast<unsigned char>(n[0])) &&
           std::isxdigit(static_cast<unsigned char>(n[1]));
  };
  DirPtr top(::opendir(dir_.c_str()));
  if (!top) {
    if (errno == ENOENT) return out;
    return Status::from_errno("opendir(" + dir_ + ")");
  }
  while (dirent* a = ::readdir(top.get())) {
    if (!is_fan(a->d_name)) continue;  // ".", "..", "tmp"
    std::string mid = dir_ + "/" + a->d_name;
    DirPtr mid_dir(::opendir(mid.c_str()));
    if (!mid_dir) return Status::from_errno("opendir(" + mid + ")");
    while (dirent* b = ::readdir(mid_dir.get())) {
      if (!is_fan(b->d_name)) continue;
      std::string leaf = mid + "/" + b->d_name;
      DirPtr leaf_dir(::opendir(leaf.c_str()));
      if (!leaf_dir) return Status::from_errno("opendir(" + leaf + ")");
      while (dirent* c = ::readdir(leaf_dir.get())) {
        std::string_view name = c->d_name;
        if (name == "." || name == "..") continue;
        if (!is_sha256_hex(name) || name.substr(0, 2) != a->d_name ||
            name.substr(2, 2) != b->d_name) {
          spdlog::warn("event=blob_unexpected_file path=\"{}/{}\"", leaf, name);
          continue;
        }
        out.emplace_back(name);
      }
    }
  }
  return out;
}

Result<int> BlobStore::clear_temp() {
  int removed = 0;
  std::string tmp = temp_dir();
  DirPtr d(::opendir(tmp.c_str()));
  if (!d) {
    if (errno == ENOENT) return 0;
    return Status::from_errno("opendir(" + tmp + ")");
  }
  while (dirent* e = ::readdir(d.get())) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string path = tmp + "/" + std::string(name);
    if (::unlink(path.c_str()) != 0) {
      if (errno == ENOENT) continue;
      return Status::from_errno("unlink(" + path + ")");
    }
    spdlog::info("event=drive_recover_temp_removed path=\"{}\"", path);
    ++removed;
  }
  if (removed > 0) {
    if (Status s = fsync_dir(tmp); !s) return s;
  }
  return removed;
}

}  // namespace kiln::storage
