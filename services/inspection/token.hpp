// The inspection port's bearer token check: constant time, so the time an answer takes says
// nothing about how much of a guessed token was right.
#pragma once

#include <string>

namespace rds::services::inspection {

/// Whether `given` equals `expected`, in a time that depends only on `expected`'s length.
bool same_secret(const std::string& given, const std::string& expected);

/// Whether an Authorization header ("Bearer <token>") carries `token`. An empty `token` means
/// none is asked: every request passes.
bool authorized(const std::string& authorization, const std::string& token);

} // namespace rds::services::inspection
