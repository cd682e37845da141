// Who may connect, publish and read what: the ACL file, CURVE key files, and the
// decisions the broker asks for. Pure data and functions; the broker owns the sockets
// (including the ZAP handler's) and calls these on its loop thread.
//
// ACL file (YAML):
//   identities:
//     - name: unmiss-adapter                # the identity, shown in logs and status
//       public_key: "<40-char Z85 CURVE public key>"
//       entities: [peacekeeping]            # entities whose events it may publish
//       publish: ["peacekeeping.SSD.>"]     # topic patterns it may publish (default: ">")
//       subscribe: ["*.SSD.>"]              # patterns it may read (default: none)
//       clearance: internal                 # public | internal | confidential | strictly_confidential
//       signing_key: "<64 hex digits Ed25519 public key>"   # optional
//       require_signature: false            # PUBs must carry a valid signature
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hub/common/status.h"
#include "schemas/events_generated.h"

namespace hub::security {

struct identity {
  std::string name;
  std::string public_key_z85;                  // CURVE public key (Z85, 40 chars)
  std::vector<schema::Entity> entities;        // entities it may publish as
  std::vector<std::string> publish = {">"};    // topics it may publish
  std::vector<std::string> subscribe;          // patterns it may read
  schema::Classification clearance = schema::Classification::public_;
  std::vector<std::uint8_t> signing_key;       // Ed25519 public key (32 bytes) or empty
  bool require_signature = false;
};

class acl {
 public:
  // Loads and checks an ACL file; errors name the file, line and key.
  static result<std::shared_ptr<const acl>> load(const std::filesystem::path& path);

  [[nodiscard]] const identity* by_public_key(std::string_view z85) const;
  [[nodiscard]] const identity* by_name(std::string_view name) const;
  [[nodiscard]] const std::vector<identity>& identities() const { return ids_; }

 private:
  std::vector<identity> ids_;
};

// May this identity publish this envelope (entity from the envelope, topic derived)?
// Nullopt if yes, else why not.
[[nodiscard]] std::optional<std::string> check_publish(const identity& id, const schema::Envelope& e,
                                                       std::string_view topic);

// May this identity subscribe to this pattern? It may if an allowed pattern covers every
// topic the requested one can match. Nullopt if yes, else why not.
[[nodiscard]] std::optional<std::string> check_subscribe(const identity& id, std::string_view pattern);

// May an event with this topic and classification go to this identity?
[[nodiscard]] bool may_receive(const identity& id, std::string_view topic, schema::Classification c);

// True if every topic matched by `inner` is matched by `outer`.
[[nodiscard]] bool pattern_covers(std::string_view outer, std::string_view inner);

// Verifies an Ed25519 signature (64 bytes) over the envelope bytes.
[[nodiscard]] bool verify_signature(const std::vector<std::uint8_t>& public_key,
                                    std::span<const std::uint8_t> envelope, std::span<const std::uint8_t> signature);

// Key files. A CURVE or signing secret key file must be readable by its owner alone;
// reading one that others can read is refused.
struct curve_keypair {
  std::string public_z85;
  std::string secret_z85;
};
[[nodiscard]] result<curve_keypair> generate_curve_keypair();
[[nodiscard]] status write_key_files(const std::filesystem::path& base, const curve_keypair& kp);  // base.key + base.pub
[[nodiscard]] result<std::string> read_secret_key_file(const std::filesystem::path& path);
[[nodiscard]] result<std::string> read_public_key_file(const std::filesystem::path& path);

}  // namespace hub::security
