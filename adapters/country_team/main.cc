#include "adapters/country_team/country_team.h"

int main(int argc, char** argv) {
  return hub::adapters::run_adapter(argc, argv, hub::adapters::country_team::definition());
}
