// The peacekeeping-adapter program against a real hubd.
#include <catch2/catch.hpp>

#include "tests/adapters_common/import_helpers.h"
#include "adapters/sdk/sdk.h"
#include "tests/support/hubd_process.h"

using namespace hub;

TEST_CASE("re-importing the UCDP feed into a running hub publishes nothing new", "[peacekeeping][hub][dedup]") {
  test::hubd_process hub;
  test::temp_dir dir("pk-hub");
  std::string cmd = std::string(PEACEKEEPING_ADAPTER) + " import '" +
                    test::fixture("incidents/ucdp-ged-23.1-caf-2020-2022.csv").string() + "' --hub " +
                    hub.endpoint() + " --progress none --heartbeat-interval 0";
  auto first = test::run_program(cmd, dir.path(), "first");
  INFO(first.err);
  REQUIRE(first.exit_code == 0);
  CHECK(test::summary_count(first.err, "published") == 328);
  auto second = test::run_program(cmd, dir.path(), "second");
  INFO(second.err);
  REQUIRE(second.exit_code == 0);
  CHECK(test::summary_count(second.err, "published") == 0);
  CHECK(test::summary_count(second.err, "duplicates") == 328);
}

TEST_CASE("events wait in the spool while the hub is down and go out when it is back", "[peacekeeping][hub][spool]") {
  test::temp_dir dir("pk-spool");
  test::hubd_process hub;
  const std::string endpoint = hub.endpoint();
  hub.stop();
  auto file = dir / "mandate.csv";
  test::write_file(file,
                   "activity_id,title,mission,country,mandate_area,component,status,start\n"
                   "A-1,Patrols,UNMISS,SSD,poc,military,ongoing,2025-01-01\n"
                   "A-2,Courts,UNMISS,SSD,rule_of_law,civilian,ongoing,2025-01-01\n");
  std::string base = std::string(PEACEKEEPING_ADAPTER) + " import '" + file.string() + "' --progress none " +
                     "--heartbeat-interval 0 --spool '" + (dir / "spool").string() + "'";
  auto down = test::run_program(base + " --hub " + endpoint + " --flush-timeout 500", dir.path(), "down");
  INFO(down.err);
  CHECK(down.exit_code == 3);
  CHECK_THAT(down.err, Catch::Contains("stay in the spool"));
  hub.restart();
  auto up = test::run_program(base + " --hub " + hub.endpoint() + " --flush-timeout 20000", dir.path(), "up");
  INFO(up.err);
  CHECK(up.exit_code == 0);
  CHECK(test::summary_count(up.err, "published") + test::summary_count(up.err, "duplicates") >= 2);
}

TEST_CASE("an import sends an AdapterHeartbeat with its counts to the hub", "[peacekeeping][hub][heartbeat]") {
  test::hubd_process hub;
  test::temp_dir dir("pk-hb");
  auto file = dir / "mandate.csv";
  test::write_file(file,
                   "activity_id,title,mission,country,mandate_area,component,status,start\n"
                   "A-1,Patrols,UNMISS,SSD,poc,military,ongoing,2025-01-01\n"
                   "A-2,Bad,UNMISS,SSD,astrology,civilian,ongoing,2025-01-01\n");
  auto r = test::run_program(std::string(PEACEKEEPING_ADAPTER) + " import '" + file.string() + "' --hub " +
                                 hub.endpoint() + " --progress none",
                             dir.path(), "hb");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  sdk::subscriber::options so;
  so.connection.endpoints = {hub.endpoint()};
  so.pattern = "hub.SSD.adapter_heartbeat";
  so.start = sdk::start_position::earliest();
  sdk::subscriber sub(so);
  // The adapter sends one when it starts publishing and one at the end: keep the last.
  std::optional<sdk::event> ev;
  for (int i = 0; i < 10; ++i) {
    auto next = sub.next(ev ? std::chrono::milliseconds(1500) : std::chrono::milliseconds(10000));
    if (!next) break;
    ev = std::move(next);
  }
  REQUIRE(ev);
  auto* hb = ev->envelope()->payload_as_AdapterHeartbeat();
  REQUIRE(hb);
  CHECK(test::str(hb->adapter()) == "peacekeeping-adapter");
  CHECK(hb->read() == 2);
  CHECK(hb->skipped() == 1);
  CHECK(ev->envelope()->entity() == schema::Entity::hub);
}
