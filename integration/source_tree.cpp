#include "integration/source_tree.hpp"

namespace rds::test {

std::string source_root() {
  return RDS_CSI_SOURCE_DIR;
}

std::string source_path(const std::string& relative) {
  return source_root() + "/" + relative;
}

} // namespace rds::test
