# hub_add_subdirectories(): adds every direct subfolder that has a CMakeLists.txt, in
# name order, so components can be added without editing their parent's file.
# HUB_SKIP_DIRS (a list of folder names) leaves some out, e.g. while one is being written.
function(hub_add_subdirectories)
  file(GLOB children LIST_DIRECTORIES true RELATIVE ${CMAKE_CURRENT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR}/*)
  list(SORT children)
  foreach(child ${children})
    if(IS_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/${child} AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${child}/CMakeLists.txt
       AND NOT child IN_LIST HUB_SKIP_DIRS)
      add_subdirectory(${child})
    endif()
  endforeach()
endfunction()
