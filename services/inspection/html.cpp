// JSON -> HTML tables for the inspection port's browser view.
#include "services/inspection/html.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <set>
#include <vector>

namespace rds::services::inspection {

namespace {

void value_html(const rapidjson::Value& v, std::string& out);

std::string scalar_text(const rapidjson::Value& v) {
  if (v.IsString())
    return escape_html(std::string(v.GetString(), v.GetStringLength()));
  if (v.IsBool())
    return v.GetBool() ? "true" : "false";
  if (v.IsNull())
    return "&mdash;";
  if (v.IsUint64())
    return std::to_string(v.GetUint64());
  if (v.IsInt64())
    return std::to_string(v.GetInt64());
  if (v.IsNumber()) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.3f", v.GetDouble());
    return buf;
  }
  return "";
}

/// An array of objects: one row per object, one column per key any of them has.
void table_of_objects(const rapidjson::Value& array, std::string& out) {
  std::vector<std::string> columns;
  std::set<std::string> seen;
  for (auto& item : array.GetArray())
    for (auto& m : item.GetObject()) {
      std::string name(m.name.GetString(), m.name.GetStringLength());
      if (seen.insert(name).second)
        columns.push_back(name);
    }
  out += "<table><tr>";
  for (auto& c : columns)
    out += "<th>" + escape_html(c) + "</th>";
  out += "</tr>";
  for (auto& item : array.GetArray()) {
    out += "<tr>";
    for (auto& c : columns) {
      out += "<td>";
      auto m = item.FindMember(c.c_str());
      if (m != item.MemberEnd())
        value_html(m->value, out);
      out += "</td>";
    }
    out += "</tr>";
  }
  out += "</table>";
}

void value_html(const rapidjson::Value& v, std::string& out) {
  if (v.IsObject()) {
    out += "<table>";
    for (auto& m : v.GetObject()) {
      out += "<tr><th>" + escape_html(std::string(m.name.GetString(), m.name.GetStringLength()))
             + "</th><td>";
      value_html(m.value, out);
      out += "</td></tr>";
    }
    out += "</table>";
  } else if (v.IsArray()) {
    bool objects = !v.Empty();
    for (auto& item : v.GetArray())
      objects = objects && item.IsObject();
    if (objects) {
      table_of_objects(v, out);
    } else if (v.Empty()) {
      out += "<i>none</i>";
    } else {
      out += "<ul>";
      for (auto& item : v.GetArray()) {
        out += "<li>";
        value_html(item, out);
        out += "</li>";
      }
      out += "</ul>";
    }
  } else {
    out += scalar_text(v);
  }
}

const char* style = "<style>body{font-family:sans-serif;margin:1em}table{border-collapse:collapse;"
                    "margin:2px 0}th,td{border:1px solid #bbb;padding:2px 6px;text-align:left;"
                    "vertical-align:top}th{background:#eee}nav a{margin-right:1em}</style>";

std::string nav() {
  std::string out = "<nav>";
  for (auto* path : {"/", "/debug/actors", "/debug/volumes", "/debug/migrations", "/debug/watches",
                     "/debug/rds", "/debug/node", "/debug/stream"})
    out += std::string{"<a href=\""} + path + "\">" + path + "</a>";
  return out + "</nav>";
}

} // namespace

std::string escape_html(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '&':
      out += "&amp;";
      break;
    case '"':
      out += "&quot;";
      break;
    case '\'':
      out += "&#39;";
      break;
    default:
      out.push_back(c);
    }
  }
  return out;
}

std::string html_page(const std::string& title, const std::string& json) {
  std::string out = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>rds-csi "
                    + escape_html(title) + "</title>" + style + "</head><body>" + nav() + "<h1>"
                    + escape_html(title) + "</h1>";
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(json.c_str(), json.size());
  if (doc.HasParseError())
    out += "<pre>" + escape_html(json) + "</pre>";
  else
    value_html(doc, out);
  return out + "</body></html>\n";
}

std::string index_page(bool controller, bool node) {
  struct entry {
    const char* path;
    const char* what;
    bool shown;
  };
  const entry entries[] = {
    {"/debug/actors", "every actor kind with its count; each singleton's status and its time",
     true},
    {"/debug/volumes",
     "volumes, paged (limit, continue), filters node=, migrating=true, "
     "timed_out=true, anomaly=true",
     controller},
    {"/debug/volumes/{id}", "one volume actor: nodes, migration timer, its last operations",
     controller},
    {"/debug/migrations", "every migration in flight, soonest timer first (paged: limit, continue)",
     controller},
    {"/debug/watches", "the Kubernetes watches and the attachment join", controller},
    {"/debug/rds", "the RDS session: circuit breaker, copies; the volume catalog", controller},
    {"/debug/node", "this node's volumes", node},
    {"/debug/stream", "live feed of state changes (Server-Sent Events; curl -N)", controller},
  };
  std::string out = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>rds-csi "
                    "inspection</title>"
                    + std::string{style} + "</head><body>" + nav()
                    + "<h1>rds-csi inspection port</h1><p>Read-only. JSON unless the request "
                      "asks for text/html.</p><table><tr><th>path</th><th>shows</th></tr>";
  for (auto& e : entries) {
    if (!e.shown)
      continue;
    std::string path = e.path;
    bool link = path.find('{') == std::string::npos;
    out += "<tr><td>" + (link ? "<a href=\"" + path + "\">" + path + "</a>" : escape_html(path))
           + "</td><td>" + escape_html(e.what) + "</td></tr>";
  }
  return out + "</table></body></html>\n";
}

} // namespace rds::services::inspection
