# earshot_add_module(<target> [LIBS_PUBLIC ...] [LIBS_PRIVATE ...]): a static library of every .cpp in
# the calling folder (main.cpp excepted). A module with no sources yet is skipped, so a half-built
# tree still configures.
function(earshot_add_module target)
  cmake_parse_arguments(ARG "" "" "LIBS_PUBLIC;LIBS_PRIVATE" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  list(REMOVE_ITEM sources ${CMAKE_CURRENT_SOURCE_DIR}/main.cpp)
  if(NOT sources)
    return()
  endif()
  add_library(${target} STATIC ${sources})
  earshot_configure_target(${target})
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${target} PUBLIC ${ARG_LIBS_PUBLIC} PRIVATE ${ARG_LIBS_PRIVATE})
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON)
endfunction()

# Adds every immediate sub-folder of the calling folder that has a CMakeLists.txt.
function(earshot_add_subfolders)
  file(GLOB children LIST_DIRECTORIES true ${CMAKE_CURRENT_SOURCE_DIR}/*)
  foreach(child ${children})
    if(IS_DIRECTORY ${child} AND EXISTS ${child}/CMakeLists.txt)
      add_subdirectory(${child})
    endif()
  endforeach()
endfunction()

# earshot_prefer_static(<imported target> <lib names...> [LINK <extra libs...>]): points the
# imported target at lib<name>.a for every name, plus the LINK libraries those archives need. When
# any archive is missing the target is left as it is (shared), with a note.
function(earshot_prefer_static target)
  cmake_parse_arguments(ARG "" "" "LINK" ${ARGN})
  set(archives "")
  foreach(name ${ARG_UNPARSED_ARGUMENTS})
    find_library(EARSHOT_STATIC_${name} NAMES lib${name}.a)
    if(NOT EARSHOT_STATIC_${name})
      message(STATUS "earshot: lib${name}.a not found; ${target} stays shared")
      return()
    endif()
    list(APPEND archives ${EARSHOT_STATIC_${name}})
  endforeach()
  set_target_properties(${target} PROPERTIES INTERFACE_LINK_LIBRARIES "${archives};${ARG_LINK}")
endfunction()
