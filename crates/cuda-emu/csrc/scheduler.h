// Between the scheduler (runtime.cpp) and the PTX twins (ptx.cpp): warp-wide collectives and
// launch failure.
#pragma once

#include <string>

#include "runtime.h"

namespace emu {

enum Kind : int { SHFL = 1, LDMATRIX = 2, MMA = 3 };
constexpr int MAX_IN = 12, MAX_OUT = 4;
// Computes every lane's output row from every lane's input row, once per collective.
using Compute = void (*)(u32 (*in)[MAX_IN], u32 (*out)[MAX_OUT]);

// Enters a warp collective of `kind`: deposits this lane's `in`, waits for the whole warp,
// returns this lane's output row. `compute` runs once, in the last lane to arrive. Lanes of one
// warp in different collectives, or a lane that exited, stop the launch with an error.
const u32* collective(Kind kind, const u32* in, int n_in, Compute compute);

// Stops the launch from inside a fiber with `msg` (prefixed with kernel, block and thread).
[[noreturn]] void fail(const std::string& msg);

}  // namespace emu
