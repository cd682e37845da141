#include "adapters/strategy/strategy.h"

int main(int argc, char** argv) {
  return hub::adapters::run_adapter(argc, argv, hub::adapters::strategy::definition());
}
