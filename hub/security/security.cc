#include "hub/security/security.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <sodium.h>
#include <yaml-cpp/yaml.h>
#include <zmq.h>

#include "hub/topic/topic.h"
#include "schemas/schema.h"

namespace hub::security {
namespace {

std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    auto dot = s.find('.', start);
    out.push_back(s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) return out;
    start = dot + 1;
  }
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  return s.substr(i);
}

std::optional<std::vector<std::uint8_t>> from_hex(std::string_view h) {
  if (h.size() % 2 != 0) return std::nullopt;
  std::vector<std::uint8_t> out(h.size() / 2);
  std::size_t len = 0;
  if (sodium_hex2bin(out.data(), out.size(), h.data(), h.size(), nullptr, &len, nullptr) != 0 || len != out.size())
    return std::nullopt;
  return out;
}

}  // namespace

result<std::shared_ptr<const acl>> acl::load(const std::filesystem::path& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path.string());
  } catch (const YAML::BadFile&) {
    return status::config_error(fmt::format("{}: cannot read the ACL file", path.string()));
  } catch (const YAML::ParserException& e) {
    return status::config_error(fmt::format("{}:{}: YAML syntax error: {}", path.string(), e.mark.line + 1, e.msg));
  }
  std::vector<std::string> errors;
  auto where = [&](const YAML::Node& n) { return fmt::format("{}:{}", path.string(), n.Mark().line + 1); };
  auto a = std::make_shared<acl>();
  auto ids = root["identities"];
  if (!ids || !ids.IsSequence())
    return status::config_error(fmt::format("{}:1: the ACL needs a list 'identities'", path.string()));
  for (const auto& n : ids) {
    identity id;
    for (auto it = n.begin(); it != n.end(); ++it) {
      auto k = it->first.as<std::string>();
      static const std::vector<std::string> known = {"name",      "public_key", "entities",  "publish",
                                                     "subscribe", "clearance",  "signing_key", "require_signature"};
      if (std::find(known.begin(), known.end(), k) == known.end())
        errors.push_back(fmt::format("{}: unknown key '{}'", where(it->first), k));
    }
    try {
      id.name = n["name"] ? n["name"].as<std::string>() : "";
      if (id.name.empty()) errors.push_back(fmt::format("{}: an identity needs a 'name'", where(n)));
      id.public_key_z85 = n["public_key"] ? n["public_key"].as<std::string>() : "";
      std::uint8_t raw[32];
      if (id.public_key_z85.size() != 40 || zmq_z85_decode(raw, id.public_key_z85.c_str()) == nullptr)
        errors.push_back(fmt::format("{}: identity '{}': public_key must be a 40-character Z85 CURVE key",
                                     where(n["public_key"] ? n["public_key"] : n), id.name));
      if (auto e = n["entities"]) {
        for (const auto& x : e) {
          auto ent = schema::entity_from_name(x.as<std::string>());
          if (!ent || *ent == schema::Entity::unspecified)
            errors.push_back(fmt::format("{}: identity '{}': unknown entity '{}'", where(x), id.name, x.as<std::string>()));
          else
            id.entities.push_back(*ent);
        }
      }
      if (auto p = n["publish"]) id.publish = p.as<std::vector<std::string>>();
      if (auto s = n["subscribe"]) id.subscribe = s.as<std::vector<std::string>>();
      for (const auto& pat : id.publish)
        if (auto bad = topic::validate_pattern(pat))
          errors.push_back(fmt::format("{}: identity '{}': publish pattern '{}': {}", where(n["publish"]), id.name, pat, *bad));
      for (const auto& pat : id.subscribe)
        if (auto bad = topic::validate_pattern(pat))
          errors.push_back(fmt::format("{}: identity '{}': subscribe pattern '{}': {}", where(n["subscribe"]), id.name, pat, *bad));
      if (auto c = n["clearance"]) {
        auto cl = schema::classification_from_name(c.as<std::string>());
        if (!cl)
          errors.push_back(fmt::format("{}: identity '{}': clearance '{}' is not one of public, internal, "
                                       "confidential, strictly_confidential",
                                       where(c), id.name, c.as<std::string>()));
        else
          id.clearance = *cl;
      }
      if (auto k = n["signing_key"]) {
        auto bytes = from_hex(k.as<std::string>());
        if (!bytes || bytes->size() != crypto_sign_PUBLICKEYBYTES)
          errors.push_back(fmt::format("{}: identity '{}': signing_key must be 64 hex digits (Ed25519 public key)",
                                       where(k), id.name));
        else
          id.signing_key = *bytes;
      }
      if (auto r = n["require_signature"]) id.require_signature = r.as<bool>();
      if (id.require_signature && id.signing_key.empty())
        errors.push_back(fmt::format("{}: identity '{}': require_signature needs a signing_key", where(n), id.name));
    } catch (const YAML::Exception& e) {
      errors.push_back(fmt::format("{}: identity '{}': a value has the wrong type", where(n), id.name));
    }
    for (const auto& other : a->ids_) {
      if (other.name == id.name) errors.push_back(fmt::format("{}: identity '{}' appears twice", where(n), id.name));
      if (!id.public_key_z85.empty() && other.public_key_z85 == id.public_key_z85)
        errors.push_back(fmt::format("{}: identity '{}' has the same public key as '{}'", where(n), id.name, other.name));
    }
    a->ids_.push_back(std::move(id));
  }
  if (!errors.empty()) {
    std::string all;
    for (const auto& e : errors) all += (all.empty() ? "" : "\n") + e;
    return status::config_error(all);
  }
  return std::shared_ptr<const acl>(std::move(a));
}

const identity* acl::by_public_key(std::string_view z85) const {
  for (const auto& i : ids_)
    if (i.public_key_z85 == z85) return &i;
  return nullptr;
}

const identity* acl::by_name(std::string_view name) const {
  for (const auto& i : ids_)
    if (i.name == name) return &i;
  return nullptr;
}

bool pattern_covers(std::string_view outer, std::string_view inner) {
  auto o = split(outer);
  auto in = split(inner);
  for (std::size_t i = 0; i < o.size(); ++i) {
    if (o[i] == ">") return i < in.size();
    if (i >= in.size()) return false;
    if (in[i] == ">") return false;  // inner matches longer topics than outer allows here
    if (o[i] == "*") continue;
    if (in[i] == "*" || in[i] != o[i]) return false;
  }
  return o.size() == in.size();
}

std::optional<std::string> check_publish(const identity& id, const schema::Envelope& e, std::string_view topic) {
  if (std::find(id.entities.begin(), id.entities.end(), e.entity()) == id.entities.end())
    return fmt::format("identity '{}' may not publish events of entity '{}'", id.name, schema::entity_name(e.entity()));
  for (const auto& p : id.publish)
    if (topic::matches(p, topic)) return std::nullopt;
  return fmt::format("identity '{}' may not publish on '{}'", id.name, topic);
}

std::optional<std::string> check_subscribe(const identity& id, std::string_view pattern) {
  for (const auto& p : id.subscribe)
    if (pattern_covers(p, pattern)) return std::nullopt;
  return fmt::format("identity '{}' may not subscribe to '{}'", id.name, pattern);
}

bool may_receive(const identity& id, std::string_view topic, schema::Classification c) {
  if (c > id.clearance) return false;
  for (const auto& p : id.subscribe)
    if (topic::matches(p, topic)) return true;
  return false;
}

bool verify_signature(const std::vector<std::uint8_t>& public_key, std::span<const std::uint8_t> envelope,
                      std::span<const std::uint8_t> signature) {
  if (public_key.size() != crypto_sign_PUBLICKEYBYTES || signature.size() != crypto_sign_BYTES) return false;
  return crypto_sign_verify_detached(signature.data(), envelope.data(), envelope.size(), public_key.data()) == 0;
}

result<curve_keypair> generate_curve_keypair() {
  char pub[41], sec[41];
  if (zmq_curve_keypair(pub, sec) != 0) return status::unavailable("this ZeroMQ has no CURVE support");
  return curve_keypair{pub, sec};
}

status write_key_files(const std::filesystem::path& base, const curve_keypair& kp) {
  auto sec = base;
  sec += ".key";
  auto pub = base;
  pub += ".pub";
  if (std::filesystem::exists(sec)) return status::invalid_argument(sec.string() + " exists; not overwriting a key");
  {
    std::ofstream out(sec);
    if (!out) return status::io_error("cannot write " + sec.string());
    out << kp.secret_z85 << "\n";
  }
  std::filesystem::permissions(sec, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::replace);
  std::ofstream(pub) << kp.public_z85 << "\n";
  return status::ok();
}

result<std::string> read_secret_key_file(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return status::not_found(path.string() + ": no such key file");
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
    return status::invalid_argument(fmt::format(
        "{}: a secret key file must be readable by its owner alone (mode {:o}); run: chmod 600 {}", path.string(),
        st.st_mode & 0777, path.string()));
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto key = trim(ss.str());
  std::uint8_t raw[32];
  if (key.size() != 40 || zmq_z85_decode(raw, key.c_str()) == nullptr)
    return status::invalid_argument(path.string() + ": not a 40-character Z85 key");
  return key;
}

result<std::string> read_public_key_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return status::not_found(path.string() + ": no such key file");
  std::stringstream ss;
  ss << in.rdbuf();
  auto key = trim(ss.str());
  std::uint8_t raw[32];
  if (key.size() != 40 || zmq_z85_decode(raw, key.c_str()) == nullptr)
    return status::invalid_argument(path.string() + ": not a 40-character Z85 key");
  return key;
}

}  // namespace hub::security
