// RouterOS REST semantics as the simulator implements them. Values are validated the way the
// real device does where that is known (32-character slots, paths inside the pool, byte sizes).
#include "services/rds/routeros_simulator.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>
#include <vector>

namespace rds::services::rds_api {

namespace {

std::string string_of(const rapidjson::Value& obj, const char* key, bool& present) {
  auto i = obj.FindMember(key);
  present = i != obj.MemberEnd();
  if (!present)
    return {};
  if (i->value.IsString())
    return {i->value.GetString(), i->value.GetStringLength()};
  if (i->value.IsUint64())
    return std::to_string(i->value.GetUint64());
  if (i->value.IsBool())
    return i->value.GetBool() ? "true" : "false";
  return {};
}

bool valid_name(const std::string& s) {
  if (s.empty())
    return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'
          || c == '_' || c == '.' || c == ':'))
      return false;
  return true;
}

/// Copies the first `bytes` of `from` into `to`, skipping holes so sparse files stay sparse.
bool copy_data(const std::string& from, const std::string& to, uint64_t bytes, std::string& why) {
  int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  int out = ::open(to.c_str(), O_WRONLY | O_CLOEXEC);
  bool ok = in >= 0 && out >= 0;
  auto end = static_cast<off_t>(bytes);
  std::vector<char> buf(1 << 20);
  for (off_t at = 0; ok && at < end;) {
    off_t data = ::lseek(in, at, SEEK_DATA);
    if (data < 0 || data >= end)
      break; // only holes are left
    off_t hole = std::min<off_t>(::lseek(in, data, SEEK_HOLE), end);
    for (off_t pos = data; ok && pos < hole;) {
      auto chunk = static_cast<size_t>(std::min<off_t>(hole - pos, static_cast<off_t>(buf.size())));
      auto n = ::pread(in, buf.data(), chunk, pos);
      ok = n > 0 && ::pwrite(out, buf.data(), static_cast<size_t>(n), pos) == n;
      pos += n > 0 ? n : 0;
    }
    at = hole;
  }
  if (!ok)
    why = std::strerror(errno);
  if (in >= 0)
    ::close(in);
  if (out >= 0)
    ::close(out);
  return ok;
}

std::string id_of(uint64_t n) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "*%llX", static_cast<unsigned long long>(n));
  return buf;
}

} // namespace

http::response routeros_error(int status, const std::string& detail) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.StartObject();
  w.Key("detail");
  w.String(detail.c_str());
  w.Key("error");
  w.Int(status);
  w.Key("message");
  w.String(http::reason_phrase(status));
  w.EndObject();
  return {status, buf.GetString()};
}

routeros_simulator::routeros_simulator(simulator_config config)
  : config_(std::move(config))
  , dice_(config_.seed) {
  auto pool_dir = config_.data_dir + "/" + config_.pool;
  ::mkdir(config_.data_dir.c_str(), 0750);
  if (::mkdir(pool_dir.c_str(), 0750) != 0 && errno != EEXIST) {
    error_ = "cannot create " + pool_dir + ": " + std::strerror(errno);
    return;
  }
  load();
  if (!error_.empty())
    return;
  // Start from one snapshot and an empty journal.
  write_snapshot();
}

routeros_simulator::~routeros_simulator() {
  if (journal_fd_ >= 0)
    ::close(journal_fd_);
}

uint64_t routeros_simulator::requests() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return requests_;
}

http::response routeros_simulator::handle(const http::request& req) {
  if (config_.latency.count() > 0)
    std::this_thread::sleep_for(config_.latency);
  http::response answer;
  std::chrono::milliseconds copying{0};
  {
    std::lock_guard<std::mutex> guard{mutex_};
    answer = handle_locked(req);
    if (copied_bytes_ > 0 && config_.copy_bytes_per_second > 0)
      copying = std::chrono::milliseconds{copied_bytes_ * 1000 / config_.copy_bytes_per_second};
    copied_bytes_ = 0;
  }
  // A copy takes its time without holding up other requests, as on the device.
  std::this_thread::sleep_for(copying);
  return answer;
}

http::response routeros_simulator::handle_locked(const http::request& req) {
  ++requests_;
  if (req.user != config_.user || req.password != config_.password)
    return routeros_error(401, "invalid user name or password (6)");
  std::uniform_real_distribution<double> roll{0.0, 1.0};
  if (config_.drop_rate > 0 && roll(dice_) < config_.drop_rate) {
    http::response dropped;
    dropped.drop = true;
    return dropped;
  }
  auto rate = config_.error_rate.find(req.method);
  if (rate != config_.error_rate.end() && roll(dice_) < rate->second)
    return routeros_error(500, "simulated failure");
  if (config_.deny_policy)
    return routeros_error(500, "std failure: not allowed (9)");
  auto answer = route(req);
  auto after = config_.drop_after_rate.find(req.method);
  if (after != config_.drop_after_rate.end() && roll(dice_) < after->second) {
    http::response lost;
    lost.drop = true;
    return lost;
  }
  return answer;
}

http::response routeros_simulator::route(const http::request& req) {
  const std::string disk_prefix = "/rest/disk", file_prefix = "/rest/file";
  auto& p = req.path;
  if (p == "/rest/system/resource" && req.method == "GET")
    return {200, R"json({"board-name":"RDS2216 (simulated)","version":"7.24.4 (stable)",)json"
                 R"json("platform":"MikroTik","uptime":"1h"})json"};
  if (p == disk_prefix) {
    if (req.method == "GET")
      return list_disks(req);
    if (req.method == "PUT")
      return add_disk(req.body);
  }
  if (p.rfind(disk_prefix + "/", 0) == 0) {
    auto id = p.substr(disk_prefix.size() + 1);
    if (req.method == "GET") {
      auto i = disks_.find(id);
      if (i == disks_.end())
        return routeros_error(404, "no such item");
      return {200, to_json(i->second)};
    }
    if (config_.legacy_rest && (req.method == "PATCH" || req.method == "DELETE")) {
      // Answered as if done; nothing changes.
      auto i = disks_.find(id);
      if (i == disks_.end())
        return routeros_error(404, "no such item");
      return {200, req.method == "PATCH" ? to_json(i->second) : ""};
    }
    if (req.method == "PATCH")
      return set_disk(id, req.body);
    if (req.method == "DELETE")
      return remove_disk(id);
  }
  if (req.method == "POST") {
    for (auto* menu : {"disk", "file"}) {
      auto prefix = std::string{"/rest/"} + menu + "/";
      if (p.rfind(prefix, 0) == 0)
        return post_command(menu, p.substr(prefix.size()), req.body);
    }
  }
  if (p == file_prefix && req.method == "GET")
    return list_files(req);
  if (p.rfind(file_prefix + "/", 0) == 0) {
    auto id = p.substr(file_prefix.size() + 1);
    if (req.method == "GET") {
      auto i = file_names_.find(id);
      if (i == file_names_.end())
        return routeros_error(404, "no such item");
      struct stat st {};
      ::stat((config_.data_dir + "/" + i->second).c_str(), &st);
      return {200, to_json(file{id, i->second, static_cast<uint64_t>(st.st_size)})};
    }
    if (req.method == "DELETE")
      return config_.legacy_rest ? http::response{200, ""} : remove_file(id);
  }
  return routeros_error(400, "no such command or directory (" + req.method + " " + p + ")");
}

disk routeros_simulator::pool_record() const {
  disk pool;
  pool.id = "*1";
  pool.slot = config_.pool;
  pool.type = "raid";
  pool.mount_point = config_.pool;
  pool.size = config_.pool_size;
  auto used = used_bytes_;
  pool.free = used > config_.pool_size ? 0 : config_.pool_size - used;
  return pool;
}

http::response routeros_simulator::list_disks(const http::request& req) {
  auto slot = http::query_value(req.query, "slot");
  auto type = http::query_value(req.query, "type");
  std::string out = "[";
  auto add = [&](const disk& d) {
    if ((!slot.empty() && d.slot != slot) || (!type.empty() && d.type != type))
      return;
    if (out.size() > 1)
      out += ",";
    out += to_json(d);
  };
  add(pool_record());
  if (!slot.empty()) {
    // The driver's read-back asks for one slot: answered from the index.
    auto i = slot_ids_.find(slot);
    if (i != slot_ids_.end())
      add(disks_.at(i->second));
  } else {
    for (auto& [id, d] : disks_)
      add(d);
  }
  return {200, out + "]"};
}

http::response routeros_simulator::add_disk(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse(body.c_str(), body.size());
  if (doc.HasParseError() || !doc.IsObject())
    return routeros_error(400, "bad JSON");
  bool present = false;
  disk d;
  d.type = string_of(doc, "type", present);
  if (d.type != "file")
    return routeros_error(400, "failure: only type=file disks can be added here");
  d.slot = string_of(doc, "slot", present);
  if (!valid_name(d.slot))
    return routeros_error(400, "invalid value for argument slot");
  if (d.slot.size() > max_slot_length)
    return routeros_error(400, "failure: slot name too long (max 32 characters)");
  if (slot_ids_.count(d.slot) != 0)
    return routeros_error(400, "failure: slot " + d.slot + " already exists");
  d.file_path = string_of(doc, "file-path", present);
  auto prefix = "/" + config_.pool + "/";
  auto name = d.file_path.size() > prefix.size() ? d.file_path.substr(prefix.size()) : "";
  if (d.file_path.rfind(prefix, 0) != 0 || !valid_name(name)
      || name.find("..") != std::string::npos)
    return routeros_error(400, "failure: file-path must be a file in /" + config_.pool);
  if (!parse_bytes(string_of(doc, "file-size", present), d.file_size) || d.file_size == 0)
    return routeros_error(400, "invalid value for argument file-size");
  if (d.file_size > pool_record().free)
    return routeros_error(400, "failure: not enough space on " + config_.pool);
  bool ok = true;
  d.nvme_tcp_export = parse_bool(string_of(doc, "nvme-tcp-export", present), ok);
  auto disk_path = path_on_disk(d.file_path);
  if (::access(disk_path.c_str(), F_OK) == 0)
    return routeros_error(400, "failure: file " + d.file_path + " already exists");
  std::ofstream{disk_path};
  if (::truncate(disk_path.c_str(), static_cast<off_t>(d.file_size)) != 0)
    return routeros_error(400, std::string{"failure: cannot create file: "} + std::strerror(errno));
  d.id = id_of(next_id_++);
  put_disk(d);
  journal_disk(d);
  return {200, to_json(d)};
}

http::response routeros_simulator::set_disk(const std::string& id, const std::string& body) {
  auto i = disks_.find(id);
  if (i == disks_.end())
    return routeros_error(404, "no such item");
  rapidjson::Document doc;
  doc.Parse(body.c_str(), body.size());
  if (doc.HasParseError() || !doc.IsObject())
    return routeros_error(400, "bad JSON");
  auto d = i->second;
  bool present = false, ok = true;
  auto slot = string_of(doc, "slot", present);
  if (present && slot != d.slot) {
    if (!valid_name(slot))
      return routeros_error(400, "invalid value for argument slot");
    if (slot.size() > max_slot_length)
      return routeros_error(400, "failure: slot name too long (max 32 characters)");
    if (slot_ids_.count(slot) != 0)
      return routeros_error(400, "failure: slot " + slot + " already exists");
    d.slot = slot;
  }
  auto exported = string_of(doc, "nvme-tcp-export", present);
  if (present) {
    d.nvme_tcp_export = parse_bool(exported, ok);
    if (!ok)
      return routeros_error(400, "invalid value for argument nvme-tcp-export");
  }
  auto port = string_of(doc, "nvme-tcp-server-port", present);
  if (present) {
    uint64_t value = 0;
    if (!parse_bytes(port, value) || value == 0 || value > 65535)
      return routeros_error(400, "invalid value for argument nvme-tcp-server-port");
    d.nvme_tcp_server_port = static_cast<uint16_t>(value);
  }
  auto nqn = string_of(doc, "nvme-tcp-server-nqn", present);
  if (present) {
    if (!nqn.empty() && !valid_name(nqn))
      return routeros_error(400, "invalid value for argument nvme-tcp-server-nqn");
    d.nvme_tcp_server_nqn = nqn;
  }
  auto size = string_of(doc, "file-size", present);
  if (present) {
    uint64_t value = 0;
    if (!parse_bytes(size, value) || value < d.file_size)
      return routeros_error(400, "failure: file-size can only grow");
    if (value - d.file_size > pool_record().free)
      return routeros_error(400, "failure: not enough space on " + config_.pool);
    if (::truncate(path_on_disk(d.file_path).c_str(), static_cast<off_t>(value)) != 0)
      return routeros_error(400, std::string{"failure: "} + std::strerror(errno));
    d.file_size = value;
  }
  put_disk(d);
  journal_disk(d);
  return {200, to_json(d)};
}

http::response routeros_simulator::remove_disk(const std::string& id) {
  if (disks_.count(id) == 0)
    return routeros_error(404, "no such item");
  drop_disk(id);
  // As on the real device, the backing file stays: it is removed through /file.
  journal_disk_removed(id);
  return {200, ""};
}

http::response routeros_simulator::copy_disk(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse(body.c_str(), body.size());
  if (doc.HasParseError() || !doc.IsObject())
    return routeros_error(400, "bad JSON");
  bool present = false;
  auto src = string_of(doc, "src", present), dst = string_of(doc, "dst", present);
  const disk *from = nullptr, *to = nullptr;
  if (auto i = slot_ids_.find(src); i != slot_ids_.end())
    from = &disks_.at(i->second);
  if (auto i = slot_ids_.find(dst); i != slot_ids_.end())
    to = &disks_.at(i->second);
  if (from == nullptr || to == nullptr)
    return routeros_error(400, "failure: no such disk (" + (from == nullptr ? src : dst) + ")");
  if (from == to)
    return routeros_error(400, "failure: source and destination are the same disk");
  if (to->file_size < from->file_size)
    return routeros_error(400, "failure: destination is smaller than source");
  std::string why;
  if (!copy_data(path_on_disk(from->file_path), path_on_disk(to->file_path), from->file_size, why))
    return routeros_error(400, "failure: copy failed: " + why);
  copied_bytes_ = from->file_size;
  return {200, "[]"};
}

http::response routeros_simulator::post_command(const std::string& menu, const std::string& command,
                                                const std::string& body) {
  if (menu == "disk" && command == "copy")
    return copy_disk(body);
  if (command != "set" && command != "remove")
    return routeros_error(400, "no such command or directory (" + command + ")");
  rapidjson::Document doc;
  doc.Parse(body.c_str(), body.size());
  bool present = false;
  auto id = doc.HasParseError() || !doc.IsObject() ? "" : string_of(doc, ".id", present);
  if (id.empty())
    return routeros_error(400, "missing .id");
  http::response done;
  if (menu == "disk")
    done = command == "set" ? set_disk(id, body) : remove_disk(id);
  else if (command == "remove")
    done = remove_file(id);
  else
    return routeros_error(400, "no such command or directory (set)");
  // A command answers an empty list when it prints nothing.
  return done.status == 200 ? http::response{200, "[]"} : done;
}

http::response routeros_simulator::list_files(const http::request& req) {
  auto wanted = http::query_value(req.query, "name");
  std::string out = "[";
  auto add = [&](const std::string& name) {
    struct stat st {};
    if (::stat((config_.data_dir + "/" + name).c_str(), &st) != 0)
      return;
    if (out.size() > 1)
      out += ",";
    out += to_json(file{file_id(name), name, static_cast<uint64_t>(st.st_size)});
  };
  if (!wanted.empty()) {
    // One name (the driver's check for a stray file): one stat, not a read of the directory.
    auto prefix = config_.pool + "/";
    if (wanted.rfind(prefix, 0) == 0 && valid_name(wanted.substr(prefix.size()))
        && wanted.find("..") == std::string::npos)
      add(wanted);
    return {200, out + "]"};
  }
  auto pool_dir = config_.data_dir + "/" + config_.pool;
  std::vector<std::string> names;
  if (auto* dir = ::opendir(pool_dir.c_str())) {
    while (auto* entry = ::readdir(dir))
      if (entry->d_name[0] != '.')
        names.push_back(config_.pool + "/" + entry->d_name);
    ::closedir(dir);
  }
  std::sort(names.begin(), names.end());
  for (auto& name : names)
    add(name);
  return {200, out + "]"};
}

std::string routeros_simulator::file_id(const std::string& name) {
  auto i = file_ids_.find(name);
  if (i != file_ids_.end())
    return i->second;
  auto id = id_of(next_id_++);
  put_file(name, id);
  journal_file(name, id);
  return id;
}

http::response routeros_simulator::remove_file(const std::string& id) {
  auto i = file_names_.find(id);
  if (i == file_names_.end())
    return routeros_error(404, "no such item");
  auto name = i->second;
  if (::unlink((config_.data_dir + "/" + name).c_str()) != 0 && errno != ENOENT)
    return routeros_error(400, std::string{"failure: "} + std::strerror(errno));
  drop_file(name);
  journal_file_removed(name);
  return {200, ""};
}

std::string routeros_simulator::path_on_disk(const std::string& file_path) const {
  return config_.data_dir + file_path;
}

void routeros_simulator::put_disk(const disk& d) {
  auto old = disks_.find(d.id);
  if (old != disks_.end()) {
    used_bytes_ -= old->second.file_size;
    slot_ids_.erase(old->second.slot);
  }
  disks_[d.id] = d;
  used_bytes_ += d.file_size;
  slot_ids_[d.slot] = d.id;
}

void routeros_simulator::drop_disk(const std::string& id) {
  auto old = disks_.find(id);
  if (old == disks_.end())
    return;
  used_bytes_ -= old->second.file_size;
  slot_ids_.erase(old->second.slot);
  disks_.erase(old);
}

void routeros_simulator::put_file(const std::string& name, const std::string& id) {
  drop_file(name);
  file_ids_[name] = id;
  file_names_[id] = name;
}

void routeros_simulator::drop_file(const std::string& name) {
  auto old = file_ids_.find(name);
  if (old == file_ids_.end())
    return;
  file_names_.erase(old->second);
  file_ids_.erase(old);
}

namespace {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

std::string journal_line(uint64_t next_id, const std::function<void(json_writer&)>& body) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  w.Key("next-id");
  w.Uint64(next_id);
  body(w);
  w.EndObject();
  return std::string{buf.GetString()} + "\n";
}

} // namespace

void routeros_simulator::journal_disk(const disk& d) {
  append(journal_line(next_id_, [&](json_writer& w) {
    auto json = to_json(d);
    w.Key("disk");
    w.RawValue(json.c_str(), json.size(), rapidjson::kObjectType);
  }));
}

void routeros_simulator::journal_disk_removed(const std::string& id) {
  append(journal_line(next_id_, [&](json_writer& w) {
    w.Key("remove-disk");
    w.String(id.c_str());
  }));
}

void routeros_simulator::journal_file(const std::string& name, const std::string& id) {
  append(journal_line(next_id_, [&](json_writer& w) {
    w.Key("file");
    w.String(name.c_str());
    w.Key("id");
    w.String(id.c_str());
  }));
}

void routeros_simulator::journal_file_removed(const std::string& name) {
  append(journal_line(next_id_, [&](json_writer& w) {
    w.Key("remove-file");
    w.String(name.c_str());
  }));
}

void routeros_simulator::append(const std::string& line) {
  if (journal_fd_ < 0)
    return;
  // One write per line (O_APPEND): a crash leaves at most a torn last line, which load skips.
  if (::write(journal_fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
    std::fprintf(stderr, "rds-sim: cannot append to the journal: %s\n", std::strerror(errno));
  if (++journal_lines_ > std::max<size_t>(1024, disks_.size() + file_ids_.size()))
    write_snapshot();
}

void routeros_simulator::write_snapshot() {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.StartObject();
  w.Key("next-id");
  w.Uint64(next_id_);
  w.Key("disks");
  w.StartArray();
  for (auto& [id, d] : disks_) {
    auto json = to_json(d);
    w.RawValue(json.c_str(), json.size(), rapidjson::kObjectType);
  }
  w.EndArray();
  w.Key("files");
  w.StartObject();
  for (auto& [name, id] : file_ids_) {
    w.Key(name.c_str());
    w.String(id.c_str());
  }
  w.EndObject();
  w.EndObject();
  auto path = config_.data_dir + "/state.json";
  {
    std::ofstream out{path + ".tmp", std::ios::trunc};
    out << buf.GetString();
  }
  std::rename((path + ".tmp").c_str(), path.c_str()); // atomic: never a half-written state
  // The journal's lines are all in the snapshot now. (A crash between the rename and the
  // truncation replays them over it, which changes nothing: each line sets an object whole.)
  if (journal_fd_ >= 0)
    ::close(journal_fd_);
  journal_fd_ = ::open((config_.data_dir + "/state.journal").c_str(),
                       O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640);
  journal_lines_ = 0;
}

bool routeros_simulator::apply(const std::string& line) {
  rapidjson::Document doc;
  doc.Parse(line.c_str(), line.size());
  if (doc.HasParseError() || !doc.IsObject())
    return false;
  if (doc.HasMember("next-id") && doc["next-id"].IsUint64())
    next_id_ = std::max(next_id_, doc["next-id"].GetUint64());
  if (doc.HasMember("disk") && doc["disk"].IsObject()) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w{buf};
    doc["disk"].Accept(w);
    disk d;
    if (!disk_from_json(buf.GetString(), d).ok() || d.id.empty())
      return false;
    put_disk(d);
  } else if (doc.HasMember("remove-disk") && doc["remove-disk"].IsString()) {
    drop_disk(doc["remove-disk"].GetString());
  } else if (doc.HasMember("file") && doc["file"].IsString() && doc.HasMember("id")
             && doc["id"].IsString()) {
    put_file(doc["file"].GetString(), doc["id"].GetString());
  } else if (doc.HasMember("remove-file") && doc["remove-file"].IsString()) {
    drop_file(doc["remove-file"].GetString());
  } else {
    return false;
  }
  return true;
}

void routeros_simulator::load() {
  std::ifstream in{config_.data_dir + "/state.json"};
  if (in) {
    std::stringstream text;
    text << in.rdbuf();
    rapidjson::Document doc;
    auto s = text.str();
    doc.Parse(s.c_str(), s.size());
    if (doc.HasParseError() || !doc.IsObject()) {
      error_ = "state file " + config_.data_dir + "/state.json is damaged";
      return;
    }
    if (doc.HasMember("next-id") && doc["next-id"].IsUint64())
      next_id_ = doc["next-id"].GetUint64();
    if (doc.HasMember("disks") && doc["disks"].IsArray())
      for (auto& item : doc["disks"].GetArray()) {
        rapidjson::StringBuffer buf;
        rapidjson::Writer<rapidjson::StringBuffer> w{buf};
        item.Accept(w);
        disk d;
        if (disk_from_json(buf.GetString(), d).ok() && !d.id.empty())
          put_disk(d);
      }
    if (doc.HasMember("files") && doc["files"].IsObject())
      for (auto& kv : doc["files"].GetObject())
        if (kv.value.IsString())
          put_file(kv.name.GetString(), kv.value.GetString());
  }
  std::ifstream journal{config_.data_dir + "/state.journal"};
  std::string line;
  size_t number = 0;
  while (std::getline(journal, line)) {
    ++number;
    // Only the last line may be torn (a crash in the middle of its write); any other that does
    // not read is damage.
    if (!apply(line) && journal.peek() != std::char_traits<char>::eof()) {
      error_ = "journal " + config_.data_dir + "/state.journal is damaged at line "
               + std::to_string(number);
      return;
    }
  }
}

} // namespace rds::services::rds_api
