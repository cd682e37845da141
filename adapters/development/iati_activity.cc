#include "adapters/development/iati_activity.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <strings.h>

#include <pugixml.hpp>

#include "adapters/development/iati_reader.h"

namespace hub::adapters::iati {
namespace {

std::string_view trimmed(std::string_view s) {
  auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

std::optional<double> to_double(std::string_view s) {
  s = trimmed(s);
  if (s.starts_with('+')) s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// Children and attributes are matched by local name, so that a prefixed element
// (`<iati:sector>`) reads like an unprefixed one.
bool named(const pugi::xml_node& n, std::string_view name) {
  return n.type() == pugi::node_element && local_name(n.name()) == name;
}

pugi::xml_node child(const pugi::xml_node& n, std::string_view name) {
  for (auto c : n.children())
    if (named(c, name)) return c;
  return {};
}

std::string attr(const pugi::xml_node& n, std::string_view name) {
  for (auto a : n.attributes())
    if (local_name(a.name()) == name) return std::string(trimmed(a.value()));
  return {};
}

std::string text_of(const pugi::xml_node& n) { return std::string(trimmed(n.child_value())); }

// Line numbers from byte offsets within the activity text.
class line_index {
 public:
  line_index(std::string_view text, std::size_t first_line) : first_line_(first_line) {
    for (std::size_t i = 0; i < text.size(); ++i)
      if (text[i] == '\n') newlines_.push_back(i);
  }
  [[nodiscard]] std::size_t line_of(std::ptrdiff_t offset) const {
    if (offset < 0) return first_line_;
    auto it = std::lower_bound(newlines_.begin(), newlines_.end(), static_cast<std::size_t>(offset));
    return first_line_ + static_cast<std::size_t>(it - newlines_.begin());
  }
  [[nodiscard]] std::size_t line_of(const pugi::xml_node& n) const { return line_of(n.offset_debug()); }

 private:
  std::size_t first_line_;
  std::vector<std::size_t> newlines_;
};

// The narrative to show: one in the activity's language or without a language first,
// else the first; plain text (IATI 1.0x style) when there are no narratives.
std::string narrative(const pugi::xml_node& n, std::string_view lang) {
  if (!n) return {};
  pugi::xml_node first, best;
  for (auto c : n.children()) {
    if (!named(c, "narrative")) continue;
    if (!first) first = c;
    std::string l = attr(c, "lang");
    if (!best && (l.empty() || (!lang.empty() && strcasecmp(l.c_str(), std::string(lang).c_str()) == 0)))
      best = c;
  }
  if (best && !text_of(best).empty()) return text_of(best);
  if (first) return text_of(first);
  return text_of(n);
}

organisation read_org(const pugi::xml_node& n, std::string_view lang) {
  organisation o;
  o.ref = attr(n, "ref");
  o.name = narrative(n, lang);
  o.role = attr(n, "role");
  o.type = attr(n, "type");
  o.activity_id = attr(n, "activity-id");
  return o;
}

coded_share read_share(const pugi::xml_node& n, std::string_view lang, const line_index& lines,
                       std::vector<std::string>& remarks, std::string default_vocabulary) {
  coded_share s;
  s.vocabulary = attr(n, "vocabulary");
  if (s.vocabulary.empty()) s.vocabulary = std::move(default_vocabulary);
  s.code = attr(n, "code");
  s.name = narrative(n, lang);
  s.line = lines.line_of(n);
  std::string pct = attr(n, "percentage");
  if (!pct.empty()) {
    s.percentage = to_double(pct);
    s.published_percentage = s.percentage;
    if (!s.percentage || *s.percentage < 0 || *s.percentage > 100) {
      remarks.push_back("line " + std::to_string(s.line) + ": <" + std::string(local_name(n.name())) +
                        " code=\"" + s.code + "\"> percentage \"" + pct +
                        "\" is not a number from 0 to 100; share left out");
      s.percentage.reset();
    }
  }
  return s;
}

}  // namespace

result<activity> parse_activity(std::string_view xml, std::size_t first_line) {
  line_index lines(xml, first_line);
  pugi::xml_document doc;
  auto parsed = doc.load_buffer(xml.data(), xml.size(), pugi::parse_default, pugi::encoding_utf8);
  if (!parsed) {
    return status::invalid_argument("not well-formed XML at line " +
                                    std::to_string(lines.line_of(parsed.offset)) + ": " +
                                    parsed.description());
  }
  pugi::xml_node root = doc.document_element();
  if (!named(root, "iati-activity"))
    return status::invalid_argument(std::string("expected <iati-activity>, found <") + root.name() + ">");

  activity a;
  a.line = first_line;
  a.fingerprint = 14695981039346656037ull;
  for (char c : xml) {
    a.fingerprint ^= static_cast<unsigned char>(c);
    a.fingerprint *= 1099511628211ull;
  }
  a.identifier = text_of(child(root, "iati-identifier"));
  a.last_updated = attr(root, "last-updated-datetime");
  a.default_currency = attr(root, "default-currency");
  a.lang = attr(root, "lang");
  a.version = attr(root, "version");
  std::string hierarchy = attr(root, "hierarchy");
  if (!hierarchy.empty()) {
    auto h = to_double(hierarchy);
    if (h && *h >= 1 && *h <= 255 && *h == static_cast<double>(static_cast<int>(*h))) {
      a.hierarchy = static_cast<int>(*h);
    } else {
      a.remarks.push_back("line " + std::to_string(first_line) + ": hierarchy \"" + hierarchy +
                          "\" is not a level from 1 up; left out");
    }
  }
  std::string humanitarian = attr(root, "humanitarian");
  a.humanitarian = humanitarian == "1" || humanitarian == "true";
  const std::string& lang = a.lang;

  for (auto n : root.children()) {
    if (n.type() != pugi::node_element) continue;
    std::string_view name = local_name(n.name());
    std::size_t line = lines.line_of(n);
    if (name == "title") {
      a.title = narrative(n, lang);
    } else if (name == "description") {
      std::string type = attr(n, "type");
      if (a.description.empty() && (type.empty() || type == "1")) a.description = narrative(n, lang);
    } else if (name == "reporting-org") {
      a.reporting_org = read_org(n, lang);
    } else if (name == "participating-org") {
      a.participating_orgs.push_back(read_org(n, lang));
    } else if (name == "activity-status") {
      a.status_code = attr(n, "code");
    } else if (name == "activity-date") {
      std::string type = attr(n, "type");
      std::string date = attr(n, "iso-date");
      if (type == "1") a.planned_start = date;
      else if (type == "2") a.actual_start = date;
      else if (type == "3") a.planned_end = date;
      else if (type == "4") a.actual_end = date;
      else
        a.remarks.push_back("line " + std::to_string(line) + ": activity-date type \"" + type +
                            "\" is not 1-4; date " + date + " left out");
    } else if (name == "recipient-country") {
      a.countries.push_back(read_share(n, lang, lines, a.remarks, "iso2"));
      a.countries.back().vocabulary = "iso2";
    } else if (name == "recipient-region") {
      a.regions.push_back(read_share(n, lang, lines, a.remarks, "1"));
    } else if (name == "sector") {
      a.sectors.push_back(read_share(n, lang, lines, a.remarks, "1"));
    } else if (name == "tag") {
      a.tags.push_back(read_share(n, lang, lines, a.remarks, ""));
    } else if (name == "location") {
      location l;
      l.line = line;
      l.ref = attr(n, "ref");
      l.name = narrative(child(n, "name"), lang);
      l.exactness = attr(child(n, "exactness"), "code");
      for (auto c : n.children()) {
        if (!named(c, "administrative")) continue;
        administrative ad;
        ad.vocabulary = attr(c, "vocabulary");
        ad.code = attr(c, "code");
        if (auto lv = to_double(attr(c, "level")); lv && *lv >= 0 && *lv <= 10)
          ad.level = static_cast<int>(*lv);
        l.admin.push_back(std::move(ad));
      }
      if (auto point = child(n, "point")) {
        auto pos = child(point, "pos");
        std::string text = text_of(pos);
        auto space = text.find_first_of(" \t\n");
        std::optional<double> lat, lon;
        if (space != std::string::npos) {
          lat = to_double(std::string_view(text).substr(0, space));
          lon = to_double(std::string_view(text).substr(space + 1));
        }
        if (lat && lon && *lat >= -90 && *lat <= 90 && *lon >= -180 && *lon <= 180) {
          l.lat = lat;
          l.lon = lon;
        } else {
          a.remarks.push_back("line " + std::to_string(lines.line_of(point)) +
                              (pos ? ": point pos \"" + text + "\" is not \"latitude longitude\" in degrees"
                                   : std::string(": point without pos")) +
                              "; point left out");
        }
      }
      a.locations.push_back(std::move(l));
    } else if (name == "policy-marker") {
      policy_marker m;
      m.vocabulary = attr(n, "vocabulary");
      m.code = attr(n, "code");
      m.significance = attr(n, "significance");
      m.line = line;
      a.policy_markers.push_back(std::move(m));
    } else if (name == "humanitarian-scope") {
      a.humanitarian_scopes.push_back({attr(n, "type"), attr(n, "vocabulary"), attr(n, "code")});
    } else if (name == "budget" || name == "transaction") {
      bool budget = name == "budget";
      money_line m;
      m.line = line;
      pugi::xml_node value = child(n, "value");
      if (budget) {
        m.type = attr(n, "type");
        if (m.type.empty()) m.type = "1";
        m.status = attr(n, "status");
        m.period_start = attr(child(n, "period-start"), "iso-date");
        m.period_end = attr(child(n, "period-end"), "iso-date");
      } else {
        m.type = attr(child(n, "transaction-type"), "code");
        m.period_start = attr(child(n, "transaction-date"), "iso-date");
      }
      m.currency = attr(value, "currency");
      if (m.currency.empty()) m.currency = a.default_currency;
      auto v = to_double(text_of(value));
      std::string what = budget ? "budget" : "transaction";
      if (!value || !v) {
        a.remarks.push_back("line " + std::to_string(lines.line_of(value ? value : n)) + ": " + what +
                            " value \"" + text_of(value) + "\" is not a number; " + what + " left out");
      } else if (m.currency.empty()) {
        a.remarks.push_back("line " + std::to_string(line) + ": " + what +
                            " has no currency and the activity no default-currency; " + what +
                            " left out");
      } else {
        m.value = *v;
        (budget ? a.budgets : a.transactions).push_back(std::move(m));
      }
    } else if (name == "related-activity") {
      a.related.push_back({attr(n, "type"), attr(n, "ref")});
    }
  }
  return a;
}

}  // namespace hub::adapters::iati
