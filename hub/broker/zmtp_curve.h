// The server side of the CURVE security mechanism (RFC 26/CurveZMQ) for hubd's own ZMTP
// client socket (zmtp_router.h): the handshake (HELLO -> WELCOME, INITIATE -> READY) and
// the MESSAGE boxes after it. Boxes are libsodium's crypto_box (Curve25519, XSalsa20,
// Poly1305), as libzmq's own CURVE uses; a libzmq CURVE client talks to it unchanged.
//
// Each connection has its own curve_server: between WELCOME and INITIATE it holds the
// client's short-term key, its own and the cookie key, as libzmq's server does, and
// INITIATE must bring back the cookie that WELCOME sent.
//
// Threading: one connection's object is used by one thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace hub::broker {

using curve_key = std::array<std::uint8_t, 32>;

class curve_server {
 public:
  // `secret` is the hub's long-term secret key; its public key is derived.
  explicit curve_server(const curve_key& secret);
  ~curve_server();  // wipes the short-term keys
  curve_server(const curve_server&) = delete;
  curve_server& operator=(const curve_server&) = delete;

  // Each step takes a command's data (after its name) and appends the whole reply command
  // frame (ZMTP header included) to `out`. It returns an empty string, or why the
  // command is refused; the connection is then closed.
  std::string on_hello(std::string_view data, std::string& out);
  // `metadata` is the server's READY properties (Socket-Type...), already encoded.
  std::string on_initiate(std::string_view data, std::string_view metadata, std::string& out);

  // After INITIATE: the client's long-term public key and the metadata it sent.
  [[nodiscard]] const curve_key& client_key() const { return client_key_; }
  [[nodiscard]] const std::string& client_metadata() const { return client_metadata_; }
  [[nodiscard]] bool ready() const { return ready_; }

  // A MESSAGE command's data -> the frame it carries: `flags` holds its MORE (0x01) and
  // COMMAND (0x02) bits, `plain` its bytes (replaced). Empty string, or why it is refused
  // (a box that does not open, a nonce not above the last one).
  std::string open(std::string_view data, std::uint8_t& flags, std::string& plain);
  // Appends one MESSAGE command frame carrying `plain`; `flags` are the boxed frame's
  // MORE (0x01) and COMMAND (0x02) bits (a PONG after the handshake is a boxed command).
  void seal(std::uint8_t flags, std::string_view plain, std::string& out);
  // The size of the MESSAGE command frame that seal() appends for `plain_size` bytes.
  static std::size_t sealed_size(std::size_t plain_size);

 private:
  curve_key secret_{}, public_{};
  curve_key cookie_key_{};              // for this connection's cookie
  curve_key short_secret_{}, short_public_{};  // the server's short-term keys (s', S')
  curve_key client_short_{};            // C'
  curve_key client_key_{};              // C
  std::array<std::uint8_t, 32> precomputed_{};  // crypto_box_beforenm(C', s')
  std::string client_metadata_;
  std::uint64_t send_nonce_ = 1;
  std::uint64_t recv_nonce_ = 0;  // the last short nonce the client used
  bool welcomed_ = false, ready_ = false;
};

}  // namespace hub::broker
