#include "adapters/sdk/spool.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <map>

#include <spdlog/spdlog.h>

#include "adapters/sdk/sdk.h"

namespace hub::sdk::detail {
namespace {

constexpr char magic[8] = {'H', 'U', 'B', 'S', 'P', 'L', '0', '1'};
constexpr std::uint8_t kind_put = 1;
constexpr std::uint8_t kind_done = 2;
constexpr std::size_t header_bytes = 8;       // length + crc
constexpr std::size_t body_prefix = 1 + 8;    // kind + key
constexpr std::uint32_t max_body = 64u << 20; // larger than any envelope the hub accepts

std::array<std::uint32_t, 256> make_table() {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}

void put_u32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
std::uint32_t get_u32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}
void put_u64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
std::uint64_t get_u64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

std::vector<std::uint8_t> frame(std::uint8_t kind, std::uint64_t key, std::span<const std::uint8_t> bytes) {
  std::vector<std::uint8_t> rec(header_bytes + body_prefix + bytes.size());
  std::uint8_t* body = rec.data() + header_bytes;
  body[0] = kind;
  put_u64(body + 1, key);
  if (!bytes.empty()) std::memcpy(body + body_prefix, bytes.data(), bytes.size());
  auto body_len = static_cast<std::uint32_t>(body_prefix + bytes.size());
  put_u32(rec.data(), body_len);
  put_u32(rec.data() + 4, crc32({body, body_len}));
  return rec;
}

bool write_all(int fd, const std::uint8_t* p, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

}  // namespace

std::uint32_t crc32(std::span<const std::uint8_t> bytes) {
  static const auto table = make_table();
  std::uint32_t c = 0xFFFFFFFFu;
  for (auto b : bytes) c = table[(c ^ b) & 0xff] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

void spool::fail(const std::string& what) const {
  throw error(error_kind::spool_error, "spool " + path_.string() + ": " + what);
}

spool::spool(std::filesystem::path path, std::uint64_t max_bytes)
    : path_(std::move(path)), max_bytes_(max_bytes) {
  if (max_bytes_ < 4096) fail("spool_max_bytes must be at least 4096");
  std::error_code ec;
  if (path_.has_parent_path()) std::filesystem::create_directories(path_.parent_path(), ec);
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) fail(std::string("cannot open: ") + std::strerror(errno) + "; check the path and its permissions");

  // Read the whole file: it is bounded by max_bytes.
  std::vector<std::uint8_t> data;
  {
    std::uint8_t buf[65536];
    for (;;) {
      ssize_t r = ::read(fd_, buf, sizeof buf);
      if (r < 0) {
        if (errno == EINTR) continue;
        fail(std::string("cannot read: ") + std::strerror(errno));
      }
      if (r == 0) break;
      data.insert(data.end(), buf, buf + r);
    }
  }
  if (!data.empty() && (data.size() < sizeof magic || std::memcmp(data.data(), magic, sizeof magic) != 0)) {
    if (data.size() < sizeof magic && std::memcmp(data.data(), magic, data.size()) == 0) {
      data.clear();  // a torn header: nothing was stored yet
    } else {
      ::close(fd_);
      fd_ = -1;
      fail("not a spool file (magic \"HUBSPL01\" missing); move it away or choose another spool_file");
    }
  }

  // Replay: puts minus dones. A record that does not frame or check is a torn tail.
  std::map<std::uint64_t, std::vector<std::uint8_t>> live;
  std::size_t pos = data.empty() ? 0 : sizeof magic;
  std::size_t records = 0;
  while (pos < data.size()) {
    std::size_t left = data.size() - pos;
    bool ok = left >= header_bytes;
    std::uint32_t len = 0;
    if (ok) {
      len = get_u32(data.data() + pos);
      ok = len >= body_prefix && len <= max_body && len <= left - header_bytes;
    }
    if (ok) ok = crc32({data.data() + pos + header_bytes, len}) == get_u32(data.data() + pos + 4);
    if (!ok) {
      spdlog::warn("spool {}: torn tail at byte {} after {} records; truncated {} bytes", path_.string(), pos,
                   records, left);
      break;
    }
    const std::uint8_t* body = data.data() + pos + header_bytes;
    std::uint64_t key = get_u64(body + 1);
    if (body[0] == kind_put)
      live[key] = std::vector<std::uint8_t>(body + body_prefix, body + len);
    else if (body[0] == kind_done)
      live.erase(key);
    next_key_ = std::max(next_key_, key + 1);
    pos += header_bytes + len;
    ++records;
  }
  for (auto& [key, bytes] : live) {
    live_keys_.insert(key);
    loaded_.push_back({key, std::move(bytes)});
  }
  if (!loaded_.empty())
    spdlog::info("spool {}: {} unacknowledged events loaded; they will be sent again", path_.string(),
                 loaded_.size());
  compact();
}

spool::~spool() {
  if (fd_ >= 0) ::close(fd_);
}

std::vector<spool::entry> spool::take_loaded() { return std::move(loaded_); }

void spool::write_record(std::uint8_t kind, std::uint64_t key, std::span<const std::uint8_t> bytes) {
  auto rec = frame(kind, key, bytes);
  if (!write_all(fd_, rec.data(), rec.size()))
    fail(std::string("cannot write: ") + std::strerror(errno) + "; free disk space or move the spool");
  size_ += rec.size();
}

// Rewrites the file with only the live records: to a temporary file, fsync, rename.
void spool::compact() {
  std::vector<std::uint8_t> out(magic, magic + sizeof magic);
  if (!live_keys_.empty()) {
    // Read the live puts back from the current file.
    std::vector<std::uint8_t> data;
    if (::lseek(fd_, 0, SEEK_SET) < 0) fail(std::string("cannot seek: ") + std::strerror(errno));
    std::uint8_t buf[65536];
    for (;;) {
      ssize_t r = ::read(fd_, buf, sizeof buf);
      if (r < 0) {
        if (errno == EINTR) continue;
        fail(std::string("cannot read: ") + std::strerror(errno));
      }
      if (r == 0) break;
      data.insert(data.end(), buf, buf + r);
    }
    std::size_t pos = data.size() >= sizeof magic ? sizeof magic : data.size();
    std::set<std::uint64_t> written;
    while (pos + header_bytes <= data.size()) {
      std::uint32_t len = get_u32(data.data() + pos);
      if (len < body_prefix || len > data.size() - pos - header_bytes) break;
      const std::uint8_t* body = data.data() + pos + header_bytes;
      if (crc32({body, len}) != get_u32(data.data() + pos + 4)) break;
      std::uint64_t key = get_u64(body + 1);
      if (body[0] == kind_put && live_keys_.count(key) != 0 && written.insert(key).second)
        out.insert(out.end(), data.data() + pos, data.data() + pos + header_bytes + len);
      pos += header_bytes + len;
    }
  }
  auto tmp = path_;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) fail(std::string("cannot create ") + tmp.string() + ": " + std::strerror(errno));
  if (!write_all(fd, out.data(), out.size()) || ::fsync(fd) != 0) {
    int e = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    fail(std::string("cannot write ") + tmp.string() + ": " + std::strerror(e) +
         "; free disk space or move the spool");
  }
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    int e = errno;
    ::close(fd);
    fail(std::string("cannot replace the spool: ") + std::strerror(e));
  }
  if (path_.has_parent_path()) {
    int dfd = ::open(path_.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      (void)::fsync(dfd);
      ::close(dfd);
    }
  }
  ::close(fd_);
  fd_ = fd;
  if (::lseek(fd_, 0, SEEK_END) < 0) fail(std::string("cannot seek: ") + std::strerror(errno));
  size_ = out.size();
}

std::optional<std::uint64_t> spool::append(std::span<const std::uint8_t> bytes) {
  std::uint64_t need = header_bytes + body_prefix + bytes.size();
  if (size_ + need > max_bytes_) {
    compact();
    if (size_ + need > max_bytes_) return std::nullopt;
  }
  std::uint64_t key = next_key_++;
  write_record(kind_put, key, bytes);
  live_keys_.insert(key);
  return key;
}

void spool::sync() {
  if (::fdatasync(fd_) != 0) fail(std::string("cannot sync: ") + std::strerror(errno));
}

void spool::mark_done(std::uint64_t key) {
  if (live_keys_.erase(key) == 0) return;
  if (live_keys_.empty()) {
    // Nothing is waiting: start the file afresh (cheap, and keeps it small).
    if (::ftruncate(fd_, sizeof magic) != 0 || ::lseek(fd_, 0, SEEK_END) < 0)
      fail(std::string("cannot truncate: ") + std::strerror(errno));
    size_ = sizeof magic;
    return;
  }
  write_record(kind_done, key, {});
}

}  // namespace hub::sdk::detail
