#include "hub/broker/zmtp_curve.h"

#include "hub/broker/zmtp_wire.h"

#include <sodium.h>

#include <fmt/format.h>

#include <cstring>
#include <stdexcept>
#include <vector>

namespace hub::broker {

namespace {

// RFC 26 sizes. Commands' data are counted after their name.
constexpr std::size_t mac = crypto_box_MACBYTES;  // 16
constexpr std::size_t hello_size = 200;           // the whole command body, "\x05HELLO" included
constexpr std::size_t hello_data = hello_size - 6;
constexpr std::size_t hello_key_at = 74, hello_nonce_at = 106, hello_box_at = 114;  // after 2 version + 72 padding
constexpr std::size_t hello_box = 64 + mac;
constexpr std::size_t cookie_size = 16 + 64 + mac;  // long nonce + secretbox [C' + s']
constexpr std::size_t initiate_nonce_at = cookie_size, initiate_box_at = cookie_size + 8;
constexpr std::size_t initiate_plain_min = 32 + 16 + 64 + mac;  // C + vouch nonce + vouch box
constexpr std::size_t initiate_data_min = initiate_box_at + initiate_plain_min + mac;  // 248
constexpr std::size_t message_name = 8;                                             // "\x07MESSAGE"
constexpr std::size_t message_overhead = message_name + 8 + mac + 1;                // + nonce, MAC, flags

static_assert(crypto_box_PUBLICKEYBYTES == 32 && crypto_box_SECRETKEYBYTES == 32 && crypto_box_BEFORENMBYTES == 32 &&
              crypto_secretbox_KEYBYTES == 32 && crypto_secretbox_MACBYTES == mac && crypto_box_NONCEBYTES == 24);

using nonce = std::array<unsigned char, crypto_box_NONCEBYTES>;

const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }
unsigned char* bytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

// A 16-byte prefix and an 8-byte short nonce, or an 8-byte prefix and a 16-byte long one.
nonce make_nonce(const char* prefix, std::size_t prefix_size, const void* rest) {
  nonce n;
  std::memcpy(n.data(), prefix, prefix_size);
  std::memcpy(n.data() + prefix_size, rest, n.size() - prefix_size);
  return n;
}
nonce short_nonce(const char (&prefix)[17], std::uint64_t v) {
  std::string be;
  zmtp::put_be64(be, v);
  return make_nonce(prefix, 16, be.data());
}

void append(std::string& out, const void* p, std::size_t n) { out.append(static_cast<const char*>(p), n); }

}  // namespace

curve_server::curve_server(const curve_key& secret) : secret_(secret) {
  if (sodium_init() == -1) throw std::runtime_error("libsodium cannot be initialised");
  crypto_scalarmult_base(public_.data(), secret_.data());
}

curve_server::~curve_server() {
  sodium_memzero(secret_.data(), secret_.size());
  sodium_memzero(cookie_key_.data(), cookie_key_.size());
  sodium_memzero(short_secret_.data(), short_secret_.size());
  sodium_memzero(precomputed_.data(), precomputed_.size());
}

std::string curve_server::on_hello(std::string_view data, std::string& out) {
  if (welcomed_) return "a command out of order: a second HELLO";
  if (data.size() != hello_data) return fmt::format("HELLO is not {} bytes but {}", hello_size, data.size() + 6);
  if (data[0] != 1 || data[1] != 0)
    return fmt::format("HELLO asks for CurveZMQ {}.{}; the hub speaks 1.0", static_cast<std::uint8_t>(data[0]),
                       static_cast<std::uint8_t>(data[1]));

  // The signature box [64 zeros] from C' to S proves the client knows our public key.
  curve_key client_short;
  std::memcpy(client_short.data(), data.data() + hello_key_at, 32);
  const nonce hn = make_nonce("CurveZMQHELLO---", 16, data.data() + hello_nonce_at);
  std::array<unsigned char, 64> zeros;
  if (crypto_box_open_easy(zeros.data(), bytes(data) + hello_box_at, hello_box, hn.data(), client_short.data(),
                           secret_.data()) != 0)
    return "its HELLO signature box does not open: the client does not have the hub's public key";
  if (!sodium_is_zero(zeros.data(), zeros.size())) return "its HELLO signature box holds more than zeros";

  client_short_ = client_short;
  crypto_box_keypair(short_public_.data(), short_secret_.data());
  crypto_secretbox_keygen(cookie_key_.data());

  // Cookie: long nonce + secretbox [C' + s'] under this connection's cookie key.
  std::array<unsigned char, 64> cookie_plain;
  std::memcpy(cookie_plain.data(), client_short_.data(), 32);
  std::memcpy(cookie_plain.data() + 32, short_secret_.data(), 32);
  std::array<unsigned char, 16> cookie_long;
  randombytes_buf(cookie_long.data(), cookie_long.size());
  const nonce cn = make_nonce("COOKIE--", 8, cookie_long.data());
  // WELCOME box plaintext: S' + cookie.
  std::array<unsigned char, 32 + cookie_size> welcome_plain;
  std::memcpy(welcome_plain.data(), short_public_.data(), 32);
  std::memcpy(welcome_plain.data() + 32, cookie_long.data(), 16);
  crypto_secretbox_easy(welcome_plain.data() + 48, cookie_plain.data(), cookie_plain.size(), cn.data(),
                        cookie_key_.data());
  sodium_memzero(cookie_plain.data(), cookie_plain.size());

  std::array<unsigned char, 16> welcome_long;
  randombytes_buf(welcome_long.data(), welcome_long.size());
  const nonce wn = make_nonce("WELCOME-", 8, welcome_long.data());
  std::array<unsigned char, 32 + cookie_size + mac> welcome_box;  // 144
  if (crypto_box_easy(welcome_box.data(), welcome_plain.data(), welcome_plain.size(), wn.data(), client_short_.data(),
                      secret_.data()) != 0)
    return "its HELLO names a short-term key that cannot be used";

  std::string welcome;
  welcome.reserve(welcome_long.size() + welcome_box.size());
  append(welcome, welcome_long.data(), welcome_long.size());
  append(welcome, welcome_box.data(), welcome_box.size());
  zmtp::put_command(out, "WELCOME", welcome);
  welcomed_ = true;
  return {};
}

std::string curve_server::on_initiate(std::string_view data, std::string_view metadata, std::string& out) {
  if (!welcomed_) return "a command out of order: INITIATE before HELLO";
  if (ready_) return "a command out of order: a second INITIATE";
  if (data.size() < initiate_data_min)
    return fmt::format("INITIATE is {} bytes, under the {} it needs", data.size() + 9, initiate_data_min + 9);

  // The cookie must be the one our WELCOME gave, naming the same C' and s'.
  const nonce cn = make_nonce("COOKIE--", 8, data.data());
  std::array<unsigned char, 64> cookie_plain;
  if (crypto_secretbox_open_easy(cookie_plain.data(), bytes(data) + 16, cookie_size - 16, cn.data(),
                                 cookie_key_.data()) != 0)
    return "a cookie that is not ours";
  const bool same = sodium_memcmp(cookie_plain.data(), client_short_.data(), 32) == 0 &&
                    sodium_memcmp(cookie_plain.data() + 32, short_secret_.data(), 32) == 0;
  sodium_memzero(cookie_plain.data(), cookie_plain.size());
  if (!same) return "a cookie that is not ours";

  if (crypto_box_beforenm(precomputed_.data(), client_short_.data(), short_secret_.data()) != 0)
    return "its short-term key cannot be used";
  const std::uint64_t in_nonce = zmtp::be64(data.data() + initiate_nonce_at);
  const nonce in = make_nonce("CurveZMQINITIATE", 16, data.data() + initiate_nonce_at);
  const std::size_t box_size = data.size() - initiate_box_at;
  std::vector<unsigned char> plain(box_size - mac);
  if (crypto_box_open_easy_afternm(plain.data(), bytes(data) + initiate_box_at, box_size, in.data(),
                                   precomputed_.data()) != 0)
    return "its INITIATE box does not open";

  // The vouch [C' + S] from C to S' binds the long-term key C to this connection.
  curve_key client_key;
  std::memcpy(client_key.data(), plain.data(), 32);
  const nonce vn = make_nonce("VOUCH---", 8, plain.data() + 32);
  std::array<unsigned char, 64> vouch;
  if (crypto_box_open_easy(vouch.data(), plain.data() + 48, 64 + mac, vn.data(), client_key.data(),
                           short_secret_.data()) != 0)
    return "its INITIATE vouch does not open";
  if (sodium_memcmp(vouch.data(), client_short_.data(), 32) != 0)
    return "INITIATE vouch names another short-term key";
  if (sodium_memcmp(vouch.data() + 32, public_.data(), 32) != 0) return "INITIATE vouch does not name this server";

  const std::string_view props(reinterpret_cast<const char*>(plain.data()) + initiate_plain_min,
                               plain.size() - initiate_plain_min);
  bool broken = false;
  zmtp::find_property(props, "Socket-Type", broken);
  if (broken) return "its INITIATE metadata does not parse";

  // READY: short nonce + box [metadata] from S' to C'.
  const std::uint64_t n = send_nonce_++;
  const nonce rn = short_nonce("CurveZMQREADY---", n);
  std::string ready;
  zmtp::put_be64(ready, n);
  ready.resize(8 + mac + metadata.size());
  crypto_box_easy_afternm(bytes(ready) + 8, bytes(metadata), metadata.size(), rn.data(), precomputed_.data());
  zmtp::put_command(out, "READY", ready);

  client_key_ = client_key;
  client_metadata_.assign(props);
  recv_nonce_ = in_nonce;
  ready_ = true;
  return {};
}

std::string curve_server::open(std::string_view data, std::uint8_t& flags, std::string& plain) {
  if (!ready_) return "a command out of order: MESSAGE before READY";
  if (data.size() < message_overhead - message_name)
    return fmt::format("a MESSAGE of {} bytes, under the {} a box needs", data.size() + message_name,
                       message_overhead);
  const std::uint64_t n = zmtp::be64(data.data());
  if (n <= recv_nonce_) return "a MESSAGE whose nonce does not increase (replay)";
  const nonce mn = make_nonce("CurveZMQMESSAGEC", 16, data.data());
  const std::size_t box_size = data.size() - 8;
  plain.resize(box_size - mac);
  if (crypto_box_open_easy_afternm(bytes(plain), bytes(data) + 8, box_size, mn.data(), precomputed_.data()) != 0) {
    plain.clear();
    return "a MESSAGE box that does not open";
  }
  recv_nonce_ = n;
  flags = static_cast<std::uint8_t>(plain[0] & 0x03);  // MORE, COMMAND; as libzmq, other bits are ignored
  plain.erase(0, 1);
  return {};
}

void curve_server::seal(std::uint8_t flags, std::string_view plain, std::string& out) {
  if (!ready_) throw std::logic_error("curve_server::seal before READY");
  // As libzmq 4.3: a data frame with no MORE or COMMAND bit outside; they are in the box.
  const std::size_t body = message_overhead + plain.size();
  zmtp::put_frame_header(out, 0, body);
  out.append("\x07MESSAGE", message_name);
  const std::uint64_t n = send_nonce_++;
  zmtp::put_be64(out, n);
  const std::size_t box_at = out.size();
  // flags + plain go where the box's text starts; libsodium encrypts in place.
  out.resize(box_at + mac + 1 + plain.size());
  auto* box = bytes(out) + box_at;
  box[mac] = static_cast<unsigned char>(flags & 0x03);
  if (!plain.empty()) std::memcpy(box + mac + 1, plain.data(), plain.size());
  const nonce mn = short_nonce("CurveZMQMESSAGES", n);
  crypto_box_easy_afternm(box, box + mac, 1 + plain.size(), mn.data(), precomputed_.data());
}

std::size_t curve_server::sealed_size(std::size_t plain_size) {
  const std::size_t body = message_overhead + plain_size;
  return zmtp::frame_header_size(body) + body;
}

}  // namespace hub::broker
