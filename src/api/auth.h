// Request authentication.
//
// Thread-safety: single-threaded, on the daemon's io_context.
#pragma once

#include "api/http_context.h"
#include "api/services.h"

namespace kiln::api {

// Sets the request's workspace from its API key, or throws 401. With no key
// store, or while no key has ever been created, auth is off and the
// workspace is "default" (kilnd only allows that on a loopback listener).
void authenticate(HttpContext& ctx, Services& s);

}  // namespace kiln::api
