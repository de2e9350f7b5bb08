// The runner's input: one configuration per command-line argument, a comma-separated
// key=value list ("mode=ktls-sendfile-stall,mss=1448,bytes=4194304"; a bare key means key=1).
//
// The host (cli/guest_crosscheck.cpp, scripts/guest/run-suite) writes these; every workload
// echoes its configuration back as "config" in its result so a result line stands alone.
#pragma once

#include <map>
#include <string>

#include "json.h"

namespace kpsim::guest {

using KV = std::map<std::string, std::string>;

// Splits one argument into its keys.
KV parse_config(const std::string& arg);

// The key as a number (strtoll base 0: 0x.. and 0.. too), dflt when absent.
long long get_num(const KV& kv, const char* k, long long dflt);

// The key as a string, dflt when absent.
std::string get_str(const KV& kv, const char* k, const std::string& dflt);

// The configuration as a JSON object of strings.
std::string kv_json(const KV& kv);

// The first keys of every workload's result: mode, the running kernel, the configuration.
Json result_header(const char* mode, const KV& kv);

}  // namespace kpsim::guest
