// The starting_token of ListVolumes and ListSnapshots. A page ends at an id (ids are ordered),
// and its token names that id with a checksum of the list it belongs to, so a string the driver
// did not give out (a typo, a raw id, another list's token) is recognised and answered ABORTED,
// as the CSI spec asks, instead of being taken as a position.
#pragma once

#include <string>

namespace rds {

enum class page_kind { volumes, snapshots };

/// The token of the page after the one that ended at `last_id`.
std::string make_page_token(page_kind kind, const std::string& last_id);

/// The id a token of `kind` given out by make_page_token ends at; false for any other string.
bool read_page_token(page_kind kind, const std::string& token, std::string& last_id);

} // namespace rds
