// Page tokens: what the driver gives out reads back; nothing else does.
#include <doctest/doctest.h>

#include "messages/page_token.hpp"

using namespace rds;

TEST_CASE("page tokens read back only as the driver gave them out") {
  auto token = make_page_token(page_kind::volumes, "csi-0123456789abcdef0123456789ab");
  std::string id;
  REQUIRE(read_page_token(page_kind::volumes, token, id));
  CHECK(id == "csi-0123456789abcdef0123456789ab");
  CHECK_FALSE(read_page_token(page_kind::snapshots, token, id));
  for (auto foreign :
       {std::string{}, std::string{"not-a-token"}, std::string{"csi-0123456789abcdef0123456789ab"},
        token + "x", token.substr(0, token.size() - 1),
        std::string{"p1.volumes.0000000000000000.csi-1"}, token.substr(0, 27)}) {
    CAPTURE(foreign);
    CHECK_FALSE(read_page_token(page_kind::volumes, foreign, id));
  }
  auto snapshot = make_page_token(page_kind::snapshots, "snp-1");
  REQUIRE(read_page_token(page_kind::snapshots, snapshot, id));
  CHECK(id == "snp-1");
}
