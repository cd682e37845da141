// hubctl log stats: the event log as the hub reports it (STATUS `store` and consumers).
// hubctl log verify: the log's files checked offline (CRCs, offsets, the hash chain and,
// with --keys, the stored signatures).
// hubctl log remove-consumer: a durable consumer forgotten, offline (the hub stopped).
#include <filesystem>
#include <iomanip>
#include <iostream>

#include <nlohmann/json.hpp>

#include "hub/log/log.h"
#include "hub/log/verify.h"
#include "hub/security/security.h"
#include "schemas/schema.h"
#include "tools/hubctl/cli.h"

namespace hubctl {
namespace {

struct verify_options {
  std::string data_dir;
  std::string anchor;  // OFFSET:HASH
  std::string keys;    // ACL file
  bool json = false;
};

int run_verify(const verify_options& o) {
  hub::log::verify_options vo;
  if (!o.anchor.empty()) {
    auto colon = o.anchor.find(':');
    hub::log::verify_anchor a;
    try {
      if (colon == std::string::npos) throw std::invalid_argument("no colon");
      std::size_t used = 0;
      a.off = std::stoull(o.anchor.substr(0, colon), &used);
      if (used != colon) throw std::invalid_argument("not a number");
    } catch (const std::exception&) {
      std::cerr << "hubctl log verify: --anchor takes OFFSET:HASH (as printed by a previous verify or log stats), got '"
                << o.anchor << "'\n";
      return exit_bad_input;
    }
    a.hash_hex = o.anchor.substr(colon + 1);
    vo.anchor = a;
  }
  std::shared_ptr<const hub::security::acl> acl;
  if (!o.keys.empty()) {
    auto loaded = hub::security::acl::load(o.keys);
    if (!loaded) {
      std::cerr << "hubctl log verify: " << loaded.error().message() << "\n";
      return exit_bad_input;
    }
    acl = loaded.value();
    // The record does not name its publisher: a signature is good when it verifies
    // against a signing key the ACL registers for an identity.
    vo.check_record = [acl](const hub::store::record_view& v) -> std::optional<std::string> {
      if (v.signature.empty()) return std::nullopt;
      for (const auto& id : acl->identities())
        if (!id.signing_key.empty() && hub::security::verify_signature(id.signing_key, v.envelope, v.signature))
          return std::nullopt;
      return "bad signature: event " + hub::schema::id_to_hex(v.id) +
             "'s stored signature verifies against no signing key in the ACL (the envelope or the signature was "
             "altered, or the key is no longer registered)";
    };
  }
  auto rep = hub::log::verify_log(o.data_dir, vo);
  if (!rep) {
    std::cerr << "hubctl " << rep.error().message() << "\n";
    return rep.error().code() == hub::errc::invalid_argument ? exit_bad_input : exit_failed;
  }
  const auto& r = rep.value();
  if (o.json) {
    nlohmann::json j = {{"ok", r.ok()},         {"segments", r.segments}, {"records", r.records},
                        {"begin", r.begin},     {"end", r.end},           {"head", r.head},
                        {"signed", r.signed_records}};
    nlohmann::json problems = nlohmann::json::array();
    for (const auto& p : r.problems) {
      nlohmann::json pj = {{"segment", p.segment}, {"byte", p.position}, {"what", p.what}, {"text", p.text()}};
      if (p.off) pj["offset"] = *p.off;
      problems.push_back(pj);
    }
    j["problems"] = problems;
    j["notes"] = r.notes;
    std::cout << j.dump() << "\n";
    return r.ok() ? exit_ok : exit_failed;
  }
  for (const auto& p : r.problems) std::cout << "FAIL  " << p.text() << "\n";
  for (const auto& n : r.notes) std::cout << "note  " << n << "\n";
  std::cout << "log " << o.data_dir << ": " << r.segments << " segment(s), " << r.records << " record(s)";
  if (r.end > r.begin) std::cout << ", offsets " << r.begin << ".." << r.end - 1;
  std::cout << ", " << r.signed_records << " signed\n";
  if (r.end > 0)
    std::cout << "head  offset " << r.end - 1 << " hash " << r.head << "\n"
              << "      (truncating the newest records cannot be seen from the log alone: keep this line elsewhere "
                 "and check it later with --anchor "
              << r.end - 1 << ":" << r.head << ")\n";
  if (r.ok()) {
    std::cout << "OK    every record's checksum, offset and chain link verified" << (acl ? ", and every signature" : "")
              << "\n";
    return exit_ok;
  }
  std::cout << "FAILED " << r.problems.size() << " problem(s)\n";
  return exit_failed;
}

// Opens the log in data_dir (which takes its lock, so a running hub refuses) and
// forgets one durable consumer.
int run_remove_consumer(const std::string& data_dir, const std::string& name) {
  if (!std::filesystem::exists(std::filesystem::path(data_dir) / "consumers")) {
    std::cerr << "hubctl: " << data_dir << " has no consumer checkpoint (no durable consumer ever committed there, "
              << "or it is not a hub's data directory)\n";
    return exit_failed;
  }
  auto log = hub::log::open_log(data_dir, {});
  if (!log) {
    std::cerr << "hubctl: " << log.error().message() << "\n";
    return exit_failed;
  }
  if (auto s = log.value()->remove_consumer(name); !s) {
    std::cerr << "hubctl: " << s.message() << "\n";
    return exit_failed;
  }
  std::cout << "removed durable consumer '" << name << "' from " << data_dir << "\n";
  return exit_ok;
}

}  // namespace

void add_log(CLI::App& app, context& ctx) {
  auto* cmd = add_command(app, "log", "the hub's event log: size, offsets, durability, consumers",
                          "Examples:\n"
                          "  hubctl log stats\n"
                          "  hubctl log stats --json\n"
                          "  hubctl log verify --data-dir /var/lib/hub\n"
                          "  hubctl log verify --data-dir /var/lib/hub --keys /etc/hub/acl.yaml --anchor 41234:3f0c...\n"
                          "  hubctl log remove-consumer --data-dir /var/lib/hub old-report   (hubd stopped)\n"
                          "Stored events themselves: hubctl replay --from offset:N | time:ISO\n");
  cmd->require_subcommand(1);
  auto json = std::make_shared<bool>(false);
  auto* stats = cmd->add_subcommand("stats", "records, bytes, segments, offsets, durable end, consumers and their lag");
  stats->add_flag("--json", *json, "the figures as one JSON object");
  stats->callback([&ctx, json] {
    ctx.run = [&ctx, json] {
      auto status = hub::sdk::fetch_status(ctx.connection());
      if (!status) {
        std::cerr << "hubctl log stats: no answer from the hub at " << ctx.hubs_text() << "\n";
        return exit_failed;
      }
      auto j = nlohmann::json::parse(*status, nullptr, false);
      if (j.is_discarded() || !j.contains("store")) {
        std::cerr << "hubctl log stats: the hub's status has no store section\n";
        return exit_failed;
      }
      const auto& s = j["store"];
      nlohmann::json out = {{"store", s}, {"consumers", j.value("consumers", nlohmann::json::array())}};
      if (*json) {
        std::cout << out.dump() << "\n";
        return exit_ok;
      }
      std::cout << "store        " << s.value("kind", "?") << (s.value("writable", true) ? "" : "  (NOT WRITABLE)")
                << "\n"
                << "offsets      " << s.value("begin", 0) << " .. " << s.value("end", 0) << " (durable up to "
                << s.value("durable_end", 0) << ")\n"
                << "records      " << s.value("records", 0) << "\n"
                << "bytes        " << s.value("bytes", 0) << "\n"
                << "segments     " << s.value("segments", 0) << "\n"
                << "corrupt      " << s.value("corrupt_skipped", 0) << " record(s) skipped\n";
      if (!s.value("chain_head", std::string()).empty() && s.value("end", 0) > 0)
        std::cout << "chain head   offset " << s.value("end", 0) - 1 << " hash " << s["chain_head"].get<std::string>()
                  << "\n";
      if (!s.value("last_error", std::string()).empty()) std::cout << "last error   " << s["last_error"] << "\n";
      for (const auto& c : out["consumers"])
        std::cout << "consumer     " << std::left << std::setw(24) << c.value("name", "?") << " committed "
                  << c.value("committed", 0) << "  lag " << c.value("lag", 0) << "\n";
      return exit_ok;
    };
  });

  auto vo = std::make_shared<verify_options>();
  auto* verify = cmd->add_subcommand(
      "verify", "check the log's files offline: checksums, dense offsets, the hash chain; names any record altered "
                "or removed after it was written");
  verify->add_option("--data-dir", vo->data_dir, "the hub's data directory (its --data-dir)")->required();
  verify->add_option("--anchor", vo->anchor,
                     "OFFSET:HASH from an earlier verify or log stats: that record must still be there, unchanged "
                     "(catches records cut from the end)");
  verify->add_option("--keys", vo->keys, "ACL file: also verify every stored signature against its signing keys");
  verify->add_flag("--json", vo->json, "the report as one JSON object");
  verify->callback([&ctx, vo] { ctx.run = [vo] { return run_verify(*vo); }; });

  auto rc = std::make_shared<std::pair<std::string, std::string>>();  // data dir, name
  auto* remove = cmd->add_subcommand(
      "remove-consumer", "forget a durable consumer (its name and committed offset) in an embedded log, offline: "
                         "stop hubd first (its lock is checked). JetStream: nats kv del HUB_CONSUMERS c.NAME");
  remove->add_option("--data-dir", rc->first, "the hub's data directory (its --data-dir)")->required();
  remove->add_option("name", rc->second, "the durable consumer's name")->required();
  remove->callback([&ctx, rc] { ctx.run = [rc] { return run_remove_consumer(rc->first, rc->second); }; });
}

}  // namespace hubctl
