// Base64 (OpenSSL's EVP encoder) and URL escaping (libcurl): the RFC 4648 vectors, round trips
// of every length and byte, what is refused, and what a query value turns into.
#include <doctest/doctest.h>

#include <string>

#include "services/codec/base64.hpp"
#include "services/kube/kube_client.hpp"

using namespace rds::services;

TEST_CASE("base64: the RFC 4648 vectors, both ways") {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (auto& [plain, encoded] : vectors) {
    CAPTURE(plain);
    CHECK(codec::encode_base64(plain) == encoded);
    std::string out = "left over";
    REQUIRE(codec::decode_base64(encoded, out));
    CHECK(out == plain);
  }
}

TEST_CASE("base64: every length from 0 to 300 and every byte value round-trip") {
  std::string bytes;
  for (int n = 0; n <= 300; ++n) {
    CAPTURE(n);
    auto encoded = codec::encode_base64(bytes);
    CHECK(encoded.size() == (bytes.size() + 2) / 3 * 4);
    CHECK(encoded.find('\n') == std::string::npos);
    std::string back;
    REQUIRE(codec::decode_base64(encoded, back));
    CHECK(back == bytes);
    // The same without its padding, and broken over lines as PEM and YAML break it.
    auto bare = encoded.substr(0, encoded.find('='));
    REQUIRE(codec::decode_base64(bare, back));
    CHECK(back == bytes);
    std::string folded;
    for (size_t i = 0; i < encoded.size(); ++i)
      folded += (i > 0 && i % 64 == 0 ? "\r\n" : "") + std::string(1, encoded[i]);
    REQUIRE(codec::decode_base64(" " + folded + "\n", back));
    CHECK(back == bytes);
    bytes.push_back(static_cast<char>((n * 151 + 7) & 0xff)); // every value 0..255 occurs
  }
  CHECK(codec::encode_base64(std::string("\0\0\0", 3)) == "AAAA");
  CHECK(codec::encode_base64("\xff\xfe") == "//4=");
  std::string out;
  REQUIRE(codec::decode_base64("+/+/", out));
  CHECK(out == "\xfb\xff\xbf");
}

TEST_CASE("base64: malformed text is refused and leaves nothing behind") {
  for (auto bad : {"!!", "YQ=x", "YQ==YQ==", "Y", "YWJjZ", "YQ===", "=YQ=", "YQ=", "-_", "Zm9v-",
                   "Zm9v\x80", "Zm 9v\t=x", "YWJj====", "Zm8=Zm8="}) {
    CAPTURE(bad);
    std::string out = "stale";
    CHECK_FALSE(codec::decode_base64(bad, out));
    CHECK(out.empty());
  }
  std::string out;
  CHECK_FALSE(codec::decode_base64(std::string("YQ\0=", 4), out));
  // Blanks only, or nothing: no bytes, and that is valid.
  REQUIRE(codec::decode_base64(" \n", out));
  CHECK(out.empty());
}

TEST_CASE("URL escaping: unreserved characters stay, every other byte is %XX") {
  CHECK(kube::url_escape("") == "");
  CHECK(kube::url_escape("AZaz09-._~") == "AZaz09-._~");
  CHECK(kube::url_escape("a b/c?d=e&f#g+h%") == "a%20b%2Fc%3Fd%3De%26f%23g%2Bh%25");
  CHECK(kube::url_escape("\xc3\xa9") == "%C3%A9");
  CHECK(kube::url_escape(std::string("a\0b", 3)) == "a%00b");
  // A continue token as the API server gives it (base64 with '=' and '/').
  CHECK(kube::url_escape("eyJ2IjoibWV0YS5rOHMuaW8vdjEi/Q==")
        == "eyJ2IjoibWV0YS5rOHMuaW8vdjEi%2FQ%3D%3D");
}
