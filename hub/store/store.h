// The store: where the hub keeps events. An interface, so that the in-memory store
// (tests, demo), the durable embedded log (hub/log) and a replicated store can be
// swapped by configuration, and so that tests can inject faults.
//
// Threading contract:
// - append(), read(), offset_at_time(), the consumer calls and stats() are called by
//   the event loop thread only.
// - sync() is called by the hub's sync thread only, concurrently with the loop's calls;
//   an implementation makes that safe (e.g. fsync on a file the loop only appends to).
// - durable_end() may be called from any thread.
//
// Durability contract: append() hands the records to the operating system (or memory)
// and makes them readable. A record counts as acknowledged-safe once its offset is
// below durable_end(). Under "fsync never" and "fsync every N ms" durable_end() moves
// to end() when append() returns; under "fsync every batch" it moves only when
// sync() has flushed the records to stable storage. The hub ACKs a PUB, and delivers
// the event to subscribers, only once its offset is below durable_end().
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hub/common/status.h"
#include "hub/common/types.h"
#include "schemas/events_generated.h"

namespace hub::store {

// One record as the store keeps it. Views point into the store's memory and stay
// valid only during the visitor call (or until the next append for the memory store).
struct record_view {
  offset off;                                // its position in the log
  millis log_time = 0;                       // when the hub appended it
  schema::Id128 id;                          // the event id (copied from the envelope)
  std::string_view topic;                    // "<entity>.<country>.<event_type>"
  std::span<const std::uint8_t> envelope;    // the verified envelope bytes
  std::span<const std::uint8_t> signature;   // the publisher's Ed25519 signature over it, or empty
};

// What append() takes: the same fields without the offset, which the store assigns.
struct append_record {
  millis log_time = 0;
  schema::Id128 id;
  std::string_view topic;
  std::span<const std::uint8_t> envelope;
  std::span<const std::uint8_t> signature;  // as received with the PUB (verified), or empty
};

struct store_stats {
  std::uint64_t records = 0;        // records retained
  std::uint64_t bytes = 0;          // bytes retained (on disk or in memory)
  std::uint64_t segments = 0;       // segment files (0 for the memory store)
  std::uint64_t corrupt_skipped = 0;// corrupt records found and skipped since start
  bool writable = true;             // false after a write error until it recovers
  std::string last_error;           // the last write error, empty if none
  std::string chain_head;           // the log: hex chain hash (SHA-256; BLAKE2b-256 in a format 2
                                    // segment) of the record at end()-1 (the hash chain's head, to
                                    // anchor elsewhere); empty otherwise
};

// Visitor for read(): return false to stop early.
using record_visitor = std::function<bool(const record_view&)>;

class store {
 public:
  virtual ~store() = default;

  // Appends the batch in order at end(). Loop thread. On error nothing of the batch
  // is visible, end() is unchanged, records appended before are untouched, and the
  // store stays readable; no_space and io_error say what failed.
  virtual status append(std::span<const append_record> batch) = 0;

  // Makes every appended record durable under the store's policy and moves
  // durable_end(). Sync thread. An error leaves durable_end() where it was.
  virtual status sync() = 0;

  // After sync() failed. A store that cannot tell what reached stable storage (the log
  // after a failed fsync) drops every record that is not durable, so that end() ==
  // durable_end() again, and becomes writable again once it can prove it is; append()
  // fails (and tries that again) until then. The broker refuses the PUBs of the dropped
  // records so that publishers resend them. A store whose failed sync is simply tried
  // again keeps everything (the default). Loop thread.
  virtual void discard_undurable() {}

  // True when append() leaves records that only sync() can make durable.
  [[nodiscard]] virtual bool needs_sync() const = 0;

  // First offset not yet durable. Any thread.
  [[nodiscard]] virtual offset durable_end() const = 0;

  // The broker numbers a batch end(), end()+1, ... when it appends it. A store shared
  // by several hubs (JetStream) numbers records itself, in the order they reach it, so
  // for it that number is only a ticket. The broker ACKs a PUB once is_durable(ticket)
  // and reports stored_offset(ticket), the offset the record really has (the first
  // copy's for a duplicate the store dropped). A store that is the only writer of its
  // log keeps both defaults: the ticket is the offset. Loop thread.
  [[nodiscard]] virtual bool is_durable(offset ticket) const { return ticket < durable_end(); }
  [[nodiscard]] virtual offset stored_offset(offset ticket) const { return ticket; }
  // True when the records from end() on are exactly the ones this process appends, in
  // order and numbered as appended, so that the broker may deliver what it appended
  // from its own memory instead of reading it back. False for a shared store.
  [[nodiscard]] virtual bool sole_writer() const { return true; }

  // First retained offset (grows with retention) and the next offset to assign.
  [[nodiscard]] virtual offset begin() const = 0;
  [[nodiscard]] virtual offset end() const = 0;

  // Calls visit for records from `from` (clamped up to begin()) in order, until
  // `limit` is reached, max_records were visited, or visit returns false. Corrupt
  // records are counted and skipped, never visited. Returns the offset after the
  // last record visited or skipped (where the next read should start).
  virtual result<offset> read(offset from, offset limit, std::size_t max_records,
                              const record_visitor& visit) = 0;

  // The first retained offset whose log_time is >= t (end() if none).
  [[nodiscard]] virtual offset offset_at_time(millis t) = 0;

  // Durable consumers: the next offset the named consumer wants. Written atomically.
  virtual status commit_consumer(std::string_view name, offset next) = 0;
  [[nodiscard]] virtual std::optional<offset> consumer_offset(std::string_view name) const = 0;
  [[nodiscard]] virtual std::vector<std::pair<std::string, offset>> consumers() const = 0;
  // Forgets a durable consumer (its name and offset); not_found if there is none.
  virtual status remove_consumer(std::string_view name) = 0;
  // How many durable consumers there are (without reading their offsets).
  [[nodiscard]] virtual std::size_t consumer_count() const { return consumers().size(); }

  // Applies retention (age, size). Loop thread; cheap when there is nothing to drop.
  virtual void enforce_retention(millis now) = 0;

  [[nodiscard]] virtual store_stats stats() const = 0;
};

}  // namespace hub::store
