#include "traces/version.h"

#ifndef KPSIM_VERSION_STRING
#define KPSIM_VERSION_STRING "unknown"
#endif

namespace kpsim {

std::string_view kpsim_version() { return KPSIM_VERSION_STRING; }

}  // namespace kpsim
