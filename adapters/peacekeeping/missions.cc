// UN peace operations and their host countries. Missions spanning several countries
// are filed under the country of their headquarters; this is what SecurityIncident
// events from the fatalities table use, since that table names only the mission.
#include <array>

#include "adapters/common/text.h"
#include "adapters/peacekeeping/peacekeeping.h"

namespace hub::adapters::peacekeeping {
namespace {

struct mission_row {
  const char* acronym;
  const char* country;
  bool current;  // deployed today (a mission in the country for new incidents)
};

constexpr mission_row missions[] = {
    {"UNTSO", "ISR", true},     {"UNMOGIP", "PAK", true},   {"UNFICYP", "CYP", true},
    {"UNDOF", "SYR", true},     {"UNIFIL", "LBN", true},    {"MINURSO", "ESH", true},
    {"UNMIK", "SRB", true},     {"UNMISS", "SSD", true},    {"UNISFA", "SDN", true},
    {"MINUSCA", "CAF", true},   {"MONUSCO", "COD", true},   {"MINUSMA", "MLI", false},
    {"UNAMID", "SDN", false},   {"MONUC", "COD", false},    {"ONUC", "COD", false},
    {"UNPROFOR", "BIH", false}, {"UNMIL", "LBR", false},    {"UNAMSIL", "SLE", false},
    {"MINUSTAH", "HTI", false}, {"MINUJUSTH", "HTI", false},{"UNOSOM", "SOM", false},
    {"UNEF", "EGY", false},     {"UNOCI", "CIV", false},    {"UNTAC", "KHM", false},
    {"UNMIS", "SDN", false},    {"UNAMA", "AFG", true},     {"UNAVEM", "AGO", false},
    {"UNAMI", "IRQ", true},     {"UNOHCI", "IRQ", false},   {"UNAMIR", "RWA", false},
    {"UNTAET", "TLS", false},   {"ONUMOZ", "MOZ", false},   {"ONUB", "BDI", false},
    {"MONUA", "AGO", false},    {"UNMISET", "TLS", false},  {"UNMEE", "ERI", false},
    {"UNTAG", "NAM", false},    {"UNIKOM", "KWT", false},   {"UNMIT", "TLS", false},
    {"UNCRO", "HRV", false},    {"UNPF", "HRV", false},     {"UNOMIG", "GEO", false},
    {"UNMIBH", "BIH", false},   {"UNTAES", "HRV", false},   {"UNMIH", "HTI", false},
    {"MINURCAT", "TCD", false}, {"UNSMIL", "LBY", true},    {"UNGCI", "IRQ", false},
    {"UNAMET", "TLS", false},   {"UNMOT", "TJK", false},    {"MIPONUH", "HTI", false},
    {"UNSOM", "SOM", true},     {"UNMIN", "NPL", false},    {"IPTF", "BIH", false},
    {"ONUSAL", "SLV", false},   {"UNVMC", "COL", true},     {"UNSOS", "SOM", true},
    {"UNPREDEP", "MKD", false}, {"UNIOSIL", "SLE", false},  {"MINUGUA", "GTM", false},
    {"BINUH", "HTI", true},     {"UNSMA", "AFG", false},    {"UNSCOB", "GRC", false},
    {"UNPOS", "SOM", false},    {"UNOWA", "SEN", false},    {"MINURCA", "CAF", false},
    {"UNSMIS", "SYR", false},   {"UNSMIH", "HTI", false},   {"UNPSG", "HRV", false},
    {"UNOWAS", "SEN", true},    {"UNOAU", "ETH", true},     {"UNMAO", "AGO", false},
    {"UNMA", "AGO", false},     {"UNITAMS", "SDN", false},  {"UNIPSIL", "SLE", false},
    {"UNIIMOG", "IRN", false},  {"OSESYRIA", "SYR", true},  {"OSESGY", "YEM", true},
    {"MICAH", "HTI", false},    {"BONUCA", "CAF", false},   {"BINUCA", "CAF", false},
    {"UNMHA", "YEM", true},     {"UNOSOM II", "SOM", false},{"UNEF II", "EGY", false},
    {"UNAVEM II", "AGO", false},{"UNAVEM III", "AGO", false},{"UNMIBH", "BIH", false},
    {"UNOMIL", "LBR", false},   {"UNIOGBIS", "GNB", false}, {"UNOCA", "GAB", true},
    {"UNRCCA", "TKM", true},    {"UNMIS", "SDN", false},    {"UNOGIL", "LBN", false},
    {"UNYOM", "YEM", false},    {"UNIPOM", "IND", false},   {"UNMOP", "HRV", false},
    {"UNASOG", "TCD", false},   {"UNOMUR", "UGA", false},   {"UNGOMAP", "AFG", false},
    {"ONUCA", "NIC", false},    {"DOMREP", "DOM", false},   {"UNSF", "IDN", false},
};

std::string upper_key(std::string_view s) {
  std::string out(trim(s));
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::optional<std::string> mission_country(std::string_view acronym) {
  auto k = upper_key(acronym);
  for (const auto& m : missions)
    if (k == m.acronym) return std::string(m.country);
  return std::nullopt;
}

std::optional<std::string> mission_in(std::string_view alpha3) {
  auto k = upper_key(alpha3);
  for (const auto& m : missions)
    if (m.current && k == m.country && std::string_view(m.acronym).rfind("UNSOS", 0) != 0)
      return std::string(m.acronym);
  return std::nullopt;
}

}  // namespace hub::adapters::peacekeeping
