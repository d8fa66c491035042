// OpenSSL keeps per-thread state (its random generators, used by every TLS context a libcurl
// handle makes; its error queue) that it frees only when the thread exits. A detached actor's
// thread can outlive the process's own OpenSSL cleanup at exit, and then that state is reported
// as leaked (LeakSanitizer, seen in CI). So a detached actor that makes TLS connections frees its
// thread's OpenSSL state as it ends, in its own thread.
#pragma once

#include <openssl/crypto.h>

namespace rds::actors {

/// On `self`'s end, in its own thread, after its state (and so its TLS clients) is destroyed
/// (CAF 0.17 runs attached functors after a stateful actor's on_exit): the thread's OpenSSL
/// state.
template <class Self> void release_thread_crypto_on_exit(Self* self) {
  self->attach_functor([] { OPENSSL_thread_stop(); });
}

} // namespace rds::actors
