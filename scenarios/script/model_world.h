// The model side of a scenario script: a Program (scenarios/script/program.h) made into model
// objects and scheduler tasks. See model_world.cpp.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "scenarios/scenario.h"
#include "scenarios/script/program.h"

namespace kpsim::script {

// Something the Program asks that the model cannot do. what() is "<loc>: unsupported in the
// model: <why>", loc being the statement's (the program's file for settings).
struct ScriptUnsupported : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Appending a value to a metrics key (World::metrics_key): its bytes, strings and vectors
// prefixed with their length, so that the key of a sequence of values is unambiguous.
template <class T>
  requires std::is_trivially_copyable_v<T>
void key_put(std::string& key, const T& v) {
  key.append(reinterpret_cast<const char*>(&v), sizeof v);
}
inline void key_put(std::string& key, std::string_view s) {
  key_put(key, s.size());
  key.append(s);
}
template <class T>
  requires std::is_trivially_copyable_v<T>
void key_put(std::string& key, const std::vector<T>& v) {
  key_put(key, v.size());
  key.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

// The model interpreters' refusal: "FILE:L:C: unsupported in the model: WHY".
[[noreturn]] void unsupported(const Loc& loc, std::string_view why);

// A stream program (kTLS/sendfile, splice) is one TCP connection and nothing of sockmap's: any
// other socket, a map, a verdict program or map operations are refused, naming `what`.
void refuse_all_but_one_tcp_connection(const Program& p, std::string_view what);

// Builds the model objects of `prog` (a copy is kept: the World outlives the caller's Program)
// and spawns its threads under `s`, with the checkers of the compiled seed-000 scenario
// generalised. Throws ScriptUnsupported for anything the model cannot do — never approximates
// silently.
std::unique_ptr<World> build_script_world(Sched& s, const Program& prog);
// The same without the copy: the World shares `prog`. For a caller that keeps its Programs
// (ScriptScenario caching one per parameter set): copying a Program per schedule is most of
// what the script world costs over the compiled seed.
std::unique_ptr<World> build_script_world(Sched& s, std::shared_ptr<const Program> prog);

// A Program of the stream world (Program::stream()): one loopback TCP connection, kTLS TX on
// its sender or plain TCP, files sent with sendfile()/write(), a receiver that drains
// (scenarios/script/model_stream_world.cpp). build_script_world dispatches to it.
std::unique_ptr<World> build_stream_world(Sched& s, std::shared_ptr<const Program> prog);
// A stream program that splices (seed 002, ktls-async-close): a server thread splicing a file
// through a pipe into the socket and closing it, plainly or through an io_uring, and a client
// thread reading until EOF (scenarios/script/model_splice_world.cpp). build_stream_world
// dispatches to it.
std::unique_ptr<World> build_splice_world(Sched& s, std::shared_ptr<const Program> prog);

}  // namespace kpsim::script
