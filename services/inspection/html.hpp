// The inspection port's plain HTML page for a browser: the same JSON answer, shown as nested
// tables, under links to every endpoint. No script, no style sheet from elsewhere.
#pragma once

#include <string>

namespace rds::services::inspection {

/// "<" -> "&lt;" and so on (text and attribute values).
std::string escape_html(const std::string& text);

/// A page titled `title` showing the JSON document `json` (shown as text if it does not parse).
std::string html_page(const std::string& title, const std::string& json);

/// The page at `/`: what each endpoint shows, with links.
std::string index_page(bool controller, bool node);

} // namespace rds::services::inspection
