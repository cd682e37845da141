# Project-wide helpers. Settings go on targets, never on directories.

function(hub_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wconversion -Wshadow
    -Wno-sign-conversion -Wno-missing-field-initializers)
  if(HUB_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

if(HUB_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# The fuzz build instruments every library it compiles (coverage for libFuzzer, ASan,
# UBSan), not only the fuzz targets' own files: libFuzzer then sees into the parsers the
# targets drive. The targets add -fsanitize=fuzzer, which brings libFuzzer's main.
if(HUB_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# hub_library(name [sources...] ) -> target hub_<name> with alias hub::<name>
macro(hub_library name)
  add_library(hub_${name} ${ARGN})
  add_library(hub::${name} ALIAS hub_${name})
  hub_warnings(hub_${name})
endmacro()
