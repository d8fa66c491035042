// Paginated lists of VolumeAttachments and PersistentVolumes, turned into the inventory the
// supervisor rebuilds from.
#include "actors/kube.hpp"

#include <map>

#include "services/kube/attachment_inventory.hpp"
#include "services/kube/kube_client.hpp"
#include "services/kube/objects.hpp"
#include "services/log/log.hpp"

namespace rds::actors {

namespace {

using namespace services::kube;

std::string url_escape(const std::string& text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'
        || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

/// Every item of a paginated list. A continue token that expired (410) restarts the list.
template <class T, class Parse>
outcome list_all(kube_actor::stateful_pointer<kube_state> self, const kube_actor_config& cfg,
                 const std::string& path, Parse parse, std::vector<T>& items,
                 std::string& resource_version) {
  for (int restart = 0; restart < 3; ++restart) {
    items.clear();
    std::string token;
    bool expired = false;
    do {
      auto url = path + "?limit=" + std::to_string(cfg.page_size);
      if (!token.empty())
        url += "&continue=" + url_escape(token);
      ++self->state.status.requests;
      auto r = self->state.client->get(url, cfg.call_deadline);
      if (r.status.code == ec::expired) {
        expired = true;
        break;
      }
      if (!r.status.ok()) {
        ++self->state.status.failures;
        return r.status;
      }
      list_page<T> page;
      if (auto parsed = parse(r.body, page); !parsed.ok())
        return parsed;
      if (token.empty())
        resource_version = page.resource_version;
      items.insert(items.end(), std::make_move_iterator(page.items.begin()),
                   std::make_move_iterator(page.items.end()));
      token = page.continue_token;
    } while (!token.empty());
    if (!expired)
      return outcome::success();
    log::warning("list of ", path, " expired while paging; listing again");
  }
  return outcome::failure(ec::expired, "list of " + path + " kept expiring while paging");
}

} // namespace

kube_state::kube_state() = default;
kube_state::~kube_state() = default;

kube_actor::behavior_type kube(kube_actor::stateful_pointer<kube_state> self,
                               kube_actor_config config) {
  self->state.client = std::make_unique<kube_client>(config.connection);
  self->state.status.server = config.connection.server;
  return {
    [self, config](inventory_atom) -> caf::result<outcome, cluster_inventory> {
      std::vector<volume_attachment_object> attachments;
      std::string resource_version;
      auto listed = list_all<volume_attachment_object>(
        self, config, "/apis/storage.k8s.io/v1/volumeattachments", parse_volume_attachment_list,
        attachments, resource_version);
      if (!listed.ok())
        return {listed, cluster_inventory{}};
      std::vector<persistent_volume_object> pvs;
      std::string pv_version;
      listed = list_all<persistent_volume_object>(self, config, "/api/v1/persistentvolumes",
                                                  parse_persistent_volume_list, pvs, pv_version);
      if (!listed.ok())
        return {listed, cluster_inventory{}};
      std::map<std::string, persistent_volume_object> by_name;
      for (auto& pv : pvs)
        by_name.emplace(pv.name, std::move(pv));
      auto inventory = build_inventory(attachments, by_name, config.driver_name, config.migrations);
      inventory.resource_version = resource_version;
      self->state.status.retries = self->state.client->retries();
      return {outcome::success(), std::move(inventory)};
    },
    [self](status_atom) {
      self->state.status.retries = self->state.client->retries();
      return self->state.status;
    },
  };
}

} // namespace rds::actors
