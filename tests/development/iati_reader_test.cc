// The streaming IATI reader: cutting activities out of the byte stream whatever the chunk
// boundaries, and staying small on a large file.
#include <fstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "adapters/development/iati.h"
#include "adapters/development/iati_activity.h"
#include "adapters/development/iati_reader.h"
#include "tests/development/import_helpers.h"
#include "tests/support/temp_dir.h"

using namespace hub;
namespace iati = hub::adapters::iati;

#if defined(__SANITIZE_ADDRESS__)
// ASan keeps freed blocks in a quarantine (256 MB by default), which would make every
// process look as if it held that much; a small one keeps the memory bound meaningful.
extern "C" const char* __asan_default_options() { return "quarantine_size_mb=8"; }
#endif

namespace {

void write(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

std::vector<iati::activity_text> read_all(const std::filesystem::path& p, std::size_t chunk,
                                          std::vector<std::string>* texts = nullptr) {
  auto r = iati::reader::open(p, chunk);
  REQUIRE(r.is_ok());
  std::vector<iati::activity_text> out;
  while (auto a = r.value()->next()) {
    if (texts) texts->emplace_back(a->xml);
    a->xml = {};
    out.push_back(std::move(*a));
  }
  CHECK(r.value()->error().is_ok());
  return out;
}

// Resident set high-water mark of this process, in KiB.
long vm_hwm_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

const char* tricky = R"(<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment that mentions <iati-activity> and </iati-activities> -->
<iati:iati-activities xmlns:iati="urn:x" xmlns:d="http://d-portal.org/xmlns/dstore" version="2.03">
 <iati:iati-activity d:dataset="x" last-updated-datetime="2021-01-01T00:00:00" note="a > b">
  <iati:iati-identifier>XX-1</iati:iati-identifier>
  <iati:title><iati:narrative><![CDATA[Water </iati-activity> & <sanitation>]]></iati:narrative></iati:title>
  <!-- </iati:iati-activity> inside a comment -->
  <iati:recipient-country code="LB" percentage="100"/>
 </iati:iati-activity>
 <?pi instruction with > inside?>
 <iati-activity last-updated-datetime='2021-02-01T00:00:00'>
  <iati-identifier>XX-2</iati-identifier>
  <recipient-country code="SS"/>
 </iati-activity>
 <iati-activity/>
</iati:iati-activities>
)";

}  // namespace

TEST_CASE("activities are cut out whole whatever the chunk boundaries", "[development][reader]") {
  test::temp_dir dir("iati-reader");
  write(dir / "tricky.xml", tricky);
  for (std::size_t chunk : {64u, 100u, 1000u, 1u << 20}) {
    INFO("chunk " << chunk);
    std::vector<std::string> texts;
    auto acts = read_all(dir / "tricky.xml", chunk, &texts);
    REQUIRE(acts.size() == 3);
    CHECK(acts[0].line == 4);
    CHECK(acts[1].line == 11);
    CHECK(acts[2].line == 15);
    auto first = iati::parse_activity(texts[0], acts[0].line);
    REQUIRE(first.is_ok());
    CHECK(first->identifier == "XX-1");
    CHECK(first->title == "Water </iati-activity> & <sanitation>");
    REQUIRE(first->countries.size() == 1);
    CHECK(first->countries[0].code == "LB");
    CHECK(first->countries[0].line == 8);
    auto second = iati::parse_activity(texts[1], acts[1].line);
    REQUIRE(second.is_ok());
    CHECK(second->identifier == "XX-2");
    CHECK(second->last_updated == "2021-02-01T00:00:00");
    auto third = iati::parse_activity(texts[2], acts[2].line);
    REQUIRE(third.is_ok());
    CHECK(third->identifier.empty());
  }
}

TEST_CASE("a truncated file yields the activities before the cut and reports the broken one",
          "[development][reader]") {
  test::temp_dir dir("iati-reader");
  std::string text = tricky;
  write(dir / "cut.xml", text.substr(0, text.find("<recipient-country code=\"SS\"")));
  auto r = iati::reader::open(dir / "cut.xml", 64);
  REQUIRE(r.is_ok());
  auto a = r.value()->next();
  REQUIRE(a.has_value());
  CHECK(a->problem.empty());
  auto b = r.value()->next();
  REQUIRE(b.has_value());
  CHECK(b->line == 11);
  CHECK(b->problem.find("the file ends inside this <iati-activity>") != std::string::npos);
  CHECK_FALSE(r.value()->next().has_value());
  REQUIRE_FALSE(r.value()->notes().empty());
  CHECK(r.value()->notes().back().text.find("truncated") != std::string::npos);
}

TEST_CASE("a broken activity is skipped with its line and the next one is still imported",
          "[development][reader]") {
  test::temp_dir dir("iati-reader");
  write(dir / "broken.xml", R"(<iati-activities version="2.03">
 <iati-activity>
  <iati-identifier>XX-1</iati-identifier>
  <title><narrative>unclosed</title>
 </iati-activity>
 <iati-activity last-updated-datetime="2021-02-01T00:00:00">
  <iati-identifier>XX-2</iati-identifier>
  <recipient-country code="SS"/>
  <budget type="1"><value currency="USD">12,5</value></budget>
 </iati-activity>
</iati-activities>
)");
  auto r = test::import_with(iati::development_adapter(), dir / "broken.xml");
  REQUIRE(r.result.refused.is_ok());
  CHECK(r.result.counts.read == 2);
  CHECK(r.result.counts.skipped == 1);
  REQUIRE(r.envelopes.size() == 1);
  CHECK(r.by_record("XX-2") != nullptr);
  auto broken = r.issues_with("not well-formed XML at line 4");
  REQUIRE(broken.size() == 1);
  CHECK(broken[0].line == 2);
  auto budget = r.issues_with("budget value \"12,5\" is not a number");
  REQUIRE(budget.size() == 1);
  CHECK(budget[0].line == 9);
  CHECK_FALSE(budget[0].skipped);
}

TEST_CASE("a 100 MB file of 20,000 activities imports with memory well below its size",
          "[development][reader][streaming]") {
  test::temp_dir dir("iati-large");
  const auto path = dir / "large.xml";
  constexpr int count = 20000;
  {
    std::ofstream out(path, std::ios::binary);
    out << "<?xml version=\"1.0\"?>\n<iati-activities version=\"2.03\">\n";
    const std::string filler(4200, 'x');
    for (int i = 0; i < count; ++i) {
      out << " <iati-activity last-updated-datetime=\"2024-01-01T00:00:00\" default-currency=\"USD\" hierarchy=\"2\">\n"
          << "  <iati-identifier>XM-TEST-" << i << "</iati-identifier>\n"
          << "  <reporting-org ref=\"XM-TEST\" type=\"40\"><narrative>Test agency</narrative></reporting-org>\n"
          << "  <title><narrative>Activity " << i << "</narrative></title>\n"
          << "  <description><narrative>" << filler << "</narrative></description>\n"
          << "  <activity-status code=\"2\"/>\n"
          << "  <activity-date type=\"1\" iso-date=\"2024-01-01\"/>\n"
          << "  <recipient-country code=\"" << (i % 2 ? "SS" : "LB") << "\" percentage=\"100\"/>\n"
          << "  <sector vocabulary=\"1\" code=\"15130\" percentage=\"100\"/>\n"
          << "  <policy-marker vocabulary=\"1\" code=\"1\" significance=\"1\"/>\n"
          << "  <budget type=\"1\"><period-start iso-date=\"2024-01-01\"/><period-end iso-date=\"2024-12-31\"/>"
          << "<value currency=\"USD\">1000</value></budget>\n"
          << " </iati-activity>\n";
    }
    out << "</iati-activities>\n";
  }
  const auto size = std::filesystem::file_size(path);
  REQUIRE(size > 90'000'000);
  const long before = vm_hwm_kib();

  adapters::adapter_definition def = iati::development_adapter();
  auto settings = adapters::default_settings(def);
  std::uint64_t events = 0;
  std::uint64_t bytes = 0;
  auto r = adapters::import_file(def, settings, path, [&](std::vector<std::uint8_t> e) {
    ++events;
    bytes += e.size();
  });
  REQUIRE(r.refused.is_ok());
  CHECK(r.counts.read == count);
  CHECK(events == count);
  CHECK(r.counts.skipped == 0);
  CHECK(bytes > 0);
  const long after = vm_hwm_kib();
  INFO("VmHWM before " << before << " KiB, after " << after << " KiB, file " << size / 1024 << " KiB");
  // The whole file never sits in memory: the peak grows by far less than its size.
  CHECK(after - before < static_cast<long>(size / 1024 / 4));
}

TEST_CASE("encodings: declared Latin-1 is converted, stray Latin-1 is reported, UTF-16 is refused",
          "[development][reader][encoding]") {
  test::temp_dir dir("iati-encoding");
  const std::string body = " <iati-activity last-updated-datetime=\"2024-01-01T00:00:00\">\n"
                           "  <iati-identifier>XX-1</iati-identifier>\n"
                           "  <title><narrative>Choc\xF3 water</narrative></title>\n"
                           "  <recipient-country code=\"CO\"/>\n"
                           " </iati-activity>\n</iati-activities>\n";
  write(dir / "latin1.xml", "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<iati-activities version=\"2.03\">\n" + body);
  write(dir / "stray.xml", "<?xml version=\"1.0\"?>\n<iati-activities version=\"2.03\">\n" + body);
  write(dir / "utf16.xml", std::string("\xFF\xFE<\0?\0x\0m\0l\0", 12));

  auto latin1 = test::import_with(iati::development_adapter(), dir / "latin1.xml");
  REQUIRE(latin1.result.refused.is_ok());
  REQUIRE(latin1.envelopes.size() == 1);
  const auto* e = latin1.by_record("XX-1");
  REQUIRE(e != nullptr);
  CHECK(e->payload_as_ProgrammeActivity()->title()->str() == "Choc\xC3\xB3 water");

  auto stray = test::import_with(iati::development_adapter(), dir / "stray.xml");
  REQUIRE(stray.result.refused.is_ok());
  CHECK(stray.envelopes.empty());
  auto bad = stray.issues_with("not UTF-8");
  REQUIRE(bad.size() == 1);
  CHECK(bad[0].line == 3);

  auto utf16 = test::import_with(iati::development_adapter(), dir / "utf16.xml");
  REQUIRE_FALSE(utf16.result.refused.is_ok());
  CHECK(utf16.result.refused.message().find("UTF-16") != std::string::npos);
}
