#include "hub/log/file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

namespace hub::log {
namespace {

status errno_status(int err, const std::string& what) {
  std::string m = what + ": " + std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) return status::no_space(std::move(m));
  return status::io_error(std::move(m));
}

class posix_file final : public file {
 public:
  posix_file(int fd, std::filesystem::path p) : fd_(fd), path_(std::move(p)) {}
  ~posix_file() override { ::close(fd_); }
  posix_file(const posix_file&) = delete;
  posix_file& operator=(const posix_file&) = delete;

  status write_at(std::uint64_t pos, std::span<const std::uint8_t> data) override {
    std::size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::pwrite(fd_, data.data() + done, data.size() - done,
                           static_cast<off_t>(pos + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno_status(errno, path_.string() + ": write of " + std::to_string(data.size()) +
                                       " bytes at byte " + std::to_string(pos) + " failed");
      }
      if (n == 0) return status::no_space(path_.string() + ": write returned 0 bytes");
      done += static_cast<std::size_t>(n);
    }
    return status::ok();
  }

  result<std::size_t> read_at(std::uint64_t pos, std::span<std::uint8_t> out) const override {
    std::size_t done = 0;
    while (done < out.size()) {
      ssize_t n = ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(pos + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno_status(errno, path_.string() + ": read at byte " + std::to_string(pos) + " failed");
      }
      if (n == 0) break;
      done += static_cast<std::size_t>(n);
    }
    return done;
  }

  status sync() override {
    if (::fdatasync(fd_) != 0) return errno_status(errno, path_.string() + ": fdatasync failed");
    return status::ok();
  }

  status truncate(std::uint64_t size) override {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0)
      return errno_status(errno, path_.string() + ": truncate to " + std::to_string(size) + " bytes failed");
    return status::ok();
  }

  result<std::uint64_t> size() const override {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) return errno_status(errno, path_.string() + ": stat failed");
    return static_cast<std::uint64_t>(st.st_size);
  }

 private:
  int fd_;
  std::filesystem::path path_;
};

class posix_lock final : public dir_lock {
 public:
  explicit posix_lock(int fd) : fd_(fd) {}
  ~posix_lock() override { ::close(fd_); }  // closing the descriptor releases the flock
  posix_lock(const posix_lock&) = delete;
  posix_lock& operator=(const posix_lock&) = delete;

 private:
  int fd_;
};

class posix_file_system final : public file_system {
 public:
  result<std::unique_ptr<file>> open(const std::filesystem::path& p, open_mode mode) override {
    int flags = O_CLOEXEC;
    switch (mode) {
      case open_mode::read_only: flags |= O_RDONLY; break;
      case open_mode::read_write: flags |= O_RDWR | O_CREAT; break;
      case open_mode::truncate: flags |= O_RDWR | O_CREAT | O_TRUNC; break;
    }
    int fd = ::open(p.c_str(), flags, 0644);
    if (fd < 0) return errno_status(errno, p.string() + ": cannot open");
    return std::unique_ptr<file>(std::make_unique<posix_file>(fd, p));
  }

  status rename(const std::filesystem::path& from, const std::filesystem::path& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0)
      return errno_status(errno, "rename " + from.string() + " to " + to.string() + " failed");
    return status::ok();
  }

  status remove(const std::filesystem::path& p) override {
    if (::unlink(p.c_str()) != 0 && errno != ENOENT)
      return errno_status(errno, p.string() + ": cannot remove");
    return status::ok();
  }

  status sync_dir(const std::filesystem::path& dir) override {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno_status(errno, dir.string() + ": cannot open directory to sync");
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return errno_status(err, dir.string() + ": directory fsync failed");
    return status::ok();
  }

  status create_dirs(const std::filesystem::path& dir) override {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return errno_status(ec.value(), dir.string() + ": cannot create directory");
    if (!std::filesystem::is_directory(dir, ec))
      return status::io_error(dir.string() + ": exists but is not a directory");
    return status::ok();
  }

  result<std::vector<std::string>> list(const std::filesystem::path& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return errno_status(errno, dir.string() + ": cannot list directory");
    std::vector<std::string> names;
    errno = 0;
    while (dirent* e = ::readdir(d)) {
      if (e->d_type == DT_REG || e->d_type == DT_UNKNOWN) names.emplace_back(e->d_name);
    }
    int err = errno;
    ::closedir(d);
    if (err != 0) return errno_status(err, dir.string() + ": cannot list directory");
    return names;
  }

  result<std::unique_ptr<dir_lock>> lock(const std::filesystem::path& p) override {
    int fd = ::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return errno_status(errno, p.string() + ": cannot open lock file");
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      char buf[32] = {};
      ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
      ::close(fd);
      if (err == EWOULDBLOCK) {
        std::string pid = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string("unknown");
        while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
        return status::unavailable(p.parent_path().string() + " is in use by another process (pid " +
                                   pid + " holds " + p.filename().string() +
                                   "); stop it or choose another data directory");
      }
      return errno_status(err, p.string() + ": cannot lock");
    }
    std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
      int err = errno;
      ::close(fd);
      return errno_status(err, p.string() + ": cannot write pid into lock file");
    }
    return std::unique_ptr<dir_lock>(std::make_unique<posix_lock>(fd));
  }
};

}  // namespace

file_system& default_file_system() {
  static posix_file_system fs;
  return fs;
}

}  // namespace hub::log
