// SPDX-License-Identifier: MIT
#include "core/hdf5.hpp"

#include <fmt/format.h>

namespace numlab::h5 {

namespace {
// Silence HDF5's own stderr dump: our errors carry the context instead.
struct QuietHdf5 {
  QuietHdf5() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }
};
QuietHdf5 const g_quiet;

herr_t close_type(hid_t id) { return H5Tclose(id); }
herr_t close_space(hid_t id) { return H5Sclose(id); }
herr_t close_attr(hid_t id) { return H5Aclose(id); }
herr_t close_set(hid_t id) { return H5Dclose(id); }
herr_t close_plist(hid_t id) { return H5Pclose(id); }

Handle string_type() {
  Handle t(H5Tcopy(H5T_C_S1), close_type, "H5Tcopy");
  check(H5Tset_size(t.get(), H5T_VARIABLE), "H5Tset_size");
  check(H5Tset_cset(t.get(), H5T_CSET_UTF8), "H5Tset_cset");
  return t;
}
}  // namespace

std::string error_reason() {
  // The deepest entry of HDF5's error stack says what went wrong; a system call's failure
  // carries "error message = '...'" (errno's text: disk full, permission denied).
  std::vector<std::string> descs;
  auto cb = [](unsigned, H5E_error2_t const* e, void* data) -> herr_t {
    if (e && e->desc) static_cast<std::vector<std::string>*>(data)->emplace_back(e->desc);
    return 0;
  };
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, cb, &descs);
  H5Eclear2(H5E_DEFAULT);
  for (auto it = descs.rbegin(); it != descs.rend(); ++it) {
    std::string const tag = "error message = '";
    auto b = it->find(tag);
    if (b == std::string::npos) continue;
    b += tag.size();
    auto e = it->find('\'', b);
    return it->substr(b, e == std::string::npos ? std::string::npos : e - b);
  }
  return descs.empty() ? std::string() : descs.back();
}

namespace {
std::string with_reason(std::string msg) {
  std::string const why = error_reason();
  return why.empty() ? msg : msg + ": " + why;
}
}  // namespace

void check(herr_t rc, char const* what) {
  if (rc < 0) throw Hdf5Error(with_reason(fmt::format("HDF5 call {} failed", what)));
}

Handle::Handle(hid_t id, Closer closer, char const* what) : id_(id), closer_(closer) {
  if (id < 0) throw Hdf5Error(with_reason(fmt::format("HDF5 call {} failed", what)));
}

Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    if (id_ >= 0 && closer_) closer_(id_);
    id_ = o.id_;
    closer_ = o.closer_;
    o.id_ = H5I_INVALID_HID;
  }
  return *this;
}

Handle::~Handle() {
  if (id_ >= 0 && closer_) closer_(id_);
}

void Handle::close() {
  if (id_ >= 0 && closer_) {
    hid_t id = id_;
    id_ = H5I_INVALID_HID;
    check(closer_(id), "close");
  }
}

Handle create_file(std::string const& path) {
  Handle fcpl(H5Pcreate(H5P_FILE_CREATE), close_plist, "H5Pcreate");
  hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl.get(), H5P_DEFAULT);
  if (id < 0) throw Hdf5Error(with_reason(fmt::format("cannot create HDF5 file '{}'", path)));
  return Handle(id, H5Fclose, "H5Fcreate");
}

Handle open_file(std::string const& path, bool writable) {
  hid_t id = H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) {
    std::string why = error_reason();
    throw Hdf5Error(fmt::format("cannot open HDF5 file '{}' ({})", path,
                                why.find("signature") != std::string::npos ? "not an HDF5 file"
                                : why.empty()                               ? "missing or not an HDF5 file"
                                                                            : why));
  }
  return Handle(id, H5Fclose, "H5Fopen");
}

Handle create_group(hid_t parent, std::string const& name) {
  return Handle(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose,
                "H5Gcreate2");
}

Handle open_group(hid_t parent, std::string const& name) {
  hid_t id = H5Gopen2(parent, name.c_str(), H5P_DEFAULT);
  if (id < 0) throw Hdf5Error(fmt::format("HDF5 group '{}' not found", name));
  return Handle(id, H5Gclose, "H5Gopen2");
}

bool exists(hid_t parent, std::string const& name) {
  htri_t r = H5Lexists(parent, name.c_str(), H5P_DEFAULT);
  check(r, "H5Lexists");
  return r > 0;
}

std::vector<std::string> child_names(hid_t group) {
  std::vector<std::string> names;
  // Unversioned names: H5Literate/H5L_info_t map to the 1.12+ versions there, 1.10's here.
  auto cb = [](hid_t, char const* name, H5L_info_t const*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
  };
  check(H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, nullptr, cb, &names), "H5Literate2");
  return names;
}

void write_attribute(hid_t obj, std::string const& name, ParamValue const& v) {
  if (H5Aexists(obj, name.c_str()) > 0) check(H5Adelete(obj, name.c_str()), "H5Adelete");
  Handle space(H5Screate(H5S_SCALAR), close_space, "H5Screate");
  if (auto p = std::get_if<std::string>(&v)) {
    Handle t = string_type();
    Handle a(H5Acreate2(obj, name.c_str(), t.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), close_attr,
             "H5Acreate2");
    char const* s = p->c_str();
    check(H5Awrite(a.get(), t.get(), &s), "H5Awrite");
    a.close();
    return;
  }
  hid_t file_type, mem_type;
  void const* ptr;
  std::int8_t b8;
  if (auto p = std::get_if<std::int64_t>(&v)) {
    file_type = H5T_STD_I64LE;
    mem_type = H5T_NATIVE_INT64;
    ptr = p;
  } else if (auto p = std::get_if<double>(&v)) {
    file_type = H5T_IEEE_F64LE;
    mem_type = H5T_NATIVE_DOUBLE;
    ptr = p;
  } else {
    // numpy/h5py read int8 attributes named like booleans fine; keep it simple.
    b8 = std::get<bool>(v) ? 1 : 0;
    file_type = H5T_STD_I8LE;
    mem_type = H5T_NATIVE_INT8;
    ptr = &b8;
  }
  Handle a(H5Acreate2(obj, name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT), close_attr,
           "H5Acreate2");
  check(H5Awrite(a.get(), mem_type, ptr), "H5Awrite");
  a.close();
}

ParamMap read_attributes(hid_t obj) {
  ParamMap out;
  std::vector<std::string> names;
  auto cb = [](hid_t, char const* name, H5A_info_t const*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
  };
  check(H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, nullptr, cb, &names), "H5Aiterate2");
  for (auto const& name : names) {
    Handle a(H5Aopen(obj, name.c_str(), H5P_DEFAULT), close_attr, "H5Aopen");
    Handle t(H5Aget_type(a.get()), close_type, "H5Aget_type");
    H5T_class_t cls = H5Tget_class(t.get());
    if (cls == H5T_STRING) {
      Handle mt = string_type();
      if (H5Tis_variable_str(t.get()) > 0) {
        char* s = nullptr;
        check(H5Aread(a.get(), mt.get(), &s), "H5Aread");
        out[name] = std::string(s ? s : "");
        Handle space(H5Aget_space(a.get()), close_space, "H5Aget_space");
        H5Dvlen_reclaim(mt.get(), space.get(), H5P_DEFAULT, &s);
      } else {
        std::size_t n = H5Tget_size(t.get());
        std::string s(n, '\0');
        Handle ft(H5Tcopy(t.get()), close_type, "H5Tcopy");
        check(H5Aread(a.get(), ft.get(), s.data()), "H5Aread");
        s.resize(s.find('\0') == std::string::npos ? n : s.find('\0'));
        out[name] = s;
      }
    } else if (cls == H5T_INTEGER) {
      std::int64_t x = 0;
      check(H5Aread(a.get(), H5T_NATIVE_INT64, &x), "H5Aread");
      if (H5Tget_size(t.get()) == 1)
        out[name] = bool(x != 0);
      else
        out[name] = x;
    } else if (cls == H5T_FLOAT) {
      double x = 0;
      check(H5Aread(a.get(), H5T_NATIVE_DOUBLE, &x), "H5Aread");
      out[name] = x;
    }
  }
  return out;
}

void write_dataset(hid_t group, std::string const& name, double const* data, std::vector<hsize_t> const& dims) {
  Handle space(H5Screate_simple(int(dims.size()), dims.data(), nullptr), close_space, "H5Screate_simple");
  hsize_t total = 1;
  for (auto d : dims) total *= d;
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), close_plist, "H5Pcreate");
  if (total >= 65536 && dims.size() >= 1) {
    // Chunk along the first axis so partial reads stay cheap; light compression.
    std::vector<hsize_t> chunk = dims;
    hsize_t row = total / dims[0];
    chunk[0] = std::max<hsize_t>(1, std::min<hsize_t>(dims[0], (1u << 17) / std::max<hsize_t>(row, 1)));
    check(H5Pset_chunk(dcpl.get(), int(chunk.size()), chunk.data()), "H5Pset_chunk");
    check(H5Pset_deflate(dcpl.get(), 1), "H5Pset_deflate");
  }
  Handle ds(H5Dcreate2(group, name.c_str(), H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
            close_set, "H5Dcreate2");
  if (total > 0) check(H5Dwrite(ds.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "H5Dwrite");
  ds.close();
}

void write_dataset(hid_t group, std::string const& name, std::vector<double> const& data) {
  write_dataset(group, name, data.data(), {hsize_t(data.size())});
}

std::vector<double> read_dataset(hid_t group, std::string const& name, std::vector<hsize_t>& dims) {
  Handle ds(H5Dopen2(group, name.c_str(), H5P_DEFAULT), close_set, "H5Dopen2");
  Handle space(H5Dget_space(ds.get()), close_space, "H5Dget_space");
  int rank = H5Sget_simple_extent_ndims(space.get());
  check(rank, "H5Sget_simple_extent_ndims");
  dims.assign(static_cast<std::size_t>(rank), 0);
  check(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr), "H5Sget_simple_extent_dims");
  Handle type(H5Dget_type(ds.get()), close_type, "H5Dget_type");
  H5T_class_t cls = H5Tget_class(type.get());
  if (cls != H5T_FLOAT && cls != H5T_INTEGER)
    throw Hdf5Error(fmt::format("dataset '{}' is not numeric", name));
  hssize_t n = H5Sget_simple_extent_npoints(space.get());
  std::vector<double> out(static_cast<std::size_t>(n));
  if (n > 0) check(H5Dread(ds.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), "H5Dread");
  return out;
}

std::vector<hsize_t> dataset_dims(hid_t group, std::string const& name) {
  Handle ds(H5Dopen2(group, name.c_str(), H5P_DEFAULT), close_set, "H5Dopen2");
  Handle space(H5Dget_space(ds.get()), close_space, "H5Dget_space");
  int rank = H5Sget_simple_extent_ndims(space.get());
  check(rank, "H5Sget_simple_extent_ndims");
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank), 0);
  check(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr), "H5Sget_simple_extent_dims");
  return dims;
}

std::vector<double> read_dataset(hid_t group, std::string const& name) {
  Handle ds(H5Dopen2(group, name.c_str(), H5P_DEFAULT), close_set, "H5Dopen2");
  Handle space(H5Dget_space(ds.get()), close_space, "H5Dget_space");
  hssize_t n = H5Sget_simple_extent_npoints(space.get());
  std::vector<double> out(static_cast<std::size_t>(n));
  if (n > 0) check(H5Dread(ds.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), "H5Dread");
  return out;
}

}  // namespace numlab::h5
