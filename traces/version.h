// The kpsim version recorded in every trace header written by a run (`kpsim_version`): the
// project version from CMake plus the git commit at configure time ("0.1.0+g1234abc"), or
// "0.1.0+unknown" when the source was not a git checkout then.
#pragma once

#include <string_view>

namespace kpsim {

std::string_view kpsim_version();

}  // namespace kpsim
