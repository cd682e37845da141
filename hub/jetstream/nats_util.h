// Small helpers around libnats shared by the store and the lease. Private to
// hub/jetstream.
#pragma once

#include <nats/nats.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "hub/common/status.h"

namespace hub::jetstream::detail {

// "what: <libnats text> (<last error detail>)".
std::string nats_error(std::string_view what, natsStatus s, jsErrCode code = static_cast<jsErrCode>(0));

// Owning handles, so that every early return cleans up.
struct connection_deleter {
  void operator()(natsConnection* nc) const;
};
struct js_deleter {
  void operator()(jsCtx* js) const { jsCtx_Destroy(js); }
};
struct kv_deleter {
  void operator()(kvStore* kv) const { kvStore_Destroy(kv); }
};
struct msg_deleter {
  void operator()(natsMsg* m) const { natsMsg_Destroy(m); }
};
struct sub_deleter {
  void operator()(natsSubscription* s) const;
};
using connection_ptr = std::unique_ptr<natsConnection, connection_deleter>;
using js_ptr = std::unique_ptr<jsCtx, js_deleter>;
using kv_ptr = std::unique_ptr<kvStore, kv_deleter>;
using msg_ptr = std::unique_ptr<natsMsg, msg_deleter>;
using sub_ptr = std::unique_ptr<natsSubscription, sub_deleter>;

// Connects to one of the servers, reconnecting forever afterwards. Keeps trying until
// the deadline when none answers yet.
result<connection_ptr> connect(const std::vector<std::string>& servers, const std::string& name,
                               std::chrono::milliseconds deadline);

// True while the connection is up (not reconnecting or closed).
bool connected(natsConnection* nc);

// Opens the key-value bucket, creating it when it does not exist, retrying until the
// deadline while the cluster has no JetStream leader.
result<kv_ptr> open_bucket(jsCtx* js, const std::string& bucket, int replicas, std::int64_t ttl_ms,
                           std::chrono::milliseconds deadline);

}  // namespace hub::jetstream::detail
