# cmake -DIN=page.html -DOUT=page.cc -P embed_html.cmake
# Writes hub::ops::dashboard_html() returning the file's bytes as a raw string literal.
file(READ ${IN} content)
string(FIND "${content}" ")hubhtml\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${IN} contains the raw-string delimiter )hubhtml\"; change one of them")
endif()
file(WRITE ${OUT} "// Generated from hub/ops/dashboard.html by embed_html.cmake; do not edit.\n"
  "#include \"hub/ops/http_server.h\"\n"
  "namespace hub::ops {\n"
  "std::string_view dashboard_html() {\n"
  "  static constexpr std::string_view page = R\"hubhtml(${content})hubhtml\";\n"
  "  return page;\n"
  "}\n"
  "}  // namespace hub::ops\n")
