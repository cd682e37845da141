# Writes the text of IN as a C++ string constant into OUT.
file(READ ${IN} text)
set(delim "HUBFBS")
file(WRITE ${OUT} "// Generated from events.fbs; do not edit.\n#include <string_view>\nnamespace hub::schema {\nextern const std::string_view events_fbs_text;\nconst std::string_view events_fbs_text = R\"${delim}(${text})${delim}\";\n}\n")
