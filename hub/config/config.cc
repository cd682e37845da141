#include "hub/config/config.h"

#include <set>
#include <sstream>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

namespace hub::config {
namespace {

struct reader {
  std::string file;
  std::vector<std::string> errors;
  std::map<std::string, std::string>* origin = nullptr;

  std::string where(const YAML::Node& n) const {
    return fmt::format("{}:{}", file, n.Mark().line + 1);
  }

  // Reports keys of `map` that are not in `known`.
  void check_keys(const YAML::Node& map, const std::set<std::string>& known, const std::string& prefix) {
    for (auto it = map.begin(); it != map.end(); ++it) {
      auto k = it->first.as<std::string>();
      if (!known.count(k)) {
        std::string list;
        for (const auto& s : known) list += (list.empty() ? "" : ", ") + s;
        errors.push_back(fmt::format("{}: unknown key '{}{}' (known keys: {})", where(it->first), prefix, k, list));
      }
    }
  }

  template <typename T>
  void get(const YAML::Node& map, const char* key, const std::string& prefix, T& out) {
    auto n = map[key];
    if (!n) return;
    (*origin)[prefix + key] = where(n);
    try {
      out = n.as<T>();
    } catch (const YAML::Exception&) {
      errors.push_back(fmt::format("{}: key '{}{}' has a value of the wrong type", where(n), prefix, key));
    }
  }

  void get_list(const YAML::Node& map, const char* key, const std::string& prefix, std::vector<std::string>& out) {
    auto n = map[key];
    if (!n) return;
    (*origin)[prefix + key] = where(n);
    if (!n.IsSequence()) {
      errors.push_back(fmt::format("{}: key '{}{}' must be a list", where(n), prefix, key));
      return;
    }
    out.clear();
    for (const auto& e : n) out.push_back(e.as<std::string>());
  }
};

}  // namespace

result<hub_config> load_file(const std::filesystem::path& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path.string());
  } catch (const YAML::BadFile&) {
    return status::config_error(fmt::format("{}: cannot read the config file", path.string()));
  } catch (const YAML::ParserException& e) {
    return status::config_error(
        fmt::format("{}:{}: YAML syntax error: {}", path.string(), e.mark.line + 1, e.msg));
  }
  hub_config c;
  if (root.IsNull()) return c;
  reader r{path.string(), {}, &c.origin};
  if (!root.IsMap()) return status::config_error(fmt::format("{}:1: the config must be a mapping of keys", path.string()));
  r.check_keys(root, {"hub_name", "endpoint", "mirror_endpoint", "data_dir", "http", "store", "dedup_window",
                      "client_timeout_ms", "max_envelope_bytes", "max_subscriptions_per_client",
                      "max_unread_replies", "max_durable_consumers", "idle_poll_us", "max_messages_per_turn",
                      "mirror_max_readers", "mirror_buffer_bytes", "rules", "log", "security"}, "");
  r.get(root, "hub_name", "", c.hub_name);
  r.get(root, "endpoint", "", c.endpoint);
  r.get(root, "mirror_endpoint", "", c.mirror_endpoint);
  r.get(root, "data_dir", "", c.data_dir);
  r.get(root, "http", "", c.http);
  r.get(root, "dedup_window", "", c.dedup_window);
  r.get(root, "client_timeout_ms", "", c.client_timeout_ms);
  r.get(root, "max_envelope_bytes", "", c.max_envelope_bytes);
  r.get(root, "max_subscriptions_per_client", "", c.max_subscriptions_per_client);
  r.get(root, "max_unread_replies", "", c.max_unread_replies);
  r.get(root, "max_durable_consumers", "", c.max_durable_consumers);
  r.get(root, "idle_poll_us", "", c.idle_poll_us);
  r.get(root, "max_messages_per_turn", "", c.max_messages_per_turn);
  r.get(root, "mirror_max_readers", "", c.mirror_max_readers);
  r.get(root, "mirror_buffer_bytes", "", c.mirror_buffer_bytes);
  if (auto s = root["store"]) {
    if (!s.IsMap()) {
      r.errors.push_back(fmt::format("{}: key 'store' must be a mapping", r.where(s)));
    } else {
      r.check_keys(s, {"kind", "fsync", "fsync_interval_ms", "segment_bytes", "retention_age_s", "retention_bytes",
                       "servers", "stream", "replicas", "open_timeout_ms", "read_from"}, "store.");
      r.get_list(s, "servers", "store.", c.store.servers);
      r.get(s, "stream", "store.", c.store.stream);
      r.get(s, "replicas", "store.", c.store.replicas);
      r.get(s, "open_timeout_ms", "store.", c.store.open_timeout_ms);
      r.get(s, "read_from", "store.", c.store.read_from);
      r.get(s, "kind", "store.", c.store.kind);
      r.get(s, "fsync", "store.", c.store.fsync);
      r.get(s, "fsync_interval_ms", "store.", c.store.fsync_interval_ms);
      r.get(s, "segment_bytes", "store.", c.store.segment_bytes);
      r.get(s, "retention_age_s", "store.", c.store.retention_age_s);
      r.get(s, "retention_bytes", "store.", c.store.retention_bytes);
      auto bad = [&](const char* key, const std::string& v, const char* allowed) {
        r.errors.push_back(fmt::format("{}: key 'store.{}' is '{}'; allowed: {}", r.where(s[key]), key, v, allowed));
      };
      if (s["kind"] && c.store.kind != "embedded" && c.store.kind != "memory" && c.store.kind != "jetstream")
        bad("kind", c.store.kind, "embedded, memory, jetstream");
      if (s["fsync"] && c.store.fsync != "batch" && c.store.fsync != "interval" && c.store.fsync != "never")
        bad("fsync", c.store.fsync, "batch, interval, never");
      if (s["read_from"] && c.store.read_from != "replica" && c.store.read_from != "leader")
        bad("read_from", c.store.read_from, "replica, leader");
    }
  }
  if (auto rules = root["rules"]) {
    if (!rules.IsMap()) {
      r.errors.push_back(fmt::format("{}: key 'rules' must be a mapping with 'files'", r.where(rules)));
    } else {
      r.check_keys(rules, {"files", "alertmanager_url", "lease_ttl_ms"}, "rules.");
      r.get_list(rules, "files", "rules.", c.rule_files);
      r.get(rules, "alertmanager_url", "rules.", c.alertmanager_url);
      r.get(rules, "lease_ttl_ms", "rules.", c.rules_lease_ttl_ms);
    }
  }
  if (auto sec = root["security"]) {
    if (!sec.IsMap()) {
      r.errors.push_back(fmt::format("{}: key 'security' must be a mapping", r.where(sec)));
    } else {
      r.check_keys(sec, {"enabled", "curve_secret_key_file", "acl_file"}, "security.");
      r.get(sec, "enabled", "security.", c.security);
      r.get(sec, "curve_secret_key_file", "security.", c.curve_secret_key_file);
      r.get(sec, "acl_file", "security.", c.acl_file);
    }
  }
  if (auto log = root["log"]) {
    if (!log.IsMap()) {
      r.errors.push_back(fmt::format("{}: key 'log' must be a mapping", r.where(log)));
    } else {
      r.check_keys(log, {"format", "level"}, "log.");
      r.get(log, "format", "log.", c.log_format);
      r.get(log, "level", "log.", c.log_level);
      if (log["format"] && c.log_format != "text" && c.log_format != "json")
        r.errors.push_back(fmt::format("{}: key 'log.format' is '{}'; allowed: text, json", r.where(log["format"]), c.log_format));
    }
  }
  if (!r.errors.empty()) {
    std::string all;
    for (const auto& e : r.errors) all += (all.empty() ? "" : "\n") + e;
    return status::config_error(all);
  }
  return c;
}

status validate(const hub_config& c) {
  std::vector<std::string> errs;
  // "FILE:LINE: key: problem" for a value from the file, "--flag: key: problem" for one
  // from a flag, "key: problem" for a default.
  auto bad = [&](const std::string& key, const std::string& problem) {
    auto it = c.origin.find(key);
    errs.push_back(it == c.origin.end() ? key + ": " + problem : it->second + ": " + key + ": " + problem);
  };
  if (c.endpoint.empty()) bad("endpoint", "must not be empty");
  if (c.store.kind != "embedded" && c.store.kind != "memory" && c.store.kind != "jetstream")
    bad("store.kind", "'" + c.store.kind + "' is not one of embedded, memory, jetstream");
  if (c.store.kind == "jetstream" && c.store.servers.empty())
    bad(c.origin.count("store.servers") ? "store.servers" : "store.kind",
        "jetstream needs the nats:// URLs of the cluster in store.servers");
  if (c.store.replicas != 1 && c.store.replicas != 3 && c.store.replicas != 5)
    bad("store.replicas", "must be 1, 3 or 5");
  if (c.store.open_timeout_ms < 100) bad("store.open_timeout_ms", "must be at least 100");
  if (c.store.fsync != "batch" && c.store.fsync != "interval" && c.store.fsync != "never")
    bad("store.fsync", "'" + c.store.fsync + "' is not one of batch, interval, never");
  if (c.store.fsync_interval_ms <= 0) bad("store.fsync_interval_ms", "must be positive");
  if (c.rules_lease_ttl_ms < 1'000)
    bad("rules.lease_ttl_ms", "must be at least 1000 (the holder renews it every ttl/5)");
  if (c.store.segment_bytes < 4096) bad("store.segment_bytes", "must be at least 4096");
  if (c.dedup_window == 0) bad("dedup_window", "must be at least 1");
  if (c.client_timeout_ms < 100) bad("client_timeout_ms", "must be at least 100");
  if (c.max_envelope_bytes < 256 || c.max_envelope_bytes > (64u << 20))
    bad("max_envelope_bytes", "must be between 256 and 67108864");
  if (c.max_subscriptions_per_client < 1) bad("max_subscriptions_per_client", "must be at least 1");
  if (c.max_unread_replies < 100) bad("max_unread_replies", "must be at least 100");
  if (c.max_durable_consumers < 1) bad("max_durable_consumers", "must be at least 1");
  if (c.idle_poll_us < 0 || c.idle_poll_us > 100'000) bad("idle_poll_us", "must be between 0 and 100000");
  if (c.max_messages_per_turn < 1 || c.max_messages_per_turn > 65'536)
    bad("max_messages_per_turn", "must be between 1 and 65536");
  if (c.mirror_max_readers < 1 || c.mirror_max_readers > 65'536) bad("mirror_max_readers", "must be between 1 and 65536");
  if (c.mirror_buffer_bytes < 65'536 || c.mirror_buffer_bytes > (std::uint64_t{4} << 30))
    bad("mirror_buffer_bytes", "must be between 65536 and 4294967296");
  if (c.security && (c.curve_secret_key_file.empty() || c.acl_file.empty()))
    bad("security.enabled", "needs security.curve_secret_key_file and security.acl_file");
  if (c.log_format != "text" && c.log_format != "json")
    bad("log.format", "'" + c.log_format + "' is not one of text, json");
  static const std::set<std::string> levels = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  if (!levels.count(c.log_level)) bad("log.level", "'" + c.log_level + "' is not a log level");
  if (errs.empty()) return status::ok();
  std::string all;
  for (const auto& e : errs) all += (all.empty() ? "" : "\n") + e;
  return status::config_error(all);
}

std::string to_yaml(const hub_config& c) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "hub_name" << YAML::Value << c.hub_name;
  out << YAML::Key << "endpoint" << YAML::Value << c.endpoint;
  out << YAML::Key << "mirror_endpoint" << YAML::Value << c.mirror_endpoint;
  out << YAML::Key << "data_dir" << YAML::Value << c.data_dir;
  out << YAML::Key << "http" << YAML::Value << c.http;
  out << YAML::Key << "store" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "kind" << YAML::Value << c.store.kind;
  out << YAML::Key << "fsync" << YAML::Value << c.store.fsync;
  out << YAML::Key << "fsync_interval_ms" << YAML::Value << c.store.fsync_interval_ms;
  out << YAML::Key << "segment_bytes" << YAML::Value << c.store.segment_bytes;
  out << YAML::Key << "retention_age_s" << YAML::Value << c.store.retention_age_s;
  out << YAML::Key << "retention_bytes" << YAML::Value << c.store.retention_bytes;
  out << YAML::Key << "servers" << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (const auto& u : c.store.servers) out << u;
  out << YAML::EndSeq;
  out << YAML::Key << "stream" << YAML::Value << c.store.stream;
  out << YAML::Key << "replicas" << YAML::Value << c.store.replicas;
  out << YAML::Key << "open_timeout_ms" << YAML::Value << c.store.open_timeout_ms;
  out << YAML::Key << "read_from" << YAML::Value << c.store.read_from;
  out << YAML::EndMap;
  out << YAML::Key << "dedup_window" << YAML::Value << c.dedup_window;
  out << YAML::Key << "client_timeout_ms" << YAML::Value << c.client_timeout_ms;
  out << YAML::Key << "max_envelope_bytes" << YAML::Value << c.max_envelope_bytes;
  out << YAML::Key << "max_subscriptions_per_client" << YAML::Value << c.max_subscriptions_per_client;
  out << YAML::Key << "max_unread_replies" << YAML::Value << c.max_unread_replies;
  out << YAML::Key << "max_durable_consumers" << YAML::Value << c.max_durable_consumers;
  out << YAML::Key << "idle_poll_us" << YAML::Value << c.idle_poll_us;
  out << YAML::Key << "max_messages_per_turn" << YAML::Value << c.max_messages_per_turn;
  out << YAML::Key << "mirror_max_readers" << YAML::Value << c.mirror_max_readers;
  out << YAML::Key << "mirror_buffer_bytes" << YAML::Value << c.mirror_buffer_bytes;
  out << YAML::Key << "rules" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "files" << YAML::Value << YAML::BeginSeq;
  for (const auto& f : c.rule_files) out << f;
  out << YAML::EndSeq;
  out << YAML::Key << "alertmanager_url" << YAML::Value << c.alertmanager_url;
  out << YAML::Key << "lease_ttl_ms" << YAML::Value << c.rules_lease_ttl_ms;
  out << YAML::EndMap;
  out << YAML::Key << "security" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "enabled" << YAML::Value << c.security;
  out << YAML::Key << "curve_secret_key_file" << YAML::Value << c.curve_secret_key_file;
  out << YAML::Key << "acl_file" << YAML::Value << c.acl_file;
  out << YAML::EndMap;
  out << YAML::Key << "log" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "format" << YAML::Value << c.log_format;
  out << YAML::Key << "level" << YAML::Value << c.log_level;
  out << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace hub::config
