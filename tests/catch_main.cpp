// The one translation unit that compiles Catch2's runner (Catch2 v2, header-only).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
