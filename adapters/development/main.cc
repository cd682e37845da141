// development-adapter: imports IATI activity files into the hub (see MAPPING.md).
#include "adapters/development/iati.h"

int main(int argc, char** argv) {
  return hub::adapters::run_adapter(argc, argv, hub::adapters::iati::development_adapter());
}
