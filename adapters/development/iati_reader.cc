#include "adapters/development/iati_reader.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <utility>

namespace hub::adapters::iati {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return is_space(c); });
}

// The first `max` characters of s on one line, for messages.
std::string excerpt(std::string_view s, std::size_t max = 40) {
  std::string out;
  for (char c : s) {
    if (c == '\n' || c == '\r') break;
    if (out.size() >= max) {
      out += "...";
      break;
    }
    out += c;
  }
  return out;
}

// Attributes of a start tag as (qualified name, raw value) pairs. Values are not
// unescaped; the root's version attribute never needs it.
std::vector<std::pair<std::string_view, std::string_view>> attributes_of(std::string_view tag) {
  std::vector<std::pair<std::string_view, std::string_view>> out;
  std::size_t i = 1;
  while (i < tag.size() && !is_space(tag[i]) && tag[i] != '>' && tag[i] != '/') ++i;
  while (i < tag.size()) {
    while (i < tag.size() && is_space(tag[i])) ++i;
    std::size_t name_begin = i;
    while (i < tag.size() && !is_space(tag[i]) && tag[i] != '=' && tag[i] != '>' && tag[i] != '/') ++i;
    std::string_view name = tag.substr(name_begin, i - name_begin);
    if (name.empty()) {
      ++i;
      continue;
    }
    while (i < tag.size() && is_space(tag[i])) ++i;
    if (i >= tag.size() || tag[i] != '=') continue;
    ++i;
    while (i < tag.size() && is_space(tag[i])) ++i;
    if (i >= tag.size() || (tag[i] != '"' && tag[i] != '\'')) continue;
    char quote = tag[i++];
    std::size_t value_begin = i;
    while (i < tag.size() && tag[i] != quote) ++i;
    out.emplace_back(name, tag.substr(value_begin, i - value_begin));
    ++i;
  }
  return out;
}

}  // namespace

std::string_view local_name(std::string_view qualified) {
  auto colon = qualified.rfind(':');
  return colon == std::string_view::npos ? qualified : qualified.substr(colon + 1);
}

reader::~reader() = default;

result<std::unique_ptr<reader>> reader::open(const std::filesystem::path& file,
                                             std::size_t chunk_size) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec))
    return status::not_found(file.string() + ": no such file");
  std::unique_ptr<reader> r(new reader());
  r->file_ = file;
  r->chunk_size_ = std::max<std::size_t>(chunk_size, 64);
  r->file_size_ = std::filesystem::file_size(file, ec);
  r->in_.open(file, std::ios::binary);
  if (!r->in_) return status::io_error(file.string() + ": cannot open for reading");
  if (auto s = r->read_prolog(); !s.is_ok()) return s;
  return r;
}

bool reader::fill() {
  if (eof_) return false;
  std::size_t old = buffer_.size();
  buffer_.resize(old + chunk_size_);
  in_.read(buffer_.data() + old, static_cast<std::streamsize>(chunk_size_));
  auto got = static_cast<std::size_t>(in_.gcount());
  buffer_.resize(old + got);
  peak_buffer_ = std::max(peak_buffer_, buffer_.capacity());
  if (got == 0) {
    eof_ = true;
    if (in_.bad()) error_ = status::io_error(file_.string() + ": read failed after byte " +
                                             std::to_string(consumed_ + old));
    return false;
  }
  return true;
}

void reader::advance(std::size_t to) {
  line_ += static_cast<std::size_t>(
      std::count(buffer_.begin() + static_cast<std::ptrdiff_t>(pos_),
                 buffer_.begin() + static_cast<std::ptrdiff_t>(to), '\n'));
  pos_ = to;
}

void reader::compact(std::size_t keep_from) {
  // Erasing moves what is left; doing it only when at least half the buffer goes keeps
  // the cost linear in the file size.
  if (keep_from == 0 || keep_from * 2 < buffer_.size()) return;
  buffer_.erase(0, keep_from);
  consumed_ += keep_from;
  pos_ -= keep_from;
}

reader::token reader::next_token() {
  auto find_more = [this](std::string_view needle, std::size_t from) -> std::size_t {
    for (;;) {
      auto f = buffer_.find(needle, from);
      if (f != std::string::npos) return f + needle.size();
      if (buffer_.size() >= needle.size()) from = std::max(from, buffer_.size() - (needle.size() - 1));
      if (!fill()) return std::string::npos;
    }
  };
  for (;;) {
    auto lt = buffer_.find('<', pos_);
    if (lt == std::string::npos) {
      text_nonblank_ = text_nonblank_ || !blank(std::string_view(buffer_).substr(pos_));
      advance(buffer_.size());
      if (!fill()) return token{token_kind::eof, pos_, pos_, {}};
      continue;
    }
    text_nonblank_ = text_nonblank_ || !blank(std::string_view(buffer_).substr(pos_, lt - pos_));
    advance(lt);
    while (buffer_.size() - pos_ < 9 && fill()) {
    }
    std::string_view rest = std::string_view(buffer_).substr(pos_);
    token t;
    t.begin = pos_;
    std::size_t end = std::string::npos;
    if (rest.starts_with("<!--")) {
      t.kind = token_kind::comment;
      end = find_more("-->", pos_ + 4);
    } else if (rest.starts_with("<![CDATA[")) {
      t.kind = token_kind::cdata;
      end = find_more("]]>", pos_ + 9);
    } else if (rest.starts_with("<?")) {
      t.kind = token_kind::pi;
      end = find_more("?>", pos_ + 2);
    } else {
      // Tags and declarations: up to the '>' outside quotes (and, for a DOCTYPE, outside
      // its internal subset).
      bool decl = rest.starts_with("<!");
      t.kind = decl ? token_kind::doctype
                    : rest.starts_with("</") ? token_kind::end : token_kind::start;
      char quote = 0;
      int brackets = 0;
      std::size_t i = pos_ + 1;
      for (;;) {
        if (i >= buffer_.size() && !fill()) break;
        char c = buffer_[i];
        if (quote) {
          if (c == quote) quote = 0;
        } else if (c == '"' || c == '\'') {
          quote = c;
        } else if (decl && c == '[') {
          ++brackets;
        } else if (decl && c == ']') {
          --brackets;
        } else if (c == '>' && brackets <= 0) {
          end = i + 1;
          break;
        }
        ++i;
      }
    }
    if (end == std::string::npos) return token{token_kind::error, t.begin, buffer_.size(), {}};
    t.end = end;
    if (t.kind == token_kind::start || t.kind == token_kind::end) {
      std::size_t name_begin = t.begin + (t.kind == token_kind::end ? 2 : 1);
      std::size_t name_end = name_begin;
      while (name_end < t.end && !is_space(buffer_[name_end]) && buffer_[name_end] != '>' &&
             buffer_[name_end] != '/')
        ++name_end;
      t.name = local_name(std::string_view(buffer_).substr(name_begin, name_end - name_begin));
      if (t.kind == token_kind::start && t.end - t.begin >= 2 && buffer_[t.end - 2] == '/')
        t.kind = token_kind::empty;
    }
    return t;
  }
}

status reader::read_prolog() {
  const std::string where = file_.string();
  fill();
  if (buffer_.starts_with("\xFF\xFE") || buffer_.starts_with("\xFE\xFF"))
    return status::invalid_argument(where + ": the file is UTF-16; IATI files are UTF-8: save it "
                                            "as UTF-8 (e.g. iconv -f UTF-16 -t UTF-8) and import it again");
  if (buffer_.starts_with("\xEF\xBB\xBF")) pos_ = 3;
  std::size_t first = pos_;
  while (first < buffer_.size() && is_space(buffer_[first])) ++first;
  if (first > pos_ && std::string_view(buffer_).substr(first).starts_with("<?xml")) {
    advance(first);
    notes_.push_back({line_, "white space before the XML declaration (strict XML parsers "
                             "refuse this); read anyway"});
  }
  for (;;) {
    token t = next_token();
    if (text_nonblank_ || t.kind == token_kind::eof || t.kind == token_kind::error) {
      if (!error_.is_ok()) return error_;
      if (t.kind == token_kind::eof && !text_nonblank_ && first >= buffer_.size())
        return status::invalid_argument(where + ": the file is empty; expected IATI activity "
                                        "XML (<iati-activities version=\"2.03\">)");
      std::string_view head = std::string_view(buffer_).substr(std::min(first, buffer_.size()));
      return status::invalid_argument(
          where + ":" + std::to_string(t.kind == token_kind::error ? line_ : 1) +
          ": not XML (it starts with \"" + excerpt(head) +
          "\"); expected an IATI activity file starting with <iati-activities version=\"2.0x\">");
    }
    if (t.kind == token_kind::comment || t.kind == token_kind::pi || t.kind == token_kind::doctype) {
      std::string_view text = std::string_view(buffer_).substr(t.begin, t.end - t.begin);
      if (t.kind == token_kind::pi && text.starts_with("<?xml"))
        for (auto& [name, value] : attributes_of(text.substr(0, text.size() - 1)))
          if (name == "encoding") {
            header_.encoding = std::string(value);
            for (char& c : header_.encoding)
              c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          }
      advance(t.end);
      continue;
    }
    if (t.kind == token_kind::end) {
      return status::invalid_argument(where + ":" + std::to_string(line_) +
                                      ": not well-formed XML (an end tag before any element)");
    }
    // The root element.
    std::string_view tag = std::string_view(buffer_).substr(t.begin, t.end - t.begin);
    std::string root_name(t.name);
    header_.line = line_;
    header_.root_start_tag = std::string(tag);
    if (root_name != "iati-activities") {
      std::string hint = root_name == "iati-organisations"
                             ? "this is an IATI organisation file; give the activity file"
                             : root_name == "iati-activity"
                                   ? "a single activity must be wrapped in <iati-activities version=\"2.03\">"
                                   : "this is XML but not an IATI activity file";
      return status::invalid_argument(where + ":" + std::to_string(line_) + ": the root element is <" +
                                      root_name + ">, not <iati-activities>; " + hint);
    }
    std::optional<std::string_view> version;
    for (auto& [name, value] : attributes_of(tag))
      if (name == "version") version = value;
    if (!version) {
      return status::invalid_argument(
          where + ":" + std::to_string(line_) +
          ": <iati-activities> has no version attribute; IATI 2.01-2.03 files always declare "
          "one (a file without it is IATI 1.0x, which is no longer supported); ask the "
          "publisher for a 2.0x file or upgrade it with the IATI tools");
    }
    header_.version = std::string(*version);
    if (header_.version.starts_with("1.")) {
      return status::invalid_argument(
          where + ":" + std::to_string(line_) + ": IATI version " + header_.version +
          " is not supported (1.0x was retired in 2016; supported: " +
          std::string(supported_versions) + "); ask the publisher for a 2.0x file");
    }
    header_.version_supported =
        header_.version == "2.01" || header_.version == "2.02" || header_.version == "2.03";
    if (!header_.version_supported) {
      notes_.push_back({line_, "version \"" + header_.version + "\" is not one of " +
                                   std::string(supported_versions) +
                                   "; activities are read as 2.03 and each one that cannot "
                                   "be mapped is reported"});
    }
    advance(t.end);
    if (t.kind == token_kind::empty) root_closed_ = true;
    depth_ = 1;
    return status::ok();
  }
}

std::optional<activity_text> reader::next() {
  if (root_closed_ || !error_.is_ok()) return std::nullopt;
  compact(pos_);
  auto truncated = [this]() {
    notes_.push_back({line_, "the file ends before </iati-activities>; it may be truncated"});
    root_closed_ = true;
  };
  for (;;) {
    token t = next_token();
    switch (t.kind) {
      case token_kind::eof:
      case token_kind::error:
        truncated();
        return std::nullopt;
      case token_kind::comment:
      case token_kind::cdata:
      case token_kind::pi:
      case token_kind::doctype:
      case token_kind::text_end:
        advance(t.end);
        continue;
      case token_kind::end:
        advance(t.end);
        if (depth_ <= 1) {
          root_closed_ = true;
          return std::nullopt;
        }
        --depth_;
        continue;
      case token_kind::empty:
        advance(t.end);
        if (depth_ == 1 && t.name == "iati-activity") {
          activity_text a;
          a.line = line_;
          a.xml = std::string_view(buffer_).substr(t.begin, t.end - t.begin);
          return a;
        }
        continue;
      case token_kind::start:
        break;
    }
    if (depth_ != 1 || t.name != "iati-activity") {
      advance(t.end);
      ++depth_;
      continue;
    }
    // An activity: read to its end tag, keeping its bytes in the buffer.
    activity_text a;
    a.line = line_;
    std::size_t begin = t.begin;
    advance(t.end);
    std::size_t depth = 1;
    for (;;) {
      token u = next_token();
      if (u.kind == token_kind::eof || u.kind == token_kind::error) {
        a.problem = "the file ends inside this <iati-activity> (truncated?)";
        a.xml = std::string_view(buffer_).substr(begin);
        advance(buffer_.size());
        truncated();
        return a;
      }
      if (u.kind == token_kind::end && u.name == "iati-activities") {
        a.problem = "<iati-activity> is not closed before </iati-activities> on line " +
                    std::to_string(line_);
        a.xml = std::string_view(buffer_).substr(begin, u.begin - begin);
        return a;  // the root end tag is read by the next call
      }
      advance(u.end);
      if (u.kind == token_kind::start) {
        ++depth;
      } else if (u.kind == token_kind::end) {
        --depth;
        if (depth == 0 || u.name == "iati-activity") {
          // With depth != 0 an element inside is not closed: the XML parser names it.
          a.xml = std::string_view(buffer_).substr(begin, u.end - begin);
          if (depth != 0) depth_ = 1;
          return a;
        }
      }
    }
  }
}

}  // namespace hub::adapters::iati
