// Constant-time comparison of the inspection port's bearer token.
#include "services/inspection/token.hpp"

#include <cctype>

namespace rds::services::inspection {

bool same_secret(const std::string& given, const std::string& expected) {
  // Every byte of `expected` is compared, whatever matched before; the lengths are folded in
  // rather than checked first.
  volatile unsigned char difference = given.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i) {
    auto g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    difference = difference | (g ^ static_cast<unsigned char>(expected[i]));
  }
  return difference == 0;
}

bool authorized(const std::string& authorization, const std::string& token) {
  if (token.empty())
    return true;
  const std::string scheme = "bearer ";
  if (authorization.size() <= scheme.size())
    return false;
  for (size_t i = 0; i < scheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != scheme[i])
      return false;
  auto begin = authorization.find_first_not_of(' ', scheme.size());
  if (begin == std::string::npos)
    return false;
  auto end = authorization.find_last_not_of(" \t\r\n");
  return same_secret(authorization.substr(begin, end - begin + 1), token);
}

} // namespace rds::services::inspection
