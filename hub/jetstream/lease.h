// The rules lease: at most one hubd runs the rules engine at a time, so that alerts
// are never raised twice, and another takes over within seconds when the holder dies.
//
// The lease is one key in a JetStream key-value bucket whose entries expire after
// `ttl`. The holder rewrites the key every `renew_every` with the revision it last
// wrote (compare-and-set); a candidate creates the key only when it is absent or has
// expired. Exactly one create wins.
//
// held() is conservative: it turns false as soon as a renewal fails and, at the
// latest, `ttl - renew_every` after the last successful write, which is before another
// hub can create the key. So two hubs never both see held() true, as long as their
// clocks run at the same rate (wall-clock offsets do not matter).
//
// Threading: a background thread renews; held(), holder() and the destructor may be
// called from any thread. on_change runs on the background thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hub/common/status.h"

namespace hub::jetstream {

struct lease_options {
  std::vector<std::string> servers;        // nats://host:port of the cluster nodes
  std::string bucket = "HUB_LEASES";       // key-value bucket holding leases
  std::string key = "rules";               // the lease's name within the bucket
  std::string holder;                      // this hub's unique name (e.g. host:pid); required
  int replicas = 3;                        // bucket replicas
  std::chrono::milliseconds ttl{5000};     // the key expires this long after the last renewal
  std::chrono::milliseconds renew_every{1000};
  std::chrono::milliseconds open_timeout{15000};
  std::function<void(bool held)> on_change;  // called when held() changes
};

class lease {
 public:
  // Connects and starts trying to take the lease. config_error for bad options (no
  // holder name, renew_every not below ttl/2), unavailable when the cluster does not
  // answer within open_timeout.
  [[nodiscard]] static result<std::unique_ptr<lease>> open(lease_options opts);

  // Stops renewing and, if held, deletes the key so that another hub takes over at once.
  ~lease();
  lease(const lease&) = delete;
  lease& operator=(const lease&) = delete;

  // True while this hub holds the lease (see the header comment for how it is safe).
  [[nodiscard]] bool held() const;

  // The holder's name as last read from the bucket; empty when none is known.
  [[nodiscard]] std::string holder() const;

  struct impl;

 private:
  explicit lease(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace hub::jetstream
