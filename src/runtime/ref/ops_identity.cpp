// Identity: the output is the input (shares the buffer).
#include "runtime/ref/op.h"

namespace edgeq::runtime {

Status op_identity(OpContext& ctx) {
    if (!ctx.has_input(0)) return ctx.fail("missing input");
    ctx.outputs[0] = ctx.in(0);
    return Status::Ok();
}

}  // namespace edgeq::runtime
