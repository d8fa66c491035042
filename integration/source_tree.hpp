// Files of the checkout the tests read (README.md, deploy/). The checkout's path is compiled
// into source_tree.cpp alone, so that the other test sources compile the same in every clone
// (and a clean clone reuses ccache's objects for them).
#pragma once

#include <string>

namespace rds::test {

/// The checkout's root, without a trailing slash.
std::string source_root();

/// `relative` under the checkout's root, e.g. "README.md" or "deploy/kubernetes/".
std::string source_path(const std::string& relative);

} // namespace rds::test
