// The --help layout of the programs in cmd/ (CLI11): each flag, the kind of value it takes, its
// default as "[default: X]", then what it does. The integration tests read the defaults back
// from this layout and compare them with the README's flag tables.
#pragma once

#include <CLI/App.hpp>
#include <CLI/Formatter.hpp>

#include <functional>
#include <memory>
#include <string>

namespace rds {

/// A CLI11 check from a rule that says what is wrong with a value ("" when it is fine); the
/// message names the value, and CLI11 puts the flag in front.
inline CLI::Validator rule(std::function<std::string(const std::string&)> check) {
  return CLI::Validator(
    [check](std::string& value) -> std::string {
      auto problem = check(value);
      return problem.empty() ? problem : problem + " (got '" + value + "')";
    },
    "");
}

class help_format : public CLI::Formatter {
 public:
  std::string make_option_opts(const CLI::Option* opt) const override {
    std::string out;
    if (opt->get_type_size() == 0)
      return out;
    if (!opt->get_type_name().empty())
      out += " " + opt->get_type_name();
    if (opt->get_expected_max() == CLI::detail::expected_max_vector_size)
      out += " ...";
    if (!opt->get_default_str().empty())
      out += " [default: " + opt->get_default_str() + "]";
    if (opt->get_required())
      out += " (required)";
    return out;
  }
};

/// Gives `app` the layout above, with descriptions from column `column`.
inline void use_help_format(CLI::App& app, size_t column) {
  auto format = std::make_shared<help_format>();
  format->column_width(column);
  app.formatter(format);
}

} // namespace rds
