# Writes OUT: one `{ "name.kps", R"kps(<text>)kps" },` line per script in SCRIPTS (a |-list,
# sorted), so the built-in scripts are compiled into kpsim. Run at build time
# (scenarios/CMakeLists.txt), so editing a .kps file rebuilds.
set(body "")
string(REPLACE "|" ";" SCRIPTS "${SCRIPTS}")
list(SORT SCRIPTS)
foreach(f IN LISTS SCRIPTS)
  file(READ "${f}" text)
  string(FIND "${text}" ")kps\"" bad)
  if(NOT bad EQUAL -1)
    message(FATAL_ERROR "${f}: contains the raw-string delimiter )kps\"")
  endif()
  get_filename_component(name "${f}" NAME)
  string(APPEND body "{\"${name}\", R\"kps(${text})kps\"},\n")
endforeach()
file(WRITE "${OUT}.tmp" "${body}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
