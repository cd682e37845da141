#include "hub/topic/topic.h"

#include <algorithm>

namespace hub::topic {
namespace {

// Splits on '.', calling f(token, is_last) for each token.
template <typename F>
void for_each_token(std::string_view s, F&& f) {
  std::size_t start = 0;
  while (true) {
    auto dot = s.find('.', start);
    if (dot == std::string_view::npos) {
      f(s.substr(start), true);
      return;
    }
    f(s.substr(start, dot - start), false);
    start = dot + 1;
  }
}

std::vector<std::string_view> tokens_of(std::string_view s) {
  std::vector<std::string_view> out;
  for_each_token(s, [&](std::string_view t, bool) { out.push_back(t); });
  return out;
}

}  // namespace

std::optional<std::string> validate_pattern(std::string_view pattern) {
  if (pattern.empty()) return "pattern is empty";
  if (pattern.size() > max_pattern_bytes)
    return "pattern is longer than " + std::to_string(max_pattern_bytes) + " bytes";
  std::optional<std::string> err;
  for_each_token(pattern, [&](std::string_view t, bool last) {
    if (err) return;
    if (t.empty()) {
      err = "pattern has an empty token (two dots in a row, or a dot at an end)";
      return;
    }
    for (char c : t) {
      auto u = static_cast<unsigned char>(c);
      if (u <= 0x20 || u == 0x7f) {
        err = "pattern has a space or control character";
        return;
      }
    }
    if (t.find('>') != std::string_view::npos && (t != ">" || !last)) {
      err = "'>' must be a whole token and the last one";
      return;
    }
    if (t.find('*') != std::string_view::npos && t != "*") err = "'*' must be a whole token";
  });
  return err;
}

bool matches(std::string_view pattern, std::string_view topic) {
  auto p = tokens_of(pattern);
  auto t = tokens_of(topic);
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] == ">") return t.size() > i;
    if (i >= t.size()) return false;
    if (p[i] != "*" && p[i] != t[i]) return false;
  }
  return p.size() == t.size();
}

struct topic_trie::node {
  std::map<std::string, std::unique_ptr<node>, std::less<>> literal;
  std::unique_ptr<node> star;
  std::vector<std::uint64_t> here;  // patterns ending at this node
  std::vector<std::uint64_t> rest;  // patterns ending in '>' at this node
  [[nodiscard]] bool empty() const { return literal.empty() && !star && here.empty() && rest.empty(); }
};

topic_trie::topic_trie() : root_(std::make_unique<node>()) {}
topic_trie::~topic_trie() = default;

void topic_trie::insert(std::string_view pattern, std::uint64_t value) {
  node* n = root_.get();
  for_each_token(pattern, [&](std::string_view t, bool last) {
    if (t == ">" && last) {
      n->rest.push_back(value);
      n = nullptr;
      return;
    }
    if (t == "*") {
      if (!n->star) n->star = std::make_unique<node>();
      n = n->star.get();
    } else {
      auto it = n->literal.find(t);
      if (it == n->literal.end()) it = n->literal.emplace(std::string(t), std::make_unique<node>()).first;
      n = it->second.get();
    }
  });
  if (n != nullptr) n->here.push_back(value);
  ++size_;
}

void topic_trie::erase(std::string_view pattern, std::uint64_t value) {
  auto toks = tokens_of(pattern);
  // Walk down remembering the path, remove the value, then prune empty nodes.
  std::vector<std::pair<node*, std::string_view>> path;
  node* n = root_.get();
  bool removed = false;
  auto drop = [&](std::vector<std::uint64_t>& v) {
    auto it = std::find(v.begin(), v.end(), value);
    if (it != v.end()) {
      v.erase(it);
      removed = true;
    }
  };
  for (std::size_t i = 0; i < toks.size(); ++i) {
    auto t = toks[i];
    if (t == ">" && i + 1 == toks.size()) {
      drop(n->rest);
      n = nullptr;
      break;
    }
    node* next = nullptr;
    if (t == "*") {
      next = n->star.get();
    } else {
      auto it = n->literal.find(t);
      if (it != n->literal.end()) next = it->second.get();
    }
    if (next == nullptr) return;
    path.emplace_back(n, t);
    n = next;
  }
  if (n != nullptr) drop(n->here);
  if (!removed) return;
  --size_;
  for (auto it = path.rbegin(); it != path.rend(); ++it) {
    node* parent = it->first;
    if (it->second == "*") {
      if (parent->star && parent->star->empty()) parent->star.reset();
    } else {
      auto child = parent->literal.find(it->second);
      if (child != parent->literal.end() && child->second->empty()) parent->literal.erase(child);
    }
  }
}

void topic_trie::match(std::string_view topic, std::vector<std::uint64_t>& out) const {
  // Iterative walk over (node, token index) pairs; topics have few tokens.
  std::vector<std::string_view> toks = tokens_of(topic);
  struct frame {
    const node* n;
    std::size_t i;
  };
  std::vector<frame> stack{{root_.get(), 0}};
  while (!stack.empty()) {
    frame f = stack.back();
    stack.pop_back();
    if (f.i < toks.size() && !f.n->rest.empty())
      out.insert(out.end(), f.n->rest.begin(), f.n->rest.end());
    if (f.i == toks.size()) {
      out.insert(out.end(), f.n->here.begin(), f.n->here.end());
      continue;
    }
    auto it = f.n->literal.find(toks[f.i]);
    if (it != f.n->literal.end()) stack.push_back({it->second.get(), f.i + 1});
    if (f.n->star) stack.push_back({f.n->star.get(), f.i + 1});
  }
}

}  // namespace hub::topic
