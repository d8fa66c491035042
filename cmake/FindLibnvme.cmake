# libnvme (Debian's libnvme-dev). Its pkg-config file cannot be used on a machine without
# libjson-c-dev (Requires.private: json-c openssl), so the header and the library are found
# directly. Defines Libnvme::nvme and LIBNVME_VERSION (from the soname's file name).
include(FindPackageHandleStandardArgs)
find_path(LIBNVME_INCLUDE_DIR libnvme.h)
find_library(LIBNVME_LIBRARY NAMES nvme)
if(LIBNVME_LIBRARY)
  get_filename_component(_libnvme_real "${LIBNVME_LIBRARY}" REALPATH)
  if(_libnvme_real MATCHES "libnvme\\.so\\.([0-9]+\\.[0-9]+(\\.[0-9]+)?)$")
    set(LIBNVME_VERSION "${CMAKE_MATCH_1}")
  endif()
endif()
find_package_handle_standard_args(Libnvme REQUIRED_VARS LIBNVME_LIBRARY LIBNVME_INCLUDE_DIR
                                  VERSION_VAR LIBNVME_VERSION)
if(Libnvme_FOUND AND NOT TARGET Libnvme::nvme)
  add_library(Libnvme::nvme UNKNOWN IMPORTED)
  set_target_properties(Libnvme::nvme PROPERTIES IMPORTED_LOCATION "${LIBNVME_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${LIBNVME_INCLUDE_DIR}")
endif()
mark_as_advanced(LIBNVME_INCLUDE_DIR LIBNVME_LIBRARY)
