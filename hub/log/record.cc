#include "hub/log/record.h"

#include <openssl/evp.h>
#include <sodium.h>

#include <memory>
#include <stdexcept>

#include "hub/log/crc32c.h"

namespace hub::log::record {

namespace f = format;

namespace {

// SHA-256 through OpenSSL's EVP interface (which uses the CPU's SHA extensions), with
// the algorithm fetched once and one digest context per thread: fetching per call
// costs as much as hashing a record.
struct sha256_hasher {
  struct md_free {
    void operator()(EVP_MD* m) const { EVP_MD_free(m); }
  };
  struct ctx_free {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD, md_free> md{EVP_MD_fetch(nullptr, "SHA256", nullptr)};
  std::unique_ptr<EVP_MD_CTX, ctx_free> ctx{EVP_MD_CTX_new()};

  void operator()(std::span<const std::uint8_t> in, hash& out) {
    unsigned int n = 0;
    if (!md || !ctx || EVP_DigestInit_ex(ctx.get(), md.get(), nullptr) != 1 ||
        EVP_DigestUpdate(ctx.get(), in.data(), in.size()) != 1 || EVP_DigestFinal_ex(ctx.get(), out.data(), &n) != 1 ||
        n != out.size())
      throw std::runtime_error("OpenSSL cannot compute SHA-256 (is its default provider available?)");
  }
};

}  // namespace

int segment_format(const std::uint8_t* magic8) {
  if (std::memcmp(magic8, f::segment_magic.data(), 8) == 0) return 3;
  if (std::memcmp(magic8, f::segment_magic_v2.data(), 8) == 0) return 2;
  return 0;
}

hash hash_of(hash_kind k, std::span<const std::uint8_t> frame) {
  hash h{};
  if (k == hash_kind::sha256) {
    thread_local sha256_hasher sha;
    sha(frame, h);
  } else {
    crypto_generichash(h.data(), h.size(), frame.data(), frame.size(), nullptr, 0);
  }
  return h;
}

std::string to_hex(const hash& h) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(2 * h.size(), '0');
  for (std::size_t i = 0; i < h.size(); ++i) {
    out[2 * i] = digits[h[i] >> 4];
    out[2 * i + 1] = digits[h[i] & 15];
  }
  return out;
}

std::optional<hash> from_hex(std::string_view hex) {
  if (hex.size() != 2 * f::hash_bytes) return std::nullopt;
  hash h{};
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < h.size(); ++i) {
    int a = nibble(hex[2 * i]), b = nibble(hex[2 * i + 1]);
    if (a < 0 || b < 0) return std::nullopt;
    h[i] = static_cast<std::uint8_t>(a * 16 + b);
  }
  return h;
}

std::optional<std::size_t> frame_length(const std::uint8_t* h) {
  const std::uint32_t len = f::get_u32(h);
  if (len < f::body_fixed_bytes || len > f::max_body_bytes) return std::nullopt;
  const std::size_t topic_len = f::get_u16(h + f::at_topic_len);
  const std::size_t sig_len = f::get_u16(h + f::at_sig_len);
  const std::size_t env_len = f::get_u32(h + f::at_env_len);
  if (env_len > f::max_body_bytes || f::body_bytes_for(topic_len, sig_len, env_len) != len) return std::nullopt;
  return f::frame_bytes + len;
}

std::optional<parsed> parse(const std::uint8_t* p, std::size_t frame_len) {
  const std::size_t len = frame_len - f::frame_bytes;
  std::uint32_t crc = crc32c_extend(crc32c(std::span(p, 4)), std::span(p + f::frame_bytes, len));
  if (crc != f::get_u32(p + 4)) return std::nullopt;
  parsed r;
  r.off = f::get_u64(p + f::at_offset);
  r.log_time = static_cast<std::int64_t>(f::get_u64(p + f::at_log_time));
  r.id_hi = f::get_u64(p + f::at_id_hi);
  r.id_lo = f::get_u64(p + f::at_id_lo);
  std::memcpy(r.prev.data(), p + f::at_prev_hash, f::hash_bytes);
  const std::size_t topic_len = f::get_u16(p + f::at_topic_len);
  const std::size_t sig_len = f::get_u16(p + f::at_sig_len);
  const std::size_t env_len = f::get_u32(p + f::at_env_len);
  const std::uint8_t* at = p + f::record_header_bytes;
  r.envelope = std::span<const std::uint8_t>(at, env_len);
  r.signature = std::span<const std::uint8_t>(at + env_len, sig_len);
  r.topic = std::string_view(reinterpret_cast<const char*>(at + env_len + sig_len), topic_len);
  r.frame = std::span<const std::uint8_t>(p, frame_len);
  return r;
}

}  // namespace hub::log::record
