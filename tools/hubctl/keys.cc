// hubctl keys and hubctl acl: key files for CURVE and signing, and offline ACL checks.
#include <sys/stat.h>

#include <fstream>
#include <iostream>

#include <sodium.h>
#include <zmq.h>

#include "hub/security/security.h"
#include "schemas/schema.h"
#include "tools/hubctl/cli.h"

namespace hubctl {
namespace {

int generate_curve(const std::string& base) {
  auto kp = hub::security::generate_curve_keypair();
  if (!kp) {
    std::cerr << "hubctl keys: " << kp.error().message() << "\n";
    return exit_failed;
  }
  if (auto st = hub::security::write_key_files(base, kp.value()); !st) {
    std::cerr << "hubctl keys: " << st.message() << "\n";
    return exit_bad_input;
  }
  std::cout << "CURVE key pair written: " << base << ".key (secret, mode 600) and " << base << ".pub\n"
            << "public key (for the ACL's public_key): " << kp->public_z85 << "\n";
  return exit_ok;
}

int generate_signing(const std::string& base) {
  if (sodium_init() < 0) return exit_failed;
  unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_keypair(pk, sk);
  char pk_hex[2 * crypto_sign_PUBLICKEYBYTES + 1], sk_hex[2 * crypto_sign_SECRETKEYBYTES + 1];
  sodium_bin2hex(pk_hex, sizeof pk_hex, pk, sizeof pk);
  sodium_bin2hex(sk_hex, sizeof sk_hex, sk, sizeof sk);
  sodium_memzero(sk, sizeof sk);
  std::string secret = base + ".sign.key", pub = base + ".sign.pub";
  struct stat st {};
  if (::stat(secret.c_str(), &st) == 0) {
    std::cerr << "hubctl keys: " << secret << " exists; not overwriting a key\n";
    return exit_bad_input;
  }
  {
    std::ofstream out(secret);
    out << sk_hex << "\n";
  }
  ::chmod(secret.c_str(), 0600);
  sodium_memzero(sk_hex, sizeof sk_hex);
  std::ofstream(pub) << pk_hex << "\n";
  std::cout << "Ed25519 signing key pair written: " << secret << " (secret, mode 600) and " << pub << "\n"
            << "public key (for the ACL's signing_key): " << pk_hex << "\n";
  return exit_ok;
}

}  // namespace

void add_keys(CLI::App& app, context& ctx) {
  auto* cmd = add_command(app, "keys", "generate key files (CURVE for connections, Ed25519 for signing)",
                          "Examples:\n"
                          "  hubctl keys generate /etc/hub/hubd            writes hubd.key and hubd.pub\n"
                          "  hubctl keys generate unmiss-adapter --signing also unmiss-adapter.sign.key/.pub\n"
                          "Secret key files are readable by their owner alone; hubd refuses any other mode.\n");
  cmd->require_subcommand(1);
  auto base = std::make_shared<std::string>();
  auto signing = std::make_shared<bool>(false);
  auto* gen = cmd->add_subcommand("generate", "write a new key pair next to BASE (never overwrites)");
  gen->add_option("base", *base, "path and name without extension")->required();
  gen->add_flag("--signing", *signing, "also write an Ed25519 signing key pair");
  gen->callback([&ctx, base, signing] {
    ctx.run = [base, signing] {
      int rc = generate_curve(*base);
      if (rc == exit_ok && *signing) rc = generate_signing(*base);
      return rc;
    };
  });
}

void add_acl(CLI::App& app, context& ctx) {
  auto* cmd = add_command(app, "acl", "check an ACL file offline",
                          "Examples:\n"
                          "  hubctl acl check /etc/hub/acl.yaml\n"
                          "The running hub reloads its ACL on SIGHUP; a broken file is refused and the\n"
                          "list in force stays.\n");
  cmd->require_subcommand(1);
  auto file = std::make_shared<std::string>();
  auto* check = cmd->add_subcommand("check", "validate an ACL file; errors are file:line");
  check->add_option("file", *file, "the ACL file")->required();
  check->callback([&ctx, file] {
    ctx.run = [file] {
      auto acl = hub::security::acl::load(*file);
      if (!acl) {
        std::cerr << acl.error().message() << "\n";
        return exit_bad_input;
      }
      for (const auto& id : acl.value()->identities()) {
        std::string ents;
        for (auto e : id.entities) ents += (ents.empty() ? "" : ",") + std::string(hub::schema::entity_name(e));
        std::cout << id.name << ": publishes " << (ents.empty() ? "nothing" : ents) << "; clearance "
                  << hub::schema::classification_name(id.clearance) << "; "
                  << (id.require_signature ? "must sign" : (id.signing_key.empty() ? "no signing key" : "may sign"))
                  << "\n";
      }
      std::cout << acl.value()->identities().size() << " identities, no errors\n";
      return exit_ok;
    };
  });
}

}  // namespace hubctl
