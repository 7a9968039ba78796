// SPDX-License-Identifier: MIT
// Thin RAII layer over the HDF5 C API: every id is closed exactly once, every
// return code is checked and turned into an Hdf5Error naming the call.
#pragma once

#include "core/param.hpp"

#include <hdf5.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace numlab::h5 {

struct Hdf5Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Owns one hid_t; `closer` is H5Fclose, H5Gclose, ...
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer closer, char const* what);
  Handle(Handle&& o) noexcept : id_(o.id_), closer_(o.closer_) { o.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& o) noexcept;
  Handle(Handle const&) = delete;
  Handle& operator=(Handle const&) = delete;
  ~Handle();
  hid_t get() const { return id_; }
  explicit operator bool() const { return id_ >= 0; }
  void close();  // checked close (destructor closes silently)

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

void check(herr_t rc, char const* what);
// What HDF5's error stack says went wrong (errno's text for a failed system call), and clears it.
std::string error_reason();

Handle create_file(std::string const& path);     // truncates
Handle open_file(std::string const& path, bool writable);
Handle create_group(hid_t parent, std::string const& name);
Handle open_group(hid_t parent, std::string const& name);
bool exists(hid_t parent, std::string const& name);
std::vector<std::string> child_names(hid_t group);

// Attributes: scalars of the ParamValue types (bool stored as int8 0/1 with
// an enum-free convention, strings as variable-length UTF-8).
void write_attribute(hid_t obj, std::string const& name, ParamValue const& v);
ParamMap read_attributes(hid_t obj);

// 1-D float64 dataset; chunked + compressed when large.
void write_dataset(hid_t group, std::string const& name, std::vector<double> const& data);
// N-D float64 dataset (row-major dims).
void write_dataset(hid_t group, std::string const& name, double const* data, std::vector<hsize_t> const& dims);
std::vector<double> read_dataset(hid_t group, std::string const& name);
// Extents of a dataset, without reading it.
std::vector<hsize_t> dataset_dims(hid_t group, std::string const& name);
// Any numeric dataset converted to double, with its dims (row-major).
std::vector<double> read_dataset(hid_t group, std::string const& name, std::vector<hsize_t>& dims);

}  // namespace numlab::h5
