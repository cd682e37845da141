// The peacebuilding adapter: PBF-funded IATI activities from the real fixture, and a
// DPPA-PBFPROJECTS CSV written for these tests (no real export is public; see MAPPING.md).
#include <fstream>
#include <string>

#include <catch2/catch.hpp>

#include "adapters/peacebuilding/pbf.h"
#include "schemas/schema.h"
#include "tests/development/import_helpers.h"
#include "tests/support/temp_dir.h"

using namespace hub;
using hub::test::fixture;
using hub::test::import_with;
namespace pbf = hub::adapters::pbf;

namespace {

std::filesystem::path sample_csv() {
  return std::filesystem::path(HUB_SOURCE_DIR) / "tests/peacebuilding/data/pbf-projects-sample.csv";
}

const schema::PeacebuildingProject* project(const schema::Envelope* e) {
  REQUIRE(e != nullptr);
  REQUIRE(e->payload_type() == schema::Payload::PeacebuildingProject);
  return e->payload_as_PeacebuildingProject();
}

}  // namespace

TEST_CASE("the Liberia project funded by the Peacebuilding Fund is detected as PBF-funded",
          "[peacebuilding][iati]") {
  auto r = import_with(pbf::peacebuilding_adapter(),
                       fixture("iati/iati-activities-covid19-2021-dportal-subset.xml"));
  REQUIRE(r.result.refused.is_ok());
  CHECK(r.result.counts.read == 109);
  // Exactly one activity of the subset is funded by the fund.
  REQUIRE(r.envelopes.size() == 1);
  const auto* e = r.by_record("XM-DAC-41114-PROJECT-00126829");
  const auto* p = project(e);
  CHECK(e->entity() == schema::Entity::peacebuilding);
  CHECK(e->country()->str() == "LBR");
  CHECK(e->correlation_id()->str() == "XM-DAC-41114-PROJECT-00126829");
  CHECK(p->project_number()->str() == "XM-DAC-41114-PROJECT-00126829");
  CHECK(p->title()->str() == "Support Liberia COVID-19 Preparedness and Response");
  CHECK(p->status() == schema::ActivityStatus::active);
  REQUIRE(p->recipients() != nullptr);
  CHECK(p->recipients()->Get(0)->ref()->str() == "XM-DAC-41114");
  CHECK(schema::topic_of(*e) == "peacebuilding.LBR.peacebuilding_project");
  CHECK_FALSE(r.issues_with("activities are not funded by the Peacebuilding Fund").empty());
}

TEST_CASE("funding by the Peacebuilding Fund is recognised by code, by name and by publisher",
          "[peacebuilding][iati]") {
  adapters::iati::activity a;
  a.identifier = "XX-1";
  CHECK_FALSE(pbf::pbf_funding(a).has_value());
  SECTION("UNDP's donor code 11363") {
    a.participating_orgs.push_back({"11363", "", "1", "", ""});
    CHECK(pbf::pbf_funding(a).has_value());
  }
  SECTION("the fund's name in any case") {
    a.participating_orgs.push_back({"XM-OCHA-PBF", "PEACEBUILDING FUND", "1", "", ""});
    CHECK(pbf::pbf_funding(a).has_value());
  }
  SECTION("the code as an implementer is not funding") {
    a.participating_orgs.push_back({"11363", "Peacebuilding Fund", "4", "", ""});
    CHECK_FALSE(pbf::pbf_funding(a).has_value());
  }
  SECTION("the UN Pooled Funds publisher for the fund") {
    a.reporting_org = adapters::iati::organisation{"XI-IATI-UNPF", "UN Pooled Funds", "", "40", ""};
    CHECK_FALSE(pbf::pbf_funding(a).has_value());  // another pooled fund
    a.title = "PBF: youth and peace in Liberia";
    CHECK(pbf::pbf_funding(a).has_value());
  }
}

TEST_CASE("a DPPA-PBFPROJECTS CSV maps gender marker, GEWE share, areas and window",
          "[peacebuilding][csv]") {
  const auto def = pbf::peacebuilding_adapter();  // outlives r: r.result.used points into it
  auto r = import_with(def, sample_csv());
  REQUIRE(r.result.refused.is_ok());
  REQUIRE(r.result.used != nullptr);
  CHECK(r.result.used->kind == "pbf-csv");
  CHECK(r.result.counts.read == 7);
  CHECK(r.result.counts.skipped == 2);
  CHECK(r.envelopes.size() == 5);

  SECTION("a GYPI youth project in Liberia, GM2 with 30 % for GEWE") {
    const auto* e = r.by_record("PBF/LBR/B-7 Youth");
    const auto* p = project(e);
    CHECK(e->entity() == schema::Entity::peacebuilding);
    CHECK(e->country()->str() == "LBR");
    CHECK(p->project_number()->str() == "PBF/LBR/B-7");
    CHECK(p->title()->str() == "Youth leadership for peace in border counties");
    CHECK(p->window()->str() == "IRF; GYPI (YPI)");
    CHECK(p->priority_area()->str() == "2");
    CHECK(p->focus_area()->str() == "2.1");
    CHECK(p->approved_budget()->currency()->str() == "USD");
    CHECK(p->approved_budget()->amount() == Approx(1500000));
    CHECK(p->gewe_allocation()->amount() == Approx(450000));
    CHECK(p->status() == schema::ActivityStatus::active);
    CHECK(p->year_of_approval() == 2018);
    CHECK(p->sector_family()->str() == "peacebuilding");
    REQUIRE(e->gender() != nullptr);
    CHECK(e->gender()->scheme() == schema::GenderScheme::pbf_gm);
    CHECK(e->gender()->raw()->str() == "2");
    CHECK(e->gender()->level() == schema::GenderLevel::significant);
    CHECK(e->gender()->gewe_share_pct() == Approx(30.0));
    CHECK(e->period()->start() > 0);
  }
  SECTION("a GM3 justice project with currency written as in spreadsheets") {
    const auto* e = r.by_record("PBF/SSD/A-3 Justice");
    const auto* p = project(e);
    CHECK(e->country()->str() == "SSD");
    CHECK(p->approved_budget()->amount() == Approx(2000000));
    CHECK(p->gewe_allocation()->amount() == Approx(1700000));
    CHECK(e->gender()->level() == schema::GenderLevel::principal);
    CHECK(e->gender()->gewe_share_pct() == Approx(85.0));
    CHECK(p->status() == schema::ActivityStatus::completed);
    CHECK(p->window()->str() == "PRF; transitions");
    CHECK(p->sector_family()->str() == "rule_of_law");
  }
  SECTION("a 2016 project without a GEWE allocation has no share") {
    const auto* e = r.by_record("PBF/CAF/A-1 DDR");
    const auto* p = project(e);
    CHECK(e->country()->str() == "CAF");
    CHECK(e->gender()->level() == schema::GenderLevel::limited);
    CHECK(e->gender()->gewe_share_pct() == Approx(-1));
    CHECK(p->gewe_allocation() == nullptr);
    CHECK(p->status() == schema::ActivityStatus::closed);
    CHECK(p->sector_family()->str() == "ddr");
  }
  SECTION("a cost extension is its own record") {
    const auto* e = r.by_record("PBF/LBR/B-7 Youth CE1");
    CHECK(project(e)->approved_budget()->amount() == Approx(500000));
  }
  SECTION("rows that cannot be filed are reported with their lines") {
    auto global = r.issues_with("United Nations");
    REQUIRE(global.size() == 1);
    CHECK(global[0].line == 4);
    CHECK(global[0].skipped);
    auto anonymous = r.issues_with("no project_id or project_number");
    REQUIRE(anonymous.size() == 1);
    CHECK(anonymous[0].line == 6);
  }
  SECTION("a gender marker out of range is reported and the project still imported") {
    const auto* e = r.by_record("PBF/MLI/D-2 Dialogue");
    REQUIRE(e != nullptr);
    auto bad = r.issues_with("gender marker \"5\"");
    REQUIRE(bad.size() == 1);
    CHECK(bad[0].line == 7);
    CHECK_FALSE(bad[0].skipped);
    REQUIRE(e->gender() != nullptr);
    CHECK(e->gender()->scheme() == schema::GenderScheme::none);
    CHECK(e->gender()->gewe_share_pct() == Approx(100.0 * 400000 / 1200000));
  }
}

TEST_CASE("re-reading the projects CSV gives the same event ids and a changed row a new one",
          "[peacebuilding][csv]") {
  auto a = import_with(pbf::peacebuilding_adapter(), sample_csv());
  auto b = import_with(pbf::peacebuilding_adapter(), sample_csv());
  REQUIRE(a.envelopes.size() == b.envelopes.size());
  for (std::size_t i = 0; i < a.envelopes.size(); ++i)
    CHECK(schema::id_to_hex(*schema::GetEnvelope(a.envelopes[i].data())->id()) ==
          schema::id_to_hex(*schema::GetEnvelope(b.envelopes[i].data())->id()));

  test::temp_dir dir("pbf-csv");
  std::ifstream in(sample_csv());
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  text.replace(text.find("ongoing"), 7, "operationally_closed");
  std::ofstream(dir / "changed.csv") << text;
  auto c = import_with(pbf::peacebuilding_adapter(), dir / "changed.csv");
  const auto* before = a.by_record("PBF/LBR/B-7 Youth");
  const auto* after = c.by_record("PBF/LBR/B-7 Youth");
  REQUIRE(before != nullptr);
  REQUIRE(after != nullptr);
  CHECK(schema::id_to_hex(*before->id()) != schema::id_to_hex(*after->id()));
  CHECK(project(after)->status() == schema::ActivityStatus::completed);
}

TEST_CASE("a CSV that is not a PBF projects table is refused with a clear message", "[peacebuilding][csv]") {
  auto r = import_with(pbf::peacebuilding_adapter(), fixture("hxl/libhxl/input-valid.csv"));
  REQUIRE_FALSE(r.result.refused.is_ok());
  CHECK(r.result.refused.message().find("not a Peacebuilding Fund projects CSV") != std::string::npos);
  CHECK(r.envelopes.empty());
}

TEST_CASE("PBF amounts, statuses and focus areas are read as the data hub writes them", "[peacebuilding][csv]") {
  CHECK(pbf::parse_amount("1,500,000.00") == Approx(1500000));
  CHECK(pbf::parse_amount("$2,000") == Approx(2000));
  CHECK(pbf::parse_amount("USD 300000") == Approx(300000));
  CHECK_FALSE(pbf::parse_amount("n/a").has_value());
  CHECK_FALSE(pbf::parse_amount("-5").has_value());
  CHECK(pbf::project_status("ongoing") == schema::ActivityStatus::active);
  CHECK(pbf::project_status("Operationally Closed") == schema::ActivityStatus::completed);
  CHECK(pbf::project_status("financially_closed") == schema::ActivityStatus::closed);
  CHECK(pbf::sector_family_of_focus("1.20") == "rule_of_law");
  CHECK(pbf::sector_family_of_focus("9.9").empty());
}
