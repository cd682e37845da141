// Topics and NATS-style patterns. A topic is dot-separated tokens
// ("peacekeeping.SSD.mandate_activity"); a pattern may use `*` for exactly one token
// and `>` (last token only) for one or more tokens.
//
// topic_trie holds many patterns and finds those matching a topic without scanning
// them all: the cost of match() grows with the topic's length and the number of
// matches, not with the number of subscriptions. Not thread-safe; loop thread only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hub::topic {

inline constexpr std::size_t max_pattern_bytes = 256;

// Nullopt if the pattern is valid, else what is wrong with it.
[[nodiscard]] std::optional<std::string> validate_pattern(std::string_view pattern);

// True if the (valid) pattern matches the topic.
[[nodiscard]] bool matches(std::string_view pattern, std::string_view topic);

// Maps patterns to values (e.g. subscription handles). The same value may be inserted
// under several patterns; insert and erase take the exact pattern.
class topic_trie {
 public:
  topic_trie();
  ~topic_trie();
  void insert(std::string_view pattern, std::uint64_t value);
  void erase(std::string_view pattern, std::uint64_t value);
  // Appends the values of every pattern matching topic to out (each value once per
  // pattern it was inserted under).
  void match(std::string_view topic, std::vector<std::uint64_t>& out) const;
  [[nodiscard]] std::size_t size() const { return size_; }

 private:
  struct node;
  std::unique_ptr<node> root_;
  std::size_t size_ = 0;
};

}  // namespace hub::topic
