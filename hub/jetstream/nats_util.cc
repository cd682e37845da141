#include "hub/jetstream/nats_util.h"

#include <spdlog/spdlog.h>

#include <thread>

namespace hub::jetstream::detail {

std::string nats_error(std::string_view what, natsStatus s, jsErrCode code) {
  std::string m(what);
  m += ": ";
  m += natsStatus_GetText(s);
  natsStatus ls = NATS_OK;
  const char* detail = nats_GetLastError(&ls);
  if (detail != nullptr && *detail != '\0') {
    m += " (";
    m += detail;
    m += ")";
  }
  if (static_cast<int>(code) != 0) m += fmt::format(" [JetStream error {}]", static_cast<int>(code));
  return m;
}

void connection_deleter::operator()(natsConnection* nc) const {
  natsConnection_Close(nc);
  natsConnection_Destroy(nc);
}

void sub_deleter::operator()(natsSubscription* s) const {
  natsSubscription_Unsubscribe(s);
  natsSubscription_Destroy(s);
}

bool connected(natsConnection* nc) {
  return nc != nullptr && natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED;
}

result<connection_ptr> connect(const std::vector<std::string>& servers, const std::string& name,
                               std::chrono::milliseconds deadline) {
  if (servers.empty()) return status::config_error("no NATS servers given: set store.servers to nats://host:port URLs");
  natsOptions* raw = nullptr;
  if (natsOptions_Create(&raw) != NATS_OK) return status::unavailable("cannot create NATS options");
  std::unique_ptr<natsOptions, void (*)(natsOptions*)> opts(raw, natsOptions_Destroy);
  std::vector<const char*> urls;
  for (const auto& s : servers) urls.push_back(s.c_str());
  natsStatus s = natsOptions_SetServers(opts.get(), urls.data(), static_cast<int>(urls.size()));
  if (s != NATS_OK) return status::config_error(nats_error("bad NATS server list", s));
  natsOptions_SetName(opts.get(), name.c_str());
  natsOptions_SetTimeout(opts.get(), 1000);
  natsOptions_SetMaxReconnect(opts.get(), -1);  // forever: the store recovers by itself
  natsOptions_SetReconnectWait(opts.get(), 200);
  natsOptions_SetPingInterval(opts.get(), 1000);
  natsOptions_SetMaxPingsOut(opts.get(), 2);
  auto until = std::chrono::steady_clock::now() + deadline;
  std::string last;
  do {
    natsConnection* nc = nullptr;
    s = natsConnection_Connect(&nc, opts.get());
    if (s == NATS_OK) return connection_ptr(nc);
    last = nats_error("connect", s);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (std::chrono::steady_clock::now() < until);
  std::string list;
  for (const auto& u : servers) list += (list.empty() ? "" : ", ") + u;
  return status::unavailable(fmt::format("no NATS server answers at {} ({}); start the cluster or fix store.servers",
                                         list, last));
}

result<kv_ptr> open_bucket(jsCtx* js, const std::string& bucket, int replicas, std::int64_t ttl_ms,
                           std::chrono::milliseconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  std::string last;
  do {
    kvStore* kv = nullptr;
    natsStatus s = js_KeyValue(&kv, js, bucket.c_str());
    if (s == NATS_OK) return kv_ptr(kv);
    kvConfig cfg;
    kvConfig_Init(&cfg);
    cfg.Bucket = bucket.c_str();
    cfg.History = 1;
    cfg.Replicas = replicas;
    cfg.StorageType = js_FileStorage;
    cfg.TTL = ttl_ms * 1'000'000;  // nanoseconds
    s = js_CreateKeyValue(&kv, js, &cfg);
    if (s == NATS_OK) return kv_ptr(kv);
    last = nats_error(fmt::format("key-value bucket {}", bucket), s);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  } while (std::chrono::steady_clock::now() < until);
  return status::unavailable(last + "; is JetStream enabled on a quorum of the servers?");
}

}  // namespace hub::jetstream::detail
