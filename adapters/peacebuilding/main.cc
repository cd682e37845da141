// peacebuilding-adapter: imports Peacebuilding Fund projects into the hub (see MAPPING.md).
#include "adapters/peacebuilding/pbf.h"

int main(int argc, char** argv) {
  return hub::adapters::run_adapter(argc, argv, hub::adapters::pbf::peacebuilding_adapter());
}
