// Base64 through OpenSSL's EVP encoder. OpenSSL decodes; what it would take silently (a '-'
// ends its input, as in a PEM trailer; unpadded text fails only at the end) is settled here
// first, so that a malformed value is refused instead of decoded short.
#include "services/codec/base64.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <climits>
#include <memory>

namespace rds::services::codec {

namespace {

bool in_alphabet(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+'
         || c == '/';
}

bool blank(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

} // namespace

bool decode_base64(const std::string& text, std::string& out) {
  out.clear();
  // The characters without blanks, padded to whole quanta of four.
  std::string quanta;
  quanta.reserve(text.size() + 2);
  size_t padding = 0;
  for (char c : text) {
    if (blank(c))
      continue;
    if (c == '=') {
      ++padding;
    } else if (!in_alphabet(c) || padding > 0) {
      return false; // outside the alphabet, or data after padding
    }
    quanta.push_back(c);
  }
  if (padding > 2)
    return false;
  if (padding > 0 && quanta.size() % 4 != 0)
    return false; // "YQ=": padded, but not to a whole quantum
  if (quanta.size() % 4 == 1)
    return false; // one character holds only 6 bits: no encoder ends like that
  while (quanta.size() % 4 != 0)
    quanta.push_back('=');
  if (quanta.size() > static_cast<size_t>(INT_MAX))
    return false;
  std::unique_ptr<EVP_ENCODE_CTX, decltype(&EVP_ENCODE_CTX_free)> ctx{EVP_ENCODE_CTX_new(),
                                                                      &EVP_ENCODE_CTX_free};
  if (!ctx)
    return false;
  EVP_DecodeInit(ctx.get());
  std::string decoded(quanta.size() / 4 * 3 + 3, '\0');
  auto* buffer = reinterpret_cast<unsigned char*>(decoded.data());
  int written = 0;
  int tail = 0;
  if (EVP_DecodeUpdate(ctx.get(), buffer, &written,
                       reinterpret_cast<const unsigned char*>(quanta.data()),
                       static_cast<int>(quanta.size()))
        < 0
      || EVP_DecodeFinal(ctx.get(), buffer + written, &tail) < 0)
    return false;
  decoded.resize(static_cast<size_t>(written) + static_cast<size_t>(tail));
  out = std::move(decoded);
  return true;
}

std::string encode_base64(const std::string& bytes) {
  std::string out;
  // EVP_EncodeBlock takes an int length; encode in pieces of whole 3-byte groups.
  constexpr size_t piece = size_t{3} << 20;
  for (size_t at = 0; at < bytes.size(); at += piece) {
    auto n = std::min(piece, bytes.size() - at);
    std::string encoded((n + 2) / 3 * 4 + 1, '\0');
    auto length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                                  reinterpret_cast<const unsigned char*>(bytes.data() + at),
                                  static_cast<int>(n));
    out.append(encoded.data(), static_cast<size_t>(length));
  }
  return out;
}

} // namespace rds::services::codec
