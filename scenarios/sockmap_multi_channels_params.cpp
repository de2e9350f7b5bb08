#include "scenarios/sockmap_multi_channels.h"

namespace kpsim {

sockmap::Script multi_channels_script(const Params& p) {
  return sockmap::make_multi_channels_script(
      p.get("proto") == "tcp" ? sockmap::Proto::tcp : sockmap::Proto::udp, p.get("test"),
      static_cast<uint32_t>(p.get_int("c1_bytes")), static_cast<uint32_t>(p.get_int("c0_bytes")));
}

}  // namespace kpsim
